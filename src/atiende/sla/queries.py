"""Reading SLA state, scoped to what the viewer may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atiende.accounts.permissions import Actor, brand_ids_with
from atiende.accounts.roles import Capability
from atiende.conversations.models import Conversation
from atiende.sla.models import Calendar, Policy, SlaEvent, SlaTimer
from atiende.sla.policies import Resolution, resolve


def timers_of(conversation: Conversation, *, viewer: Actor) -> QuerySet[SlaTimer]:
    """The conversation's timers, oldest first; none for a viewer of another brand."""
    brands = brand_ids_with(viewer, Capability.VIEW_CONVERSATIONS)
    found = SlaTimer.objects.filter(conversation=conversation).order_by(
        "started_at", "metric", "cycle"
    )
    return found if brands is None or conversation.brand_id in brands else found.none()


def sla_events_of(conversation: Conversation, *, viewer: Actor) -> QuerySet[SlaEvent]:
    brands = brand_ids_with(viewer, Capability.VIEW_CONVERSATIONS)
    found = SlaEvent.objects.filter(conversation=conversation)
    return found if brands is None or conversation.brand_id in brands else found.none()


def why_this_policy(conversation: Conversation, *, viewer: Actor) -> Resolution | None:
    """The policy that applies and, line by line, why; None when none applies or it is not yours."""
    brands = brand_ids_with(viewer, Capability.VIEW_CONVERSATIONS)
    if brands is not None and conversation.brand_id not in brands:
        return None
    return resolve(conversation)


def policies_for(viewer: Actor) -> QuerySet[Policy]:
    return _scoped(Policy.objects.all(), viewer)


def calendars_for(viewer: Actor) -> QuerySet[Calendar]:
    return _scoped(Calendar.objects.all(), viewer)


def _scoped(rows: QuerySet[Any], viewer: Actor) -> QuerySet[Any]:
    brands = brand_ids_with(viewer, Capability.CONFIGURE_BRAND)
    return rows if brands is None else rows.filter(brand_id__in=brands)
