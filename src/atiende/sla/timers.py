"""Each conversation's SLA timers, derived from its recorded facts (SL2, SL4).

Whenever something that can change a deadline happens (a message, a reply, a status, priority,
team or category change), :func:`refresh_timers` recomputes the conversation's timers from what is
stored: its messages, its status history and the policy that applies now. Deriving instead of
patching makes the result the same however late, repeated or out of order the triggers are,
and lets a batch of inbound messages refresh its conversations once, together, at its end
(:func:`refresh_many`).

* First response: from the conversation's start to the first agent reply (an automatic
  acknowledgement is not a response). Solving the case before any reply stops it.
* Next response: every customer message that arrives when none is waiting, after the first
  response, starts a wait that the next agent reply ends.
* Resolution: from the start (and again from each reopening) until the case is solved or closed.

Time in a paused status (pending on the customer, on hold, as the policy says) does not count.
A warning and a breach are recorded once each, when they happen: at their exact instant by a
scheduled check, or by the next refresh if that check came late (a stopped worker).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from atiende.conversations.models import Conversation, ConversationEvent, Message
from atiende.core.actions import update_each
from atiende.core.actors import system_actor
from atiende.core.batching import batch_memo, in_batch, write_at_batch_end
from atiende.core.realtime import notify_on_commit
from atiende.sla.calendar import WEEKDAYS, BusinessCalendar
from atiende.sla.models import Metric, Policy, SlaEvent, SlaTimer, TimerState
from atiende.sla.policies import Resolution, brand_policies, has_policies, resolve

logger = logging.getLogger(__name__)

# Events after which deadlines may move; others (notes, tags, delivery reports) cannot.
RELEVANT_EVENTS = frozenset(
    {
        "conversation.created",
        "message.received",
        "message.sent",
        "conversation.status_changed",
        "conversation.priority_changed",
        "conversation.assigned",
        "conversation.categorized",
        # Merge and split move messages between conversations and close or reopen one (CV5).
        "conversation.merged",
        "conversation.merged_away",
        "conversation.merge_undone",
        "conversation.split",
        "conversation.customer_changed",
    }
)
FINISHED = frozenset({"solved", "closed"})
AROUND_THE_CLOCK = BusinessCalendar("UTC", {day: [("00:00", "24:00")] for day in WEEKDAYS})
SLA_ACTOR = system_actor("sla")


@dataclass
class Cycle:
    metric: str
    cycle: int
    started_at: datetime
    met_at: datetime | None = None
    stopped_at: datetime | None = None


def on_conversation_event(conversation: Conversation, event: ConversationEvent) -> None:
    if event.type in RELEVANT_EVENTS:
        # A batch of inbound messages refreshes its conversations once, at its end, set-wise.
        write_at_batch_end(("sla", "refresh"), _refresh_collected, [conversation])


def _refresh_collected(conversations: list[Conversation]) -> None:
    """Outside a batch: the one conversation its action holds, refreshed in place (its caller
    sees the new deadline). At a batch's end: each of the batch's conversations once, as it is
    now (a later message may have changed it after its event, or rolled back the one that created
    it), under the lock its actions take."""
    if in_batch():
        # (A brand without policies has no timers: its conversations need not be read again.)
        with_policies = {
            brand_id
            for brand_id in {conversation.brand_id for conversation in conversations}
            if _policies_of(brand_id)
        }
        ids = sorted(
            {
                conversation.pk
                for conversation in conversations
                if conversation.brand_id in with_policies
            }
        )
        if not ids:
            return
        conversations = list(
            Conversation.objects.select_for_update(of=("self",))
            .select_related("customer__organization")
            .filter(pk__in=ids)
            .order_by("pk")
        )
    refresh_many(conversations)


def _status_histories(
    conversations: Sequence[Conversation],
) -> dict[int, list[tuple[datetime, str]]]:
    """Each conversation's (since, status) from its start, as recorded in its events."""
    histories = {
        conversation.pk: [(conversation.created_at, "new")] for conversation in conversations
    }
    rows = (
        # Only the events that changed the status, not the whole history.
        ConversationEvent.objects.filter(
            conversation_id__in=list(histories), payload__changes__has_key="status"
        )
        .order_by("conversation_id", "created_at", "id")
        .values_list("conversation_id", "created_at", "payload")
    )
    for conversation_id, created_at, payload in rows:
        history = histories[conversation_id]
        change = (
            (payload or {}).get("changes", {}).get("status") if isinstance(payload, dict) else None
        )
        if isinstance(change, list | tuple) and len(change) == 2 and change[1] != history[-1][1]:
            history.append((created_at, change[1]))
    for conversation in conversations:
        history = histories[conversation.pk]
        if history[-1][1] != conversation.status:
            # A status set without an event of its own (an imported archive): true since the
            # last change.
            history.append((max(conversation.updated_at, history[-1][0]), conversation.status))
    return histories


def _message_facts(ids: list[int]) -> dict[int, list[tuple[str, str, datetime]]]:
    """Each conversation's (direction, author kind, created at), in order, notes excluded."""
    facts: dict[int, list[tuple[str, str, datetime]]] = {pk: [] for pk in ids}
    rows = (
        Message.objects.filter(conversation_id__in=ids)
        .exclude(direction="internal")
        .order_by("conversation_id", "created_at", "id")
        .values_list("conversation_id", "direction", "author_kind", "created_at")
    )
    for conversation_id, direction, author_kind, created_at in rows:
        facts[conversation_id].append((direction, author_kind, created_at))
    return facts


def derive_cycles(
    created_at: datetime,
    messages: Iterable[tuple[str, str, datetime]],
    statuses: list[tuple[datetime, str]],
) -> list[Cycle]:
    """The measurements a conversation's facts call for; pure, so it is tested on its own.

    ``messages``: (direction, author kind, created at) in order, notes excluded.
    """
    cycles: list[Cycle] = []
    finished_at = [since for since, status in statuses if status in FINISHED]

    def first_finish_after(moment: datetime) -> datetime | None:
        return next((since for since in finished_at if since >= moment), None)

    replies = [
        at for direction, author, at in messages if direction == "outbound" and author == "agent"
    ]
    first_reply = replies[0] if replies else None
    finish = first_finish_after(created_at)
    if first_reply is not None and (finish is None or first_reply <= finish):
        cycles.append(Cycle(Metric.FIRST_RESPONSE, 0, created_at, met_at=first_reply))
    else:
        # Solved before anyone answered (or not answered yet): nothing to measure after that.
        cycles.append(Cycle(Metric.FIRST_RESPONSE, 0, created_at, stopped_at=finish))

    if first_reply is not None:
        waiting: Cycle | None = None
        count = 0
        for direction, author, at in messages:
            if at <= first_reply:
                continue
            if waiting is not None:
                finish = first_finish_after(waiting.started_at)
                if finish is not None and finish <= at:
                    waiting.stopped_at = finish
                    waiting = None
            if direction == "inbound" and waiting is None:
                waiting = Cycle(Metric.NEXT_RESPONSE, count, at)
                count += 1
                cycles.append(waiting)
            elif direction == "outbound" and author == "agent" and waiting is not None:
                waiting.met_at = at
                waiting = None
        if waiting is not None:
            waiting.stopped_at = first_finish_after(waiting.started_at)

    # Resolution: each stretch from the start, or a reopening, to solved/closed.
    start: datetime | None = created_at
    count = 0
    for since, status in statuses[1:]:
        if status in FINISHED and start is not None:
            cycles.append(Cycle(Metric.RESOLUTION, count, start, met_at=since))
            count += 1
            start = None
        elif status not in FINISHED and start is None:
            start = since
    if start is not None:
        cycles.append(Cycle(Metric.RESOLUTION, count, start))
    return cycles


def _pauses(
    statuses: list[tuple[datetime, str]], paused: frozenset[str], until: datetime
) -> list[tuple[datetime, datetime]]:
    """Stretches spent in a paused status, the last one (if still paused) ending at ``until``."""
    spans = []
    for index, (since, status) in enumerate(statuses):
        if status in paused:
            end = statuses[index + 1][0] if index + 1 < len(statuses) else until
            if end > since:
                spans.append((since, end))
    return spans


def _policies_of(brand_id: int) -> dict[int, Policy]:
    # Read once per batch of inbound messages: the service chain never writes policies.
    return batch_memo(
        ("sla_policies", brand_id),
        lambda: brand_policies(brand_id) if has_policies(brand_id) else {},
    )


def refresh_timers(
    conversation: Conversation,
    *,
    now: datetime | None = None,
    policies: dict[int, Policy] | None = None,
) -> list[SlaTimer]:
    """Recompute the conversation's timers; record warnings and breaches that are due.

    ``policies`` (the brand's, from ``brand_policies``) saves reading them again when many
    conversations of one brand are refreshed together.
    """
    return refresh_many([conversation], now=now, policies=policies).get(conversation.pk, [])


def refresh_many(
    conversations: Sequence[Conversation],
    *,
    now: datetime | None = None,
    policies: dict[int, Policy] | None = None,
) -> dict[int, list[SlaTimer]]:
    """:func:`refresh_timers` for many conversations at once: their timers, messages and status
    changes read by one statement each, their new timers written by one; the timers each keeps,
    by conversation id."""
    now = now or timezone.now()
    measured: list[tuple[Conversation, Resolution | None]] = []
    for conversation in conversations:
        brand_policies_now = (
            policies if policies is not None else _policies_of(conversation.brand_id)
        )
        if brand_policies_now:  # a brand without policies has never had a timer either
            measured.append((conversation, resolve(conversation, brand_policies_now)))
    if not measured:
        return {}
    existing: dict[int, dict[tuple[str, int], SlaTimer]] = defaultdict(dict)
    for timer in SlaTimer.objects.filter(conversation_id__in=[c.pk for c, _ in measured]):
        existing[timer.conversation_id][(timer.metric, timer.cycle)] = timer
    kept: dict[int, list[SlaTimer]] = {}
    derived = []
    for conversation, resolution in measured:
        if resolution is None and not existing[conversation.pk]:
            kept[conversation.pk] = []
        else:
            derived.append((conversation, resolution))
    if not derived:
        _keep_earliest_due([conversation for conversation, _ in measured], kept)
        return kept
    histories = _status_histories([conversation for conversation, _ in derived])
    messages = _message_facts([conversation.pk for conversation, _ in derived])
    # (conversation, timer, resolution, changed) of every timer kept, new ones not yet saved;
    # the existing timers whose derived values changed, written together below.
    outcomes: list[tuple[Conversation, SlaTimer, Resolution, bool]] = []
    changed_timers: list[SlaTimer] = []
    for conversation, resolution in derived:
        statuses = histories[conversation.pk]
        cycles = derive_cycles(conversation.created_at, messages[conversation.pk], statuses)
        timers = existing[conversation.pk]
        seen = set()
        for cycle in cycles:
            seen.add((cycle.metric, cycle.cycle))
            chosen = resolution.targets.get(cycle.metric) if resolution else None
            found = timers.get((cycle.metric, cycle.cycle))
            if chosen is None or resolution is None:
                if found is not None and _stop(found):
                    changed_timers.append(found)
                continue
            timer, changed = _apply(
                conversation, found, cycle, resolution, chosen.minutes, statuses, now
            )
            outcomes.append((conversation, timer, resolution, changed))
            if changed and timer.pk is not None:
                changed_timers.append(timer)
        for key, timer in timers.items():
            if key not in seen and _stop(timer):
                changed_timers.append(timer)
    SlaTimer.objects.bulk_create([timer for _, timer, _, _ in outcomes if timer.pk is None])
    update_each(changed_timers, _DERIVED_FIELDS)
    for conversation, timer, resolution, changed in outcomes:
        _record_due_facts(conversation, timer, resolution, now)
        if changed and timer.state == TimerState.RUNNING:
            _schedule_checks(timer)
        kept.setdefault(conversation.pk, []).append(timer)
    for conversation, _ in derived:
        kept.setdefault(conversation.pk, [])
    _keep_earliest_due([conversation for conversation, _ in measured], kept)
    return kept


def _keep_earliest_due(
    conversations: Sequence[Conversation], kept: dict[int, list[SlaTimer]]
) -> None:
    """Copy each conversation's earliest running deadline onto it, in the same action; the
    changed ones by one statement.

    The inbox sorts and filters a brand's open work by it through an index; reading it from the
    timers table instead would join and sort every open conversation on each page load. Timers
    not kept were just stopped, so only the kept ones can be running.
    """
    changed = []
    for conversation in conversations:
        due = min(
            (
                timer.due_at
                for timer in kept.get(conversation.pk, [])
                if timer.state == TimerState.RUNNING and timer.due_at
            ),
            default=None,
        )
        if conversation.sla_due_at != due:
            conversation.sla_due_at = due
            changed.append(conversation)
    update_each(changed, ["sla_due_at"])


def _apply(
    conversation: Conversation,
    timer: SlaTimer | None,
    cycle: Cycle,
    resolution: Resolution,
    minutes: int,
    statuses: list[tuple[datetime, str]],
    now: datetime,
) -> tuple[SlaTimer, bool]:
    """The timer as the cycle and the policy make it, and whether that changed it; a new timer
    is returned unsaved (its caller saves a batch's together)."""
    calendar_row = resolution.calendar.value
    calendar = calendar_row.business_calendar() if calendar_row is not None else AROUND_THE_CLOCK
    paused = resolution.paused_statuses()
    ended = cycle.met_at or cycle.stopped_at
    target = timedelta(minutes=minutes)
    if ended is not None:
        # Pauses after the end cannot change whether the end came in time.
        pauses = _pauses(statuses, paused, ended)
        due = calendar.add(cycle.started_at, target, pauses=pauses)
        state = TimerState.MET if cycle.met_at else TimerState.STOPPED
        values: dict[str, Any] = {
            "state": state,
            "met_at": cycle.met_at,
            "due_at": due,
            "warn_at": None,
        }
    elif statuses[-1][1] in paused:
        values = {"state": TimerState.PAUSED, "met_at": None, "due_at": None, "warn_at": None}
    else:
        pauses = _pauses(statuses, paused, now)
        due = calendar.add(cycle.started_at, target, pauses=pauses)
        warning = timedelta(minutes=minutes * resolution.warning_percent.value / 100)
        warn = calendar.add(cycle.started_at, warning, pauses=pauses) if warning else None
        values = {"state": TimerState.RUNNING, "met_at": None, "due_at": due, "warn_at": warn}
    values.update(
        # By id: comparing timer.policy would load each timer's policy, a query per timer.
        policy_id=resolution.policy.pk,
        target_minutes=minutes,
        started_at=cycle.started_at,
        explanation=resolution.explain_target(cycle.metric),
    )
    if timer is None:
        new = SlaTimer(
            brand_id=conversation.brand_id,
            conversation=conversation,
            metric=cycle.metric,
            cycle=cycle.cycle,
            **values,
        )
        return new, True
    return timer, _assign(timer, **values)


# What a refresh derives for an existing timer; written together for every timer it changed.
_DERIVED_FIELDS = [
    "state", "met_at", "due_at", "warn_at", "policy", "target_minutes", "started_at",
    "explanation", "updated_at",
]  # fmt: skip


def _assign(timer: SlaTimer, **values: Any) -> bool:
    """Set the derived values on the timer; whether any changed (its caller writes it)."""
    changed = [name for name, value in values.items() if getattr(timer, name) != value]
    for name in changed:
        setattr(timer, name, values[name])
    return bool(changed)


def _stop(timer: SlaTimer) -> bool:
    """Stop a running or paused timer whose cycle no longer calls for it; whether it was."""
    if timer.state not in (TimerState.RUNNING, TimerState.PAUSED):
        return False
    return _assign(timer, state=TimerState.STOPPED, due_at=None, warn_at=None)


def _record_due_facts(
    conversation: Conversation, timer: SlaTimer, resolution: Resolution, now: datetime
) -> None:
    """Warnings and breaches whose instant has come, each recorded once."""
    if (
        timer.state == TimerState.RUNNING
        and timer.warn_at
        and timer.warned_at is None
        and timer.warn_at <= now
    ):
        timer.warned_at = timer.warn_at
        timer.save(update_fields=["warned_at", "updated_at"])
        record_sla_event(conversation, timer, "sla.warning")
    missed = (
        timer.state == TimerState.RUNNING and timer.due_at is not None and timer.due_at <= now
    ) or (
        timer.state == TimerState.MET
        and timer.met_at
        and timer.due_at
        and timer.met_at > timer.due_at
    )
    if missed and timer.breached_at is None:
        timer.breached_at = timer.due_at
        timer.save(update_fields=["breached_at", "updated_at"])
        record_sla_event(conversation, timer, "sla.breached")
        if timer.state == TimerState.RUNNING and (
            resolution.breach_raises_priority.value or resolution.breach_team_id.value
        ):
            timer_id = timer.pk
            transaction.on_commit(lambda: _escalate_later(timer_id))


def record_sla_event(
    conversation: Conversation, timer: SlaTimer, kind: str, **details: Any
) -> SlaEvent:
    """The one way an SLA fact is recorded: its row, then (after commit) the notice by email for
    warnings and breaches and the real-time message for open pages."""
    event = SlaEvent.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        timer=timer,
        type=kind,
        payload={
            "metric": timer.metric,
            "cycle": timer.cycle,
            "due_at": timer.due_at,
            "target_minutes": timer.target_minutes,
            **details,
        },
        actor_label=SLA_ACTOR.label,
    )
    logger.debug("%s: conversation %s, %s #%s", kind, conversation.pk, timer.metric, timer.cycle)
    event_id = event.pk
    transaction.on_commit(lambda: _email_later(event_id))
    notify_on_commit(
        kind,
        {"conversation": conversation.pk, "brand": conversation.brand_id, "metric": timer.metric},
        [f"brand.{conversation.brand_id}"],
    )
    return event


def check_instants(timer: SlaTimer) -> list[datetime]:
    """When the timer's warning and breach, not yet recorded, must be checked."""
    return [
        moment
        for moment, done in ((timer.warn_at, timer.warned_at), (timer.due_at, timer.breached_at))
        if moment and not done
    ]


def _schedule_checks(timer: SlaTimer) -> None:
    if not check_instants(timer):
        return
    # A batch of inbound messages schedules its timers' checks together once it has committed
    # (one read, one UPDATE).
    write_at_batch_end(("sla", "checks"), _schedule_after_commit, [timer.pk])


def _schedule_after_commit(timer_ids: list[int]) -> None:
    """Once committed, schedule the checks of these timers as they were committed (a message
    rolled back to its savepoint leaves its timer as it was)."""
    from atiende.sla.tasks import schedule_checks_of

    ids = sorted(set(timer_ids))
    transaction.on_commit(lambda: schedule_checks_of(ids))


def _email_later(event_id: int) -> None:
    from atiende.sla.tasks import email_about_event_task

    email_about_event_task(event_id)


def _escalate_later(timer_id: int) -> None:
    from atiende.sla.tasks import escalate_breach_task

    escalate_breach_task(timer_id)
