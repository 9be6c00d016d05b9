"""For tests: the SLA policy most of them need, written once; the checks a timer has waiting."""

from __future__ import annotations

from typing import Any

from huey.api import Task
from huey.contrib.djhuey import HUEY

from atiende.sla.actions import save_policy
from atiende.sla.models import Policy, PolicyScope


def around_the_clock_policy(brand: Any, actor: Any, **minutes: int) -> Policy:
    """The brand's policy "24x7": every priority, on the clock (no business calendar), a target
    of ``minutes`` per metric named, e.g. ``around_the_clock_policy(brand, system,
    first_response=60)``."""
    return save_policy(
        brand=brand, actor=actor, name="24x7", scope=PolicyScope.BRAND,
        targets=[
            {"metric": metric, "priority": "", "minutes": value} for metric, value in minutes.items()
        ],
    )  # fmt: skip


def scheduled_checks_of(timer_id: int) -> list[Task]:
    """The checks waiting in the queue that will look at this timer (``sla.tasks``), soonest
    first: in the schedule (tests run tasks inline) or still in the queue for a worker to
    schedule."""
    return sorted(
        (
            task
            for task in [*HUEY.scheduled(), *HUEY.pending()]
            if task.name.endswith("check_timers_task") and timer_id in task.args[0]
        ),
        key=lambda task: task.eta,
    )
