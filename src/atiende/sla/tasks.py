"""SLA work in the background: checks at the exact instant of a warning or a breach, escalation,
recomputing open conversations after a policy change, and a sweep for checks that were lost."""

from __future__ import annotations

import logging
from datetime import datetime

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.sla import actions, notifications
from atiende.sla.models import SlaTimer, TimerState

logger = logging.getLogger(__name__)


@db_task()
def check_timers_task(timer_ids: list[int]) -> None:
    """Runs at the latest of the warnings and deadlines of one second (``schedule_checks_of``);
    checks the timers that are due, so a late, repeated or outdated run is harmless."""
    actions.check_due_timers(timer_ids)


@db_task()
def check_timer_task(timer_id: int) -> None:
    """One timer's check, as scheduled before checks were grouped: kept so that those still
    waiting in a queue run."""
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
    """Schedule the checks of the timers' warnings and deadlines: one task for all those that
    fall within the same second (a batch's new conversations share a few), run at the latest of
    them, from the rows as they stand, with one read for all. A timer no longer running (or no
    longer there) is left alone.

    Checks scheduled before are not revoked: each revocation is a write to the queue, like a
    schedule, and a check that finds its timer moved or met costs one read
    (``actions.check_due_timers``). A task per instant made huey's writes a sixth of a batch's
    processing in a brand with service levels (``bench/ingest.py --sla --profile``).
    """
    from atiende.sla.timers import check_instants

    timers = list(
        SlaTimer.objects.filter(pk__in=timer_ids, state=TimerState.RUNNING).only(
            "warn_at", "warned_at", "due_at", "breached_at"
        )
    )
    # By the second they fall in. Never run before an instant (its check would find nothing
    # due, and the minute's sweep would catch it late): at the latest instant of the second,
    # at most a second after the earliest, as the queue's scheduler looks once a second anyway.
    in_second: dict[datetime, list[tuple[datetime, int]]] = {}
    for timer in timers:
        for instant in check_instants(timer):
            in_second.setdefault(instant.replace(microsecond=0), []).append((instant, timer.pk))
    for _second, due in sorted(in_second.items()):
        check_timers_task.schedule(
            (sorted({timer_id for _instant, timer_id in due}),),
            eta=max(instant for instant, _timer_id in due),
        )
