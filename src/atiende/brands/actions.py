"""Creating and configuring brands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from atiende.accounts.permissions import Actor, is_unrestricted, require
from atiende.accounts.roles import Capability
from atiende.brands.events import BrandEventType, record_brand_event
from atiende.brands.models import Brand
from atiende.core.actions import action

EDITABLE_BRAND_FIELDS = frozenset(
    {"name", "number_prefix", "default_language", "country", "time_zone", "is_active"}
)


def _check_time_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("%(zone)s is not a time zone."), code="invalid_time_zone", params={"zone": name}
        ) from None


@action
def create_brand(*, slug: str, name: str, number_prefix: str, actor: Actor, **fields: Any) -> Brand:
    """A new client brand; only installation administrators (superusers) may add one."""
    if not is_unrestricted(actor):
        raise PermissionDenied("Only installation administrators may create brands")
    unknown = set(fields) - EDITABLE_BRAND_FIELDS
    if unknown:
        raise TypeError(f"Unknown brand fields: {', '.join(sorted(unknown))}")
    brand = Brand(slug=slug, name=name, number_prefix=number_prefix.upper(), **fields)
    brand.full_clean()
    _check_time_zone(brand.time_zone)
    brand.save()
    record_brand_event(brand, BrandEventType.CREATED, actor=actor, payload={"slug": slug})
    return brand


@action
def update_brand(*, brand: Brand, actor: Actor, **changes: Any) -> Brand:
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    unknown = set(changes) - EDITABLE_BRAND_FIELDS
    if unknown:
        raise TypeError(f"Unknown brand fields: {', '.join(sorted(unknown))}")
    brand = Brand.objects.select_for_update().get(pk=brand.pk)
    before = {field: getattr(brand, field) for field in changes}
    for field, value in changes.items():
        setattr(brand, field, value)
    brand.full_clean()
    _check_time_zone(brand.time_zone)
    changed = [field for field in changes if before[field] != getattr(brand, field)]
    if changed:
        brand.save(update_fields=[*changed, "updated_at"])
        record_brand_event(
            brand,
            BrandEventType.UPDATED,
            actor=actor,
            payload={
                "changes": {field: [before[field], getattr(brand, field)] for field in changed}
            },
        )
    return brand
