"""Bearer tokens: who is calling, as whom they act, and where.

A personal token acts as its staff user: the same queries and actions as the web interface, with
the user's roles. An integration token acts as a system actor, which actions let do anything, so
everything an integration reads or names is first limited to the token's brand here
(:meth:`Caller.limit`); another brand's objects are then simply not found (404).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone, translation
from ninja.security import HttpBearer

from atiende.accounts.models import User
from atiende.accounts.permissions import remember_brand_roles
from atiende.api.actions import hash_token
from atiende.api.errors import ApiError
from atiende.api.models import ApiToken, Scope
from atiende.api.ratelimit import check_rate
from atiende.core.actors import SystemActor
from atiende.core.prepared import PreparedRead

M = TypeVar("M", bound=Model)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_used_at is written at most this often per token, not on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    token: ApiToken
    actor: User | SystemActor
    # Set for integration tokens: the only brand they reach.
    brand_id: int | None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def limit(self, queryset: QuerySet[M], brand_field: str = "brand_id") -> QuerySet[M]:
        """``queryset`` (already scoped to the actor by an app's queries) limited to the token's
        brand for integration tokens."""
        if self.brand_id is None:
            return queryset
        return queryset.filter(**{brand_field: self.brand_id})

    def narrow(self, brand_ids: set[int] | None) -> set[int] | None:
        """``brand_ids`` (the actor's, ``None`` for every brand) limited to the token's brand for
        integration tokens: :meth:`limit` for reads that state their scope as brand ids."""
        if self.brand_id is None:
            return brand_ids
        return {self.brand_id} if brand_ids is None else brand_ids & {self.brand_id}

    def may(self, scope: str) -> bool:
        if Scope.ADMIN in self.scopes:
            return True
        if scope == Scope.READ:
            return bool(self.scopes & {Scope.READ, Scope.WRITE})
        return scope in self.scopes


def caller_of(request: HttpRequest) -> Caller:
    caller = getattr(request, "auth", None)
    assert isinstance(caller, Caller), "the route is not behind TokenAuth"
    return caller


def _caller_for(token: ApiToken) -> Caller:
    scopes = frozenset(token.scopes)
    if token.user is not None:
        return Caller(token=token, actor=token.user, brand_id=None, scopes=scopes)
    return Caller(
        token=token,
        actor=SystemActor(label=f"api:{token.prefix}"),
        brand_id=token.brand_id,
        scopes=scopes,
    )


_TOKEN_FIELDS = ApiToken._meta.concrete_fields
_USER_FIELDS = User._meta.concrete_fields
# Where each part of the token's row starts: the token, the user, the brand's state, then a
# membership (brand id, role, brand's state) as accounts.permissions.roles_of_memberships reads it.
_USER_AT = len(_TOKEN_FIELDS)
_BRAND_STATE_AT = _USER_AT + len(_USER_FIELDS)
_MEMBERSHIP_AT = _BRAND_STATE_AT + 1
# Every API request starts here: the token, its user (every column: the user acts in the
# request), whether the token's brand is active, and the user's roles (a row per membership),
# in one statement compiled once (core/prepared.py).
_TOKEN_BY_HASH = PreparedRead(
    lambda digest: (
        ApiToken.objects.filter(hash=digest)
        .order_by()
        .values_list(
            *(field.name for field in _TOKEN_FIELDS),
            *(f"user__{field.name}" for field in _USER_FIELDS),
            "brand__is_active",
            "user__memberships__brand_id",
            "user__memberships__role",
            "user__memberships__brand__is_active",
        )
    ),
    digest=str,
)


def token_with_hash(digest: str) -> tuple[ApiToken, bool] | None:
    """The token with hash ``digest`` with its user and the user's roles loaded, and whether its
    brand (if it has one) is active; ``None`` if no token has that hash."""
    rows = _TOKEN_BY_HASH.rows(digest=digest)
    if not rows:
        return None
    row = rows[0]
    token_values = row[:_USER_AT]
    user_values = row[_USER_AT:_BRAND_STATE_AT]
    token = ApiToken.from_db("default", [field.attname for field in _TOKEN_FIELDS], token_values)
    if token.user_id is not None:
        user = User.from_db("default", [field.attname for field in _USER_FIELDS], user_values)
        remember_brand_roles(user, (tuple(each[_MEMBERSHIP_AT:]) for each in rows))
        token.user = user
    return token, row[_BRAND_STATE_AT] is not False


def _refuse_nul_characters(request: HttpRequest) -> None:
    """PostgreSQL cannot store U+0000 in text; refuse it at the door as invalid input rather
    than fail in the database (SQLite would store it, so both engines now answer alike)."""
    query = request.META.get("QUERY_STRING", "")
    body = request.body if request.method not in SAFE_METHODS else b""
    if "%00" in query or b"\\u0000" in body or b"\x00" in body:
        raise ApiError(
            422,
            "invalid_request",
            details=[{"field": "", "code": "nul_character", "message": "U+0000"}],
        )


class TokenAuth(HttpBearer):
    """``Authorization: Bearer atd_…``; then the token's scope for the method, then its rate."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        lookup = token_with_hash(hash_token(token))
        if lookup is None:
            return None
        found, brand_is_active = lookup
        now = timezone.now()
        if not found.is_usable(now) or not brand_is_active:
            return None
        if found.user is not None and not found.user.is_active:
            return None
        caller = _caller_for(found)
        check_rate(found.pk)
        _refuse_nul_characters(request)
        if found.user is not None and found.user.language:
            # As in the web interface, a person's chosen language wins over Accept-Language.
            translation.activate(found.user.language)
            request.LANGUAGE_CODE = found.user.language
        needed = Scope.READ if request.method in SAFE_METHODS else Scope.WRITE
        if not caller.may(needed):
            raise ApiError(403, "scope_missing")
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        return caller
