"""SLA work in the background: checks at the exact instant of a warning or a breach, escalation,
recomputing open conversations after a policy change, and a sweep for checks that were lost."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from atiende.sla import actions, notifications
from atiende.sla.models import SlaTimer, TimerState

logger = logging.getLogger(__name__)


@db_task()
def check_timer_task(timer_id: int) -> None:
    """Runs at a warning's or a deadline's instant; re-checks, so a late or repeated run is harmless."""
    actions.check_timer(timer_id)


@db_task()
def email_about_event_task(event_id: int) -> None:
    notifications.email_about(event_id)


@db_task()
def escalate_breach_task(timer_id: int) -> None:
    actions.escalate_breach(timer_id)


@db_task()
def recompute_brand_timers_task(brand_id: int) -> None:
    count = actions.recompute_brand_timers(brand_id)
    logger.info("SLA timers recomputed for %s open conversations of brand %s", count, brand_id)


@db_periodic_task(crontab(minute="*"))
def sweep_due_timers_task() -> None:
    """Every minute: warnings and breaches whose scheduled check was lost (a queue emptied)."""
    actions.sweep_due_timers()


def schedule_checks_of(timer_ids: list[int]) -> None:
    """Schedule a check at each instant the timers' warnings and deadlines fall, revoking the
    checks each had scheduled before; from the rows as they stand, one read and one UPDATE for all.
    A timer no longer running (or no longer there) is left alone: its checks find nothing to do."""
    from atiende.sla.timers import check_instants

    timers = list(
        SlaTimer.objects.filter(pk__in=timer_ids, state=TimerState.RUNNING).only(
            "warn_at", "warned_at", "due_at", "breached_at", "scheduled_checks"
        )
    )
    for timer in timers:
        for task_id in timer.scheduled_checks or []:
            HUEY.revoke_by_id(task_id)
        timer.scheduled_checks = [
            check_timer_task.schedule((timer.pk,), eta=instant).id
            for instant in check_instants(timer)
        ]
    SlaTimer.objects.bulk_update(timers, ["scheduled_checks"])
