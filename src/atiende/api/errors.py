"""Every error the API answers with: a stable ``code`` for programs, a translated ``message`` for
people, and, for invalid input, the details field by field.

The codes are part of the API contract: they never change meaning and are listed in ``CODES``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from atiende.conversations.actions import MergeNotAllowed
from atiende.conversations.lifecycle import TransitionNotAllowed
from atiende.customers.actions import CustomerInUse
from atiende.customers.crn import InvalidCRN

CODES: dict[str, Any] = {
    "unauthenticated": _("A valid API token is needed (Authorization: Bearer …)."),
    "scope_missing": _("This token may not do that: it lacks the needed scope."),
    "permission_denied": _("You may not do that."),
    "not_found": _("Not found."),
    "invalid_request": _("The request is not valid."),
    "malformed_body": _("The request body is not valid JSON."),
    "validation_failed": _("The data was not accepted."),
    "transition_not_allowed": _("The conversation cannot move to that status."),
    "invalid_crn": _("That is not a valid customer reference number (CRN)."),
    "merge_not_allowed": _(
        "The conversations cannot be merged or split as they are now (merged or closed)."
    ),
    "customer_in_use": _(
        "The customer is still in use (it has conversations); merge it into another customer "
        "instead of deleting it."
    ),
    "invalid_cursor": _("The cursor is not valid; start again from the first page."),
    "idempotency_key_reused": _("This Idempotency-Key was already used for a different request."),
    "idempotency_in_progress": _(
        "A request with this Idempotency-Key is still being processed; retry shortly."
    ),
    "rate_limited": _("Too many requests; wait before trying again."),
    "method_not_allowed": _("This method is not allowed here."),
    "http_error": _("The request could not be served."),
}


class ErrorDetail(Schema):
    field: str
    code: str
    message: str


class ErrorOut(Schema):
    code: str
    message: str
    details: list[ErrorDetail] = []


# Every operation declares these, so the OpenAPI document lists every status it can answer.
COMMON_ERRORS: dict[int, Any] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, **COMMON_ERRORS, 409: ErrorOut}


class ApiError(Exception):
    """An error with one of the stable codes; raised anywhere below a router."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        assert code in CODES, code
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = details or []
        self.headers = headers or {}


def error_body(code: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(CODES[code]), "details": details or []}


def _respond(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(request, error_body(code, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _django_details(exc: DjangoValidationError) -> list[dict[str, str]]:
    details = []
    fields = exc.error_dict if hasattr(exc, "error_dict") else {"": exc.error_list}
    for field, errors in fields.items():
        for error in errors:
            message = error.message % error.params if error.params else error.message
            details.append(
                {"field": field, "code": error.code or "invalid", "message": str(message)}
            )
    return details


_LOCATION_PREFIXES = {"body", "query", "path", "header", "form", "file", "payload", "filters"}


def _ninja_details(exc: NinjaValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # ninja prefixes the source ("body", "query") and, for schemas, the handler's parameter
        # name (always "payload" or "filters" in our routers): keep the field's own path.
        while location and location[0] in _LOCATION_PREFIXES:
            location.pop(0)
        field = ".".join(location)
        details.append(
            {
                "field": field,
                "code": str(error.get("type", "invalid")),
                "message": str(error.get("msg", "")),
            }
        )
    return details


def install_error_handlers(api: NinjaAPI) -> None:
    def handle(exc_class: type[Exception]) -> Any:
        return api.exception_handler(exc_class)

    @handle(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return _respond(api, request, exc.status, exc.code, exc.details, exc.headers)

    @handle(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return _respond(
            api, request, 401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"}
        )

    @handle(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = {
            400: "malformed_body",
            401: "unauthenticated",
            403: "permission_denied",
            404: "not_found",
            405: "method_not_allowed",
            422: "invalid_request",
            429: "rate_limited",
        }.get(exc.status_code, "http_error")
        return _respond(api, request, exc.status_code, code)

    @handle(NinjaValidationError)
    def invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return _respond(api, request, 422, "invalid_request", _ninja_details(exc))

    @handle(DjangoValidationError)
    def validation_failed(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return _respond(api, request, 422, "validation_failed", _django_details(exc))

    @handle(PermissionDenied)
    def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return _respond(api, request, 403, "permission_denied")

    @handle(Http404)
    def http_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _respond(api, request, 404, "not_found")

    @handle(ObjectDoesNotExist)
    def does_not_exist(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
        return _respond(api, request, 404, "not_found")

    @handle(TransitionNotAllowed)
    def transition(request: HttpRequest, exc: TransitionNotAllowed) -> HttpResponse:
        return _respond(
            api,
            request,
            409,
            "transition_not_allowed",
            [{"field": "status", "code": "transition_not_allowed", "message": str(exc)}],
        )

    # State conflicts, not bad input: 409 with their own codes, the reason in the details.
    @handle(MergeNotAllowed)
    def merge_not_allowed(request: HttpRequest, exc: MergeNotAllowed) -> HttpResponse:
        return _respond(api, request, 409, "merge_not_allowed", _django_details(exc))

    @handle(CustomerInUse)
    def customer_in_use(request: HttpRequest, exc: CustomerInUse) -> HttpResponse:
        return _respond(api, request, 409, "customer_in_use", _django_details(exc))

    @handle(InvalidCRN)
    def invalid_crn(request: HttpRequest, exc: InvalidCRN) -> HttpResponse:
        return _respond(
            api,
            request,
            422,
            "invalid_crn",
            [{"field": "crn", "code": "invalid_crn", "message": str(exc)}],
        )
