"""Reading SLA state, scoped to what the viewer may see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import QuerySet

from atiende.accounts.permissions import Actor, brand_ids_with
from atiende.accounts.roles import Capability
from atiende.conversations.models import Conversation
from atiende.sla.models import Calendar, Policy, SlaEvent, SlaTimer, TimerState
from atiende.sla.policies import Resolution, resolve


def timers_of(conversation: Conversation, *, viewer: Actor) -> QuerySet[SlaTimer]:
    """The conversation's timers, oldest first; none for a viewer of another brand."""
    brands = brand_ids_with(viewer, Capability.VIEW_CONVERSATIONS)
    found = SlaTimer.objects.filter(conversation=conversation).order_by(
        "started_at", "metric", "cycle"
    )
    return found if brands is None or conversation.brand_id in brands else found.none()


@dataclass(frozen=True)
class Deadline:
    """A timer as its badge reads it, for lists: read as plain values rather than as models
    (fifty ``SlaTimer`` objects were a tenth of an inbox page's time)."""

    pk: int
    metric: str
    state: str
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None


_DEADLINE_FIELDS = (
    "pk",
    "metric",
    "state",
    "started_at",
    "due_at",
    "warn_at",
    "warned_at",
    "breached_at",
)

TimerOrDeadline = TypeVar("TimerOrDeadline", SlaTimer, Deadline)


def next_deadline(timers: Iterable[TimerOrDeadline]) -> TimerOrDeadline | None:
    """The timer a badge shows: the running one due soonest, else a paused one, else None.

    A running timer whose deadline has passed still counts (it shows how late the case is).
    """
    running = [
        timer for timer in timers if timer.state == TimerState.RUNNING and timer.due_at is not None
    ]
    if running:
        return min(running, key=lambda timer: (timer.due_at, timer.pk))
    paused = [timer for timer in timers if timer.state == TimerState.PAUSED]
    return min(paused, key=lambda timer: (timer.started_at, timer.pk)) if paused else None


def next_deadlines_for(conversation_ids: Iterable[int], *, viewer: Actor) -> dict[int, Deadline]:
    """{conversation id: the deadline its badge shows} for a whole table of rows, in one query.

    Conversations of brands the viewer may not see, and those with no open timer, are left out.
    """
    ids = list(conversation_ids)
    if not ids:
        return {}
    found = SlaTimer.objects.filter(
        conversation_id__in=ids, state__in=[TimerState.RUNNING, TimerState.PAUSED]
    )
    brands = brand_ids_with(viewer, Capability.VIEW_CONVERSATIONS)
    if brands is not None:
        found = found.filter(brand_id__in=brands)
    by_conversation: dict[int, list[Deadline]] = {}
    for conversation_id, *values in found.order_by("conversation_id", "due_at", "id").values_list(
        "conversation_id", *_DEADLINE_FIELDS
    ):
        by_conversation.setdefault(conversation_id, []).append(Deadline(*values))
    return {
        conversation_id: chosen
        for conversation_id, deadlines in by_conversation.items()
        if (chosen := next_deadline(deadlines)) is not None
    }


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
