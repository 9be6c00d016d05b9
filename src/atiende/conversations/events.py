"""What can happen to a conversation, as recorded in ConversationEvent.type.

Each action writes exactly one event. Side effects of the same change (a customer message that
reopens a solved case) travel in the event's payload under ``changes`` as ``[before, after]``
pairs, so the timeline, webhooks and analytics read one row per thing that happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.conversations.models import Conversation, ConversationEvent


class ConversationEventType(models.TextChoices):
    CREATED = "conversation.created", _("Conversation created")
    MESSAGE_RECEIVED = "message.received", _("Message received")
    MESSAGE_SENT = "message.sent", _("Reply added")
    NOTE_ADDED = "note.added", _("Internal note added")
    STATUS_CHANGED = "conversation.status_changed", _("Status changed")
    PRIORITY_CHANGED = "conversation.priority_changed", _("Priority changed")
    ASSIGNED = "conversation.assigned", _("Assignment changed")
    CATEGORIZED = "conversation.categorized", _("Category changed")
    TAGGED = "conversation.tagged", _("Tags changed")
    IMPORTED = "conversation.imported", _("Conversation imported")
    DELIVERY_UPDATED = "message.delivery_updated", _("Delivery updated")


EventListener = Callable[[Conversation, ConversationEvent], None]
_listeners: list[EventListener] = []


def listen_to_conversation_events(listener: EventListener) -> None:
    """Call ``listener`` after every conversation event, inside the same transaction.

    For features that keep state derived from conversations (SLA timers): their update commits
    or rolls back with the change that caused it. Registered from an app's ``ready()``.
    """
    if listener not in _listeners:
        _listeners.append(listener)


def record_conversation_event(
    conversation: Conversation, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        type=type,
        payload=payload or {},
        **actor_fields(actor),
    )
    for listener in _listeners:
        listener(conversation, event)
    return event
