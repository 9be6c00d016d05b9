"""Writing SLA configuration and acting on timers: each an action (permission, one transaction,
an event, side effects after commit)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.events import record_brand_event
from atiende.brands.models import Brand
from atiende.conversations import actions as conversation_actions
from atiende.conversations.models import PRIORITY_RANK, Conversation, Priority
from atiende.core.actions import action
from atiende.sla import timers
from atiende.sla.models import Calendar, Policy, PolicyTarget, SlaEvent, SlaTimer, TimerState
from atiende.sla.policies import brand_policies, resolve

_CALENDAR_FIELDS = {
    "name",
    "time_zone",
    "weekly",
    "date_hours",
    "breaks",
    "holiday_country",
    "holiday_subdivision",
    "closed_dates",
}
_POLICY_FIELDS = {
    "name", "scope", "category", "team", "business_area", "organization", "customer", "parent", "calendar",
    "pause_when_pending", "pause_when_on_hold", "warning_percent", "breach_raises_priority", "breach_team",
    "precedence", "is_active",
}  # fmt: skip


def _recompute_after_commit(brand_id: int) -> None:
    def later() -> None:
        from atiende.sla.tasks import recompute_brand_timers_task

        recompute_brand_timers_task(brand_id)

    transaction.on_commit(later)


@action
def save_calendar(
    *, brand: Brand, actor: Actor, calendar: Calendar | None = None, **values: Any
) -> Calendar:
    """Create a calendar (``calendar`` None) or change one; open conversations are recomputed."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    unknown = set(values) - _CALENDAR_FIELDS
    if unknown:
        raise TypeError(f"Unknown calendar fields: {', '.join(sorted(unknown))}")
    if calendar is not None and calendar.brand_id != brand.pk:
        raise ValidationError("The calendar belongs to another brand.", code="wrong_brand")
    calendar = calendar or Calendar(brand=brand)
    for name, value in values.items():
        setattr(calendar, name, value)
    calendar.full_clean()
    created = calendar.pk is None
    calendar.save()
    record_brand_event(
        brand,
        "sla.calendar_created" if created else "sla.calendar_changed",
        actor=actor,
        payload={"calendar": calendar.pk, "fields": sorted(values)},
    )
    if not created:
        _recompute_after_commit(brand.pk)
    return calendar


@action
def save_policy(
    *,
    brand: Brand,
    actor: Actor,
    policy: Policy | None = None,
    targets: list[dict[str, Any]] | None = None,
    **values: Any,
) -> Policy:
    """Create or change a policy; ``targets`` (when given) replaces its targets:
    ``[{"metric": "first_response", "priority": "", "minutes": 240}, ...]``."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    unknown = set(values) - _POLICY_FIELDS
    if unknown:
        raise TypeError(f"Unknown policy fields: {', '.join(sorted(unknown))}")
    if policy is not None and policy.brand_id != brand.pk:
        raise ValidationError("The policy belongs to another brand.", code="wrong_brand")
    policy = policy or Policy(brand=brand)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.full_clean()
    created = policy.pk is None
    policy.save()
    if targets is not None:
        rows = [PolicyTarget(policy=policy, **target) for target in targets]
        for row in rows:
            row.full_clean(exclude=["policy"])
        keys = [(row.metric, row.priority) for row in rows]
        if len(set(keys)) != len(keys):
            raise ValidationError(
                "Each metric may have one target per priority.", code="duplicate_target"
            )
        policy.targets.all().delete()
        PolicyTarget.objects.bulk_create(rows)
    record_brand_event(
        brand,
        "sla.policy_created" if created else "sla.policy_changed",
        actor=actor,
        payload={"policy": policy.pk, "fields": sorted(values), "targets": targets},
    )
    _recompute_after_commit(brand.pk)
    return policy


def _open_conversations(brand_id: int) -> Any:
    return Conversation.objects.filter(brand_id=brand_id).exclude(status="closed")


def recompute_brand_timers(brand_id: int) -> int:
    """Every open conversation of the brand measured again against the policies as they are now,
    each in its own short transaction (a brand's whole backlog must not hold the database)."""
    count = 0
    policies = brand_policies(brand_id)  # once for all, not once per conversation
    ids = list(_open_conversations(brand_id).values_list("pk", flat=True))
    for conversation_id in ids:
        refresh_conversation_timers(conversation_id, policies=policies)
        count += 1
    return count


def _locked_conversation(conversation_id: int) -> Conversation:
    """The conversation under the same row lock its actions take, so that a check and a new
    message never derive (and record a breach) at the same time."""
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("customer__organization")
        .get(pk=conversation_id)
    )


@action
def refresh_conversation_timers(
    conversation_id: int, *, policies: dict[int, Policy] | None = None
) -> None:
    timers.refresh_timers(_locked_conversation(conversation_id), policies=policies)


@action
def check_timer(timer_id: int) -> None:
    conversation_id = (
        SlaTimer.objects.filter(pk=timer_id, state=TimerState.RUNNING)
        .values_list("conversation_id", flat=True)
        .first()
    )
    if conversation_id is None:
        return  # met, paused or stopped since the check was scheduled: nothing is due
    timers.refresh_timers(_locked_conversation(conversation_id))


def sweep_due_timers(limit: int = 500) -> int:
    return _check_due(SlaTimer.objects.all(), limit)


def check_due_timers(timer_ids: list[int]) -> int:
    """Check those of the timers whose warning or deadline has come and is not yet recorded:
    a check that comes late, twice, or after its timer moved finds nothing to do in one read."""
    return _check_due(SlaTimer.objects.filter(pk__in=timer_ids), len(timer_ids))


def _check_due(timers: QuerySet[SlaTimer], limit: int) -> int:
    now = timezone.now()
    running = timers.filter(state=TimerState.RUNNING)
    due = running.filter(breached_at__isnull=True, due_at__lte=now).values_list("pk", flat=True)
    warned = running.filter(warned_at__isnull=True, warn_at__lte=now).values_list("pk", flat=True)
    ids = sorted(set(due[:limit]) | set(warned[:limit]))
    for timer_id in ids:
        check_timer(timer_id)
    return len(ids)


@action
def escalate_breach(timer_id: int) -> None:
    """What the policy says to do on a breach: raise the priority, hand the case to a team."""
    timer = SlaTimer.objects.filter(pk=timer_id).first()
    if timer is None:
        return
    conversation = _locked_conversation(timer.conversation_id)
    timer.refresh_from_db()
    if timer.breached_at is None or timer.state != TimerState.RUNNING:
        return
    if SlaEvent.objects.filter(timer=timer, type="sla.escalated").exists():
        return  # escalated once already
    resolution = resolve(conversation)
    if resolution is None:
        return
    done: dict[str, Any] = {}
    if resolution.breach_raises_priority.value:
        by_rank = sorted(Priority.values, key=lambda value: PRIORITY_RANK[Priority(value)])
        position = by_rank.index(conversation.priority)
        if position + 1 < len(by_rank):
            conversation = conversation_actions.change_priority(
                conversation=conversation, priority=by_rank[position + 1], actor=timers.SLA_ACTOR
            )
            done["priority"] = by_rank[position + 1]
    team_id = resolution.breach_team_id.value
    if team_id and team_id != conversation.team_id:
        from atiende.accounts.models import Team

        team = Team.objects.get(pk=team_id)
        conversation = conversation_actions.assign_conversation(
            conversation=conversation, actor=timers.SLA_ACTOR, assignee=None, team=team
        )
        done["team"] = team_id
    timers.record_sla_event(conversation, timer, "sla.escalated", **done)
