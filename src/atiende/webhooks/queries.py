"""Reads of webhook configuration and deliveries, scoped to the brands a user configures."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.webhooks.models import WebhookDelivery, WebhookSubscription


def subscriptions_visible_to(user: Any) -> QuerySet[WebhookSubscription]:
    queryset = WebhookSubscription.objects.select_related("brand")
    brand_ids = brand_ids_with(user, Capability.CONFIGURE_BRAND)
    return queryset if brand_ids is None else queryset.filter(brand_id__in=brand_ids)


def deliveries_visible_to(user: Any) -> QuerySet[WebhookDelivery]:
    """The delivery log, newest first; the payload is deferred (lists do not need it)."""
    queryset = WebhookDelivery.objects.select_related("subscription").defer("payload")
    brand_ids = brand_ids_with(user, Capability.CONFIGURE_BRAND)
    return queryset if brand_ids is None else queryset.filter(brand_id__in=brand_ids)
