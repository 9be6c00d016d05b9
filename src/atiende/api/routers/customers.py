"""Customers (create, read, update, look up by CRN, email or phone; identities; merge
duplicates; delete those created by mistake) and organizations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from atiende.accounts.roles import Capability
from atiende.api.auth import caller_of
from atiende.api.errors import COMMON_ERRORS, WRITE_ERRORS, ApiError
from atiende.api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from atiende.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from atiende.api.references import (
    brand_for,
    customer_for,
    organization_for,
    organization_in_brand,
)
from atiende.api.schemas import (
    CustomerOut,
    Id,
    IdentityOut,
    InputBody,
    Moment,
    Output,
    customer_out,
    identity_out,
)
from atiende.customers import actions
from atiende.customers.identities import normalize_identity
from atiende.customers.models import CustomerIdentity
from atiende.customers.queries import (
    customer_by_identity_for,
    customers_visible_to,
    organizations_visible_to,
)
from atiende.customers.queries import customer_for as customer_by_crn_for

router = Router(tags=["customers"])
organizations_router = Router(tags=["organizations"])

IdentityKind = Literal["email", "phone", "social"]


class IdentityIn(InputBody):
    kind: IdentityKind
    value: str = Field(..., min_length=1, max_length=254)
    network: str = Field("", max_length=32)
    is_primary: bool = False


class CustomerFields(InputBody):
    organization_id: Id | None = None
    language: Literal["", "es", "en"] | None = None
    address_line: str | None = Field(None, max_length=255)
    city: str | None = Field(None, max_length=120)
    region: str | None = Field(None, max_length=120)
    postal_code: str | None = Field(None, max_length=16)
    country: str | None = Field(None, max_length=2)
    consent_email: bool | None = None
    consent_phone: bool | None = None
    consent_marketing: bool | None = None
    custom_attributes: dict[str, Any] | None = None


class CustomerIn(CustomerFields):
    brand: str = Field(..., description="The brand's slug.")
    name: str = Field("", max_length=200)
    identities: list[IdentityIn] = []


class CustomerPatch(CustomerFields):
    name: str | None = Field(None, max_length=200)


class CustomerPage(Output):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerFilters(Schema):
    brand: str | None = Field(None, description="A brand's slug.")
    organization: Id | None = Field(None, description="An organization's id.")
    created_after: Moment | None = None
    created_before: Moment | None = None
    cursor: str | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class CustomerMergeIn(InputBody):
    into: Id = Field(..., description="The id of the customer that survives, of the same brand.")


class OrganizationOut(Output):
    id: int
    brand: str
    name: str
    domain: str
    notes: str
    created_at: datetime


class OrganizationIn(InputBody):
    brand: str = Field(..., description="The brand's slug.")
    name: str = Field(..., min_length=1, max_length=200)
    domain: str = Field("", max_length=200)
    notes: str = ""


class OrganizationPage(Output):
    items: list[OrganizationOut]
    next_cursor: str | None


def _changes(payload: CustomerFields, brand_id: int) -> dict[str, Any]:
    """The fields the request set (null for a text field means empty)."""
    changes: dict[str, Any] = {}
    for field in payload.model_fields_set:
        value = getattr(payload, field)
        if field in {"brand", "identities"}:
            continue
        if field == "organization_id":
            changes["organization"] = (
                organization_in_brand(brand_id, value) if value is not None else None
            )
        elif field == "custom_attributes":
            changes[field] = value or {}
        elif field.startswith("consent_"):
            if value is not None:
                changes[field] = value
        else:
            changes[field] = value or ""
    return changes


def _identity_inputs(payload: list[IdentityIn]) -> list[actions.IdentityInput]:
    return [
        actions.IdentityInput(
            kind=item.kind, value=item.value, network=item.network, is_primary=item.is_primary
        )
        for item in payload
    ]


@router.get("", response={200: CustomerPage, **COMMON_ERRORS}, summary="List customers")
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]) -> CustomerPage:
    caller = caller_of(request)
    rows = caller.limit(customers_visible_to(caller.actor)).prefetch_related("identities")
    if filters.brand:
        rows = rows.filter(brand__slug=filters.brand)
    if filters.organization is not None:
        rows = rows.filter(organization_id=filters.organization)
    if filters.created_after is not None:
        rows = rows.filter(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        rows = rows.filter(created_at__lt=filters.created_before)
    page, next_cursor = paginate(
        rows, order="-created_at", cursor=filters.cursor, limit=filters.limit
    )
    return CustomerPage(items=[customer_out(row) for row in page], next_cursor=next_cursor)


@router.get(
    "/lookup",
    response={200: CustomerOut, **COMMON_ERRORS},
    summary="Find a customer by CRN, email or phone (exactly one of them)",
)
def lookup_customer(
    request: HttpRequest,
    crn: str | None = Query(None, max_length=16),
    email: str | None = Query(None, max_length=254),
    phone: str | None = Query(None, max_length=64),
    brand: str | None = Query(None, description="Brand slug, to read a local phone number."),
) -> CustomerOut:
    caller = caller_of(request)
    given = [(kind, value) for kind, value in (("crn", crn), ("email", email), ("phone", phone))]
    present = [(kind, value) for kind, value in given if value]
    if len(present) != 1:
        # Each parameter is well formed on its own; the rule between them is the domain's, one
        # a query's schema cannot state (hence not "invalid_request").
        raise ApiError(
            422,
            "validation_failed",
            details=[
                {
                    "field": "crn",
                    "code": "one_of",
                    "message": _("Give exactly one of crn, email and phone."),
                }
            ],
        )
    kind, value = present[0]
    if kind == "crn":
        found = customer_by_crn_for(caller.actor, crn=str(value))
        if caller.brand_id is not None and found.brand_id != caller.brand_id:
            raise ApiError(404, "not_found")
        return customer_out(customer_for(caller, found.pk))
    region = ""
    if brand:
        region = brand_for(caller, brand, Capability.VIEW_CUSTOMERS).country
    normalized = normalize_identity(kind, str(value), default_region=region)
    if caller.brand_id is not None:
        identity = CustomerIdentity.objects.filter(
            brand_id=caller.brand_id, kind=kind, value=normalized, network=""
        ).first()
        if identity is None:
            raise ApiError(404, "not_found")
        return customer_out(customer_for(caller, identity.customer_id))
    found = customer_by_identity_for(caller.actor, kind=kind, value=normalized)
    return customer_out(customer_for(caller, found.pk))


@router.post("", response={201: CustomerOut, **WRITE_ERRORS}, summary="Create a customer")
def create_customer(
    request: HttpRequest,
    payload: CustomerIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, CustomerOut]:
        brand = brand_for(caller, payload.brand, Capability.VIEW_CUSTOMERS)
        fields = _changes(payload, brand.pk)
        fields.pop("name", None)
        customer = actions.create_customer(
            brand=brand,
            actor=caller.actor,
            name=payload.name,
            identities=_identity_inputs(payload.identities),
            **fields,
        )
        return 201, customer_out(customer_for(caller, customer.pk))

    return idempotent(request, idempotency_key, payload, run)


@router.get(
    "/{customer_id}", response={200: CustomerOut, **COMMON_ERRORS}, summary="Get a customer"
)
def get_customer(request: HttpRequest, customer_id: Id) -> CustomerOut:
    return customer_out(customer_for(caller_of(request), customer_id))


@router.patch(
    "/{customer_id}", response={200: CustomerOut, **WRITE_ERRORS}, summary="Update a customer"
)
def update_customer(request: HttpRequest, customer_id: Id, payload: CustomerPatch) -> CustomerOut:
    caller = caller_of(request)
    customer = customer_for(caller, customer_id)
    changes = _changes(payload, customer.brand_id)
    if changes:
        actions.update_customer(customer=customer, actor=caller.actor, **changes)
    return customer_out(customer_for(caller, customer_id))


@router.post(
    "/{customer_id}/identities",
    response={201: IdentityOut, **WRITE_ERRORS},
    summary="Add a way to reach the customer",
)
def add_identity(
    request: HttpRequest,
    customer_id: Id,
    payload: IdentityIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, IdentityOut]:
        customer = customer_for(caller, customer_id)
        (identity,) = _identity_inputs([payload])
        created = actions.add_customer_identity(
            customer=customer, identity=identity, actor=caller.actor
        )
        return 201, identity_out(created)

    return idempotent(request, idempotency_key, payload, run)


@router.delete(
    "/{customer_id}/identities/{identity_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Remove a way to reach the customer",
)
def remove_identity(request: HttpRequest, customer_id: Id, identity_id: Id) -> Status:
    caller = caller_of(request)
    customer = customer_for(caller, customer_id)
    identity = CustomerIdentity.objects.select_related("customer").get(
        pk=identity_id, customer=customer
    )
    actions.remove_customer_identity(identity=identity, actor=caller.actor)
    return Status(204, None)


@router.post(
    "/{customer_id}/merge",
    response={200: CustomerOut, **WRITE_ERRORS},
    summary="Merge this duplicate customer into another; answers the one that survives",
    description="Identities, conversations and orders move to `into`, whose empty fields are "
    "filled from this one. This one keeps its CRN, which then finds the survivor.",
)
def merge_customer(
    request: HttpRequest,
    customer_id: Id,
    payload: CustomerMergeIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, CustomerOut]:
        source = customer_for(caller, customer_id)
        target = (
            caller.limit(customers_visible_to(caller.actor))
            .filter(pk=payload.into, brand_id=source.brand_id)
            .first()
        )
        if target is None:
            raise ValidationError(
                {
                    "into": ValidationError(
                        _("There is no such customer in this brand."), code="unknown_reference"
                    )
                }
            )
        survivor = actions.merge_customers(source=source, target=target, actor=caller.actor)
        return 200, customer_out(customer_for(caller, survivor.pk))

    return idempotent(request, idempotency_key, payload, run)


@router.delete(
    "/{customer_id}",
    response={204: None, **WRITE_ERRORS},
    summary="Delete a customer who has no conversations",
    description="Their identities and orders go too. 409 `customer_in_use` when the customer "
    "has conversations (merge it into another customer instead).",
)
def delete_customer(request: HttpRequest, customer_id: Id) -> Status:
    caller = caller_of(request)
    actions.delete_customer(customer=customer_for(caller, customer_id), actor=caller.actor)
    return Status(204, None)


def _organization_out(organization: Any) -> OrganizationOut:
    return OrganizationOut(
        id=organization.pk,
        brand=organization.brand.slug,
        name=organization.name,
        domain=organization.domain,
        notes=organization.notes,
        created_at=organization.created_at,
    )


@organizations_router.get(
    "", response={200: OrganizationPage, **COMMON_ERRORS}, summary="List organizations"
)
def list_organizations(
    request: HttpRequest,
    brand: str | None = Query(None, description="A brand's slug."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> OrganizationPage:
    caller = caller_of(request)
    rows = caller.limit(organizations_visible_to(caller.actor))
    if brand:
        rows = rows.filter(brand__slug=brand)
    page, next_cursor = paginate(rows, order="id", cursor=cursor, limit=limit)
    return OrganizationPage(items=[_organization_out(row) for row in page], next_cursor=next_cursor)


@organizations_router.post(
    "", response={201: OrganizationOut, **WRITE_ERRORS}, summary="Create an organization"
)
def create_organization(
    request: HttpRequest,
    payload: OrganizationIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, OrganizationOut]:
        brand = brand_for(caller, payload.brand, Capability.VIEW_CUSTOMERS)
        organization = actions.create_organization(
            brand=brand,
            name=payload.name,
            actor=caller.actor,
            domain=payload.domain,
            notes=payload.notes,
        )
        return 201, _organization_out(organization)

    return idempotent(request, idempotency_key, payload, run)


@organizations_router.get(
    "/{organization_id}",
    response={200: OrganizationOut, **COMMON_ERRORS},
    summary="Get an organization",
)
def get_organization(request: HttpRequest, organization_id: Id) -> OrganizationOut:
    return _organization_out(organization_for(caller_of(request), organization_id))
