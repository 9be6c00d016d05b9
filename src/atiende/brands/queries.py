"""Reads of brands, scoped to the person asking."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atiende.accounts.permissions import brand_roles, is_unrestricted
from atiende.brands.models import Brand


def brands_visible_to(user: Any) -> QuerySet[Brand]:
    """Brands in which ``user`` holds any role (every active brand for superusers)."""
    brands = Brand.objects.filter(is_active=True)
    if is_unrestricted(user):
        return brands
    return brands.filter(pk__in=list(brand_roles(user)))
