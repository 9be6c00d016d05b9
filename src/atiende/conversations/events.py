"""What can happen to a conversation, as recorded in ConversationEvent.type.

Each action writes exactly one event. Side effects of the same change (a customer message that
reopens a solved case) travel in the event's payload under ``changes`` as ``[before, after]``
pairs, so the timeline, webhooks and analytics read one row per thing that happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.conversations.models import Conversation, ConversationEvent
from atiende.core.events import record_event


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
    # CV5. A merge writes MERGED on the conversation that received the messages and MERGED_AWAY
    # on the one left behind as a pointer; undoing it writes MERGE_UNDONE on both. A split writes
    # SPLIT on the original and CREATED (with ``split_from``) on the new conversation.
    MERGED = "conversation.merged", _("Conversation merged into this one")
    MERGED_AWAY = "conversation.merged_away", _("Merged into another conversation")
    MERGE_UNDONE = "conversation.merge_undone", _("Merge undone")
    SPLIT = "conversation.split", _("Messages split off into a new conversation")
    # The case moved to another customer record: the duplicate it belonged to was merged (CR1).
    CUSTOMER_CHANGED = "conversation.customer_changed", _("Customer changed")


EventListener = Callable[[Conversation, ConversationEvent], None]
_listeners: list[EventListener] = []


def listen_to_conversation_events(listener: EventListener) -> None:
    """Call ``listener`` after every conversation event, inside the same transaction.

    For features that keep state derived from conversations (SLA timers): their update commits
    or rolls back with the change that caused it. Registered from an app's ``ready()``.

    Inside a batch of inbound messages the event has no id yet (``core.events.record_event``):
    a listener that needs it waits for it with ``core.events.when_inserted``.
    """
    if listener not in _listeners:
        _listeners.append(listener)


ImportListener = Callable[[Sequence[Conversation]], None]
_import_listeners: list[ImportListener] = []


def listen_to_conversation_imports(listener: ImportListener) -> None:
    """Call ``listener`` with the conversations an import wrote in bulk, inside its transaction.

    ``import_conversations`` writes its events in bulk and so calls no event listener; features
    that keep derived state (the search index) hear about those conversations here instead.
    """
    if listener not in _import_listeners:
        _import_listeners.append(listener)


def announce_imported_conversations(conversations: Sequence[Conversation]) -> None:
    for listener in _import_listeners:
        listener(conversations)


def record_conversation_event(
    conversation: Conversation, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> ConversationEvent:
    event = record_event(
        ConversationEvent(
            brand_id=conversation.brand_id,
            conversation=conversation,
            type=type,
            payload=payload or {},
            **actor_fields(actor),
        )
    )
    for listener in _listeners:
        listener(conversation, event)
    return event
