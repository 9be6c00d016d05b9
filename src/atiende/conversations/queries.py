"""Every read of conversations and messages, scoped to the person asking.

Anything a user may not see does not exist for them: views turn ``DoesNotExist`` into 404, never
403, so guessing another brand's URLs reveals nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from atiende.accounts.permissions import brand_ids_with, can
from atiende.accounts.roles import Capability
from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
)


def visible_brand_ids(user: Any) -> set[int] | None:
    """The brands whose conversations ``user`` may see; ``None``: every brand. For reads that
    state the scope in SQL of their own (core/prepared.py); others use the querysets below."""
    return brand_ids_with(user, Capability.VIEW_CONVERSATIONS)


def _scoped(
    queryset: QuerySet[Any], user: Any, capability: str = Capability.VIEW_CONVERSATIONS
) -> QuerySet[Any]:
    brand_ids = brand_ids_with(user, capability)
    if brand_ids is None:
        return queryset
    return queryset.filter(brand_id__in=brand_ids)


def conversations_visible_to(user: Any) -> QuerySet[Conversation]:
    """Conversations of the brands where ``user`` may see conversations, ready for a list row."""
    return _scoped(Conversation.objects.all(), user).select_related(
        "brand", "customer", "assignee", "team", "category"
    )


def recent_conversations_for(user: Any, *, limit: int = 50) -> list[Conversation]:
    """The latest conversations ``user`` may see, newest activity first, tags included."""
    return list(
        conversations_visible_to(user)
        .prefetch_related("tags")
        .order_by("-last_message_at", "-id")[:limit]
    )


def status_counts_for(user: Any) -> dict[str, int]:
    """{status: number of conversations} over the brands ``user`` may see."""
    rows = (
        _scoped(Conversation.objects.all(), user)
        .order_by()
        .values("status")
        .annotate(total=Count("id"))
    )
    return {row["status"]: row["total"] for row in rows}


def conversation_for(user: Any, *, brand_slug: str, number: int) -> Conversation:
    """One conversation by its human number; ``Conversation.DoesNotExist`` if not visible."""
    return (
        conversations_visible_to(user)
        .prefetch_related("tags")
        .get(brand__slug=brand_slug, number=number)
    )


def messages_of(conversation: Conversation, *, viewer: Any) -> QuerySet[Message]:
    """A visible conversation's messages with authors and attachments, as ``viewer`` may read
    them: internal notes only for those who may see them (not a BPO client's viewers)."""
    messages = Message.objects.filter(conversation=conversation)
    if not can(viewer, Capability.VIEW_INTERNAL_NOTES, conversation.brand_id):
        messages = messages.exclude(direction=Direction.INTERNAL)
    return (
        messages.select_related("author_user", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )


def events_of(conversation: Conversation, *, viewer: Any) -> QuerySet[ConversationEvent]:
    events = ConversationEvent.objects.filter(conversation=conversation)
    if not can(viewer, Capability.VIEW_INTERNAL_NOTES, conversation.brand_id):
        events = events.exclude(type=ConversationEventType.NOTE_ADDED)
    return events.select_related("actor").order_by("created_at", "id")


def attachment_for(user: Any, *, attachment_id: int) -> Attachment:
    """An attachment whose message ``user`` may read; ``Attachment.DoesNotExist`` otherwise."""
    attachment = (
        _scoped(Attachment.objects.all(), user)
        .select_related("message__conversation")
        .get(pk=attachment_id)
    )
    if attachment.message.direction == Direction.INTERNAL and not can(
        user, Capability.VIEW_INTERNAL_NOTES, attachment.brand_id
    ):
        raise Attachment.DoesNotExist("No such attachment")
    return attachment
