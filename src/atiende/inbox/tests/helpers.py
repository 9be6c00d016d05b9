"""Building inboxes for tests: many conversations at once, through the import action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from atiende.conversations.actions import (
    ImportedConversation,
    ImportedMessage,
    import_conversations,
)
from atiende.conversations.models import Conversation
from atiende.core.actions import action


def imported(brand: Any, customer: Any, system: Any, *specs: dict[str, Any]) -> list[Conversation]:
    """One conversation per spec (status, priority, assignee, team, tags, channel, language,
    subject, minutes_ago), numbered in order, in one import."""
    now = timezone.now()
    items = []
    for index, spec in enumerate(specs):
        at = now - timedelta(minutes=spec.get("minutes_ago", 1000 - index))
        items.append(
            ImportedConversation(
                customer=customer,
                channel=spec.get("channel", "email"),
                subject=spec.get("subject", f"Caso {index}"),
                status=spec.get("status", "open"),
                priority=spec.get("priority", "normal"),
                language=spec.get("language", "es"),
                assignee=spec.get("assignee"),
                team=spec.get("team"),
                tags=spec.get("tags", ()),
                messages=[
                    ImportedMessage(
                        direction="inbound",
                        channel=spec.get("channel", "email"),
                        created_at=at,
                        body_text=spec.get("body", f"Mensaje {index}"),
                    )
                ],
            )
        )
    return import_conversations(brand=brand, conversations=items, actor=system)


@action
def set_fields(conversations: list[Conversation], **values: Any) -> None:
    """Test setup only: give conversations exact sort values (ties, deadlines) in one write."""
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(**values)
