"""What can happen to a customer record, as recorded in CustomerEvent.type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.core.events import record_event
from atiende.customers.models import Customer, CustomerEvent


class CustomerEventType(models.TextChoices):
    CREATED = "customer.created", _("Customer created")
    UPDATED = "customer.updated", _("Customer updated")
    IDENTITY_ADDED = "customer.identity_added", _("Contact detail added")
    IDENTITY_REMOVED = "customer.identity_removed", _("Contact detail removed")
    IDENTITY_FAILING = "customer.identity_failing", _("Contact detail failing")
    ORDER_RECORDED = "customer.order_recorded", _("Order recorded")
    ORGANIZATION_CREATED = "organization.created", _("Organization created")
    # A merge writes MERGED on the customer that survived and MERGED_AWAY on the duplicate.
    MERGED = "customer.merged", _("Duplicate customer merged into this one")
    MERGED_AWAY = "customer.merged_away", _("Merged into another customer")
    # Recorded on the brand (BrandEvent): the customer's own events go with it.
    DELETED = "customer.deleted", _("Customer deleted")


CustomerEventListener = Callable[[Customer, CustomerEvent], None]
_listeners: list[CustomerEventListener] = []


def listen_to_customer_events(listener: CustomerEventListener) -> None:
    """Call ``listener`` after every customer event, inside the same transaction.

    For features that keep state derived from customers (the search index). Registered from an
    app's ``ready()``.

    Inside a batch of inbound messages the event has no id yet (``core.events.record_event``):
    a listener that needs it waits for it with ``core.events.when_inserted``.
    """
    if listener not in _listeners:
        _listeners.append(listener)


def record_customer_event(
    customer: Customer, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> CustomerEvent:
    event = record_event(
        CustomerEvent(
            brand_id=customer.brand_id,
            customer=customer,
            type=type,
            payload=payload or {},
            **actor_fields(actor),
        )
    )
    for listener in _listeners:
        listener(customer, event)
    return event
