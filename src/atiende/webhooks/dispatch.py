"""From things recorded elsewhere to webhook deliveries: which events, and what their payload says.

Conversation and customer events arrive through their apps' listeners, inside the action that
recorded them; a delivery is enqueued once the event row has its id (at once, or at the end of a
batch of inbound messages). SLA warnings and breaches (``SlaEvent``) have no such hook, so a
``post_save`` receiver on their append-only rows stands in for one: those rows are only ever
inserted, by actions, one at a time, so "created" fires once per event and inside that action's
transaction.

The payload's ``data`` is taken when the event happens, so a retry or a redelivery sends what
was true then. Internal notes never appear: no webhook event type carries them, and message
data is only read for messages to or from the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet

from atiende.brands.models import Brand
from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import Conversation, ConversationEvent, Direction, Message
from atiende.core.batching import batch_memo
from atiende.core.events import EventRecord, when_inserted
from atiende.core.prepared import PreparedRead
from atiende.customers.events import CustomerEventType
from atiende.customers.models import Customer, CustomerEvent
from atiende.sla.models import SlaEvent
from atiende.webhooks import actions, registry
from atiende.webhooks.models import WebhookSubscription

_CONVERSATION_TYPES: dict[str, str] = {
    ConversationEventType.CREATED: registry.CONVERSATION_CREATED,
    ConversationEventType.MESSAGE_RECEIVED: registry.MESSAGE_RECEIVED,
    ConversationEventType.MESSAGE_SENT: registry.MESSAGE_SENT,
    ConversationEventType.STATUS_CHANGED: registry.STATUS_CHANGED,
    ConversationEventType.ASSIGNED: registry.ASSIGNED,
}
_SLA_TYPES = {registry.SLA_WARNING, registry.SLA_BREACHED}


def receiving_subscriptions(brand_id: int, event_type: str) -> list[WebhookSubscription]:
    """The brand's subscriptions that are on, not paused, and asked for ``event_type``."""
    return _asking_for(_receiving(brand_id), event_type)


def _receiving(brand_id: int) -> list[WebhookSubscription]:
    # Read once per batch of inbound messages: the service chain never writes subscriptions.
    return batch_memo(("webhook_subscriptions", brand_id), lambda: _read_receiving(brand_id))


_RECEIVING_FIELDS = ("id", "brand_id", "event_types")


def _receiving_read(brand_id: int) -> QuerySet[Any]:
    # In the order they were made (the model's own order joins the brands' table for its name).
    return (
        WebhookSubscription.objects.filter(
            brand_id=brand_id, is_active=True, paused_at__isnull=True
        )
        .order_by("pk")
        .values_list(*_RECEIVING_FIELDS)
    )


# Read for every batch of inbound messages: compiled once, as building the query cost more
# than answering it (most brands have no subscription).
_RECEIVING = PreparedRead(_receiving_read, brand_id=int)


def _read_receiving(brand_id: int) -> list[WebhookSubscription]:
    return [
        WebhookSubscription.from_db(DEFAULT_DB_ALIAS, _RECEIVING_FIELDS, row)
        for row in _RECEIVING.rows(brand_id=brand_id)
    ]


def _asking_for(
    subscriptions: list[WebhookSubscription], event_type: str
) -> list[WebhookSubscription]:
    # Matched here rather than in SQL: JSON containment is not portable to SQLite, and a brand
    # has a handful of subscriptions.
    return [
        subscription for subscription in subscriptions if event_type in subscription.event_types
    ]


def _webhook_types(event: ConversationEvent) -> list[str]:
    """A reply or a customer message that changes the status is also a status change, for
    subscribers that follow only status changes."""
    kind = _CONVERSATION_TYPES.get(event.type)
    if kind is None:
        return []
    kinds = [kind]
    changes = (event.payload or {}).get("changes") or {}
    if kind in (registry.MESSAGE_RECEIVED, registry.MESSAGE_SENT) and "status" in changes:
        kinds.append(registry.STATUS_CHANGED)
    return kinds


def on_conversation_event(conversation: Conversation, event: ConversationEvent) -> None:
    event_types = _webhook_types(event)
    if not event_types:
        return
    receiving = _receiving(conversation.brand_id)
    data: dict[str, Any] | None = None
    for event_type in event_types:
        subscriptions = _asking_for(receiving, event_type)
        if not subscriptions:
            continue
        if data is None:
            data = conversation_event_data(conversation, event)
        # Named by the event's id, which an event recorded in a batch of inbound messages gets
        # at the batch's end (core.events.record_event).
        pending = _Pending(
            conversation.brand, event_type, "conversation_event", data, subscriptions
        )
        when_inserted(event, pending.enqueue)


def on_customer_event(customer: Customer, event: CustomerEvent) -> None:
    if event.type != CustomerEventType.CREATED:
        return
    subscriptions = receiving_subscriptions(customer.brand_id, registry.CUSTOMER_CREATED)
    if not subscriptions:
        return
    data = {"customer": {"id": customer.pk, "crn": customer.crn}}
    pending = _Pending(
        customer.brand, registry.CUSTOMER_CREATED, "customer_event", data, subscriptions
    )
    when_inserted(event, pending.enqueue)


@dataclass(frozen=True)
class _Pending:
    """A delivery of an event: its data taken when it happened, enqueued once the event row has
    its id (named by it)."""

    brand: Brand
    event_type: str
    id_prefix: str
    data: dict[str, Any]
    subscriptions: list[WebhookSubscription]

    def enqueue(self, event: EventRecord) -> None:
        actions.enqueue_deliveries(
            brand=self.brand,
            event_type=self.event_type,
            event_id=f"{self.id_prefix}:{event.pk}",
            occurred_at=event.created_at,
            data=self.data,
            subscriptions=self.subscriptions,
            actor=actions.WEBHOOKS_ACTOR,
        )


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "number": conversation.number,
        "reference": conversation.reference,
        "status": conversation.status,
        "priority": conversation.priority,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "customer_id": conversation.customer_id,
        "subject": conversation.subject,
        "channel": conversation.channel,
    }


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "direction": message.direction,
        "channel": message.channel,
        "text": message.body_text,
        "created_at": message.created_at.isoformat(),
    }


def conversation_event_data(conversation: Conversation, event: ConversationEvent) -> dict[str, Any]:
    payload = event.payload or {}
    data: dict[str, Any] = {"conversation": conversation_data(conversation)}
    message_id = payload.get("message")
    if message_id is not None:
        message = (
            Message.objects.filter(pk=message_id)
            .exclude(direction=Direction.INTERNAL)
            .only("id", "direction", "channel", "body_text", "created_at")
            .first()
        )
        if message is not None:
            data["message"] = message_data(message)
    if payload.get("changes"):
        data["changes"] = payload["changes"]
    if payload.get("follow_up_of"):
        data["follow_up_of"] = payload["follow_up_of"]
    return data


def on_sla_event_saved(sender: Any, instance: SlaEvent, created: bool, **kwargs: Any) -> None:
    if not created or kwargs.get("raw") or instance.type not in _SLA_TYPES:
        return
    subscriptions = receiving_subscriptions(instance.brand_id, instance.type)
    if not subscriptions:
        return
    conversation = Conversation.objects.select_related("brand").get(pk=instance.conversation_id)
    payload = instance.payload or {}
    due_at = payload.get("due_at")
    if isinstance(due_at, datetime):
        due_at = due_at.isoformat()
    data = {
        "conversation": conversation_data(conversation),
        "sla": {
            "metric": payload.get("metric"),
            "cycle": payload.get("cycle"),
            "due_at": due_at,
            "target_minutes": payload.get("target_minutes"),
        },
    }
    # Saved already: its id is there.
    _Pending(conversation.brand, instance.type, "sla_event", data, subscriptions).enqueue(instance)
