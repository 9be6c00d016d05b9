"""For tests: the SLA policy most of them need, written once."""

from __future__ import annotations

from typing import Any

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
