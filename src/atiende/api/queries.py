"""Reads of API tokens, scoped to the person asking."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.api.models import ApiToken


def tokens_visible_to(user: Any) -> QuerySet[ApiToken]:
    """One's own personal tokens and the integration tokens of brands one configures; every
    token for installation administrators."""
    tokens = ApiToken.objects.select_related("user", "brand")
    brand_ids = brand_ids_with(user, Capability.CONFIGURE_BRAND)
    if brand_ids is None:
        return tokens
    return tokens.filter(Q(user_id=getattr(user, "pk", None)) | Q(brand_id__in=brand_ids))
