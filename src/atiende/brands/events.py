"""What can happen to a brand, as recorded in BrandEvent.type."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.brands.models import Brand, BrandEvent


class BrandEventType(models.TextChoices):
    CREATED = "brand.created", _("Brand created")
    UPDATED = "brand.updated", _("Brand updated")


def record_brand_event(
    brand: Brand, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> BrandEvent:
    return BrandEvent.objects.create(
        brand=brand, type=type, payload=payload or {}, **actor_fields(actor)
    )
