"""Issuing and revoking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from atiende.accounts.models import User
from atiende.accounts.permissions import Actor, actor_fields, is_unrestricted, require
from atiende.accounts.roles import Capability
from atiende.api.models import ApiToken, ApiTokenEvent, Scope
from atiende.brands.models import Brand
from atiende.core.actions import action

TOKEN_PREFIX = "atd_"  # noqa: S105 (a marker that makes leaked tokens recognisable, not a secret)
VISIBLE_PREFIX_LENGTH = 12


def hash_token(secret: str) -> str:
    """The stored form of a token: the SHA-256 of its 256-bit random secret (no salt is needed:
    the secret is never chosen by a person)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    # Shown once, never stored.
    secret: str


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in wanted if scope not in Scope.values]
    if unknown or not wanted:
        raise ValidationError(
            _("Scopes are read, write and admin; got %(scopes)s."),
            code="invalid_scopes",
            params={"scopes": ", ".join(unknown) or "-"},
        )
    return wanted


def _record(token: ApiToken, type: str, actor: Actor, payload: dict[str, Any]) -> None:
    ApiTokenEvent.objects.create(
        token=token, brand_id=token.brand_id, type=type, payload=payload, **actor_fields(actor)
    )


@action
def issue_token(
    *,
    actor: Actor,
    name: str,
    user: User | None = None,
    brand: Brand | None = None,
    scopes: Iterable[str] = (Scope.READ, Scope.WRITE),
    expires_at: datetime | None = None,
) -> IssuedToken:
    """A new token; its secret is in the result and nowhere else.

    Exactly one of ``user`` (a personal token, issued to oneself or by an installation
    administrator) and ``brand`` (an integration token, issued by someone who configures the
    brand) is given.
    """
    if (user is None) == (brand is None):
        raise ValidationError(
            _("A token belongs either to a person or to a brand."), code="token_owner"
        )
    if user is not None and not (is_unrestricted(actor) or actor == user):
        raise PermissionDenied("Only installation administrators issue tokens for others")
    if user is not None and not user.is_active:
        raise ValidationError(_("The account is not active."), code="inactive_user")
    if brand is not None:
        require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    name = name.strip()[:120] or _("API token")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        user=user,
        brand=brand,
        scopes=_clean_scopes(scopes),
        prefix=secret[:VISIBLE_PREFIX_LENGTH],
        hash=hash_token(secret),
        created_by=actor if isinstance(actor, User) else None,
        expires_at=expires_at,
    )
    _record(
        token,
        "token.issued",
        actor,
        {"name": name, "scopes": token.scopes, "prefix": token.prefix, "user": token.user_id},
    )
    return IssuedToken(token=token, secret=secret)


@action
def revoke_token(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Stop a token from working, at once and for good (revoking twice changes nothing)."""
    if token.brand_id is not None:
        require(actor, Capability.CONFIGURE_BRAND, token.brand_id)
    elif not (is_unrestricted(actor) or actor == token.user):
        raise PermissionDenied("Only the owner or an installation administrator revokes a token")
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _record(token, "token.revoked", actor, {"prefix": token.prefix})
    return token
