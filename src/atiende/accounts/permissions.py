"""Permission checks shared by actions and queries.

A staff user's capabilities come from their role in each brand; superusers hold every capability
in every brand; a :class:`~atiende.core.actors.SystemActor` (an inbound channel, a task) may do
anything its caller was allowed to start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from django.core.exceptions import PermissionDenied

from atiende.accounts.roles import ROLE_CAPABILITIES
from atiende.core.actors import SystemActor
from atiende.core.prepared import PreparedRead

if TYPE_CHECKING:
    from atiende.accounts.models import User

Actor: TypeAlias = "User | SystemActor"
# A membership as reads bring it along: (brand id, role, whether the brand is active); all None
# for a user without any, from an outer join.
Membership: TypeAlias = tuple[int | None, str | None, bool | None]

_CACHE_ATTRIBUTE = "_atiende_brand_roles"


def _memberships_of(user_id: int) -> Any:
    from atiende.accounts.models import BrandMembership

    return (
        BrandMembership.objects.filter(user_id=user_id)
        .order_by()
        .values_list("brand_id", "role", "brand__is_active")
    )


# Read on nearly every request of a staff user: compiled once (core/prepared.py).
_MEMBERSHIPS = PreparedRead(_memberships_of, user_id=int)


def roles_of_memberships(memberships: Iterable[Membership]) -> dict[int, str]:
    """{brand id: role} of ``memberships``: a role counts only in an active brand. The one place
    that says so, for every read that brings memberships along."""
    return {
        brand_id: role
        for brand_id, role, brand_is_active in memberships
        if brand_id is not None and role is not None and brand_is_active
    }


def brand_roles(user: Any) -> dict[int, str]:
    """{brand id: role} for a staff user, read once per user object (i.e. once per request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = roles_of_memberships(_MEMBERSHIPS.rows(user_id=user.pk))
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return cached


def remember_brand_roles(user: Any, memberships: Iterable[Membership]) -> None:
    """Keep the roles of ``memberships`` (as :func:`roles_of_memberships` reads them) as
    ``user``'s for this request, when a read of the user's own brought them along (the API
    token's, one statement for both)."""
    setattr(user, _CACHE_ATTRIBUTE, roles_of_memberships(memberships))


def forget_brand_roles(user: Any) -> None:
    """Drop the cached roles after a membership changes."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def is_unrestricted(actor: Any) -> bool:
    """System actors and active superusers are not limited to some brands."""
    if isinstance(actor, SystemActor):
        return True
    return bool(
        getattr(actor, "is_authenticated", False) and actor.is_active and actor.is_superuser
    )


def brand_ids_with(user: Any, capability: str) -> set[int] | None:
    """The brands in which ``user`` holds ``capability``; ``None`` means every brand."""
    if is_unrestricted(user):
        return None
    return {
        brand_id
        for brand_id, role in brand_roles(user).items()
        if capability in ROLE_CAPABILITIES[role]
    }


def can(actor: Any, capability: str, brand_id: int) -> bool:
    if is_unrestricted(actor):
        return True
    role = brand_roles(actor).get(brand_id)
    return role is not None and capability in ROLE_CAPABILITIES[role]


def require(actor: Any, capability: str, brand_id: int) -> None:
    """Raise PermissionDenied unless ``actor`` holds ``capability`` in the brand."""
    if not can(actor, capability, brand_id):
        raise PermissionDenied(f"{actor} may not {capability} in brand {brand_id}")


def actor_fields(actor: Any) -> dict[str, Any]:
    """The ``actor``/``actor_label`` values an event row records for ``actor``."""
    if isinstance(actor, SystemActor):
        return {"actor": None, "actor_label": actor.label}
    return {"actor": actor, "actor_label": ""}
