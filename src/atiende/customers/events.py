"""What can happen to a customer record, as recorded in CustomerEvent.type."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.customers.models import Customer, CustomerEvent


class CustomerEventType(models.TextChoices):
    CREATED = "customer.created", _("Customer created")
    UPDATED = "customer.updated", _("Customer updated")
    IDENTITY_ADDED = "customer.identity_added", _("Contact detail added")
    IDENTITY_REMOVED = "customer.identity_removed", _("Contact detail removed")
    IDENTITY_FAILING = "customer.identity_failing", _("Contact detail failing")
    ORDER_RECORDED = "customer.order_recorded", _("Order recorded")
    ORGANIZATION_CREATED = "organization.created", _("Organization created")


def record_customer_event(
    customer: Customer, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> CustomerEvent:
    return CustomerEvent.objects.create(
        brand_id=customer.brand_id,
        customer=customer,
        type=type,
        payload=payload or {},
        **actor_fields(actor),
    )
