"""SLA attainment over a period, from the recorded timers only (SL5).

A timer belongs to the period in which it started. Each timer falls in exactly one of four kinds:

* met on time: met, never breached;
* breached: its deadline passed before it was met (met late, still running late, or stopped after
  the breach);
* still open: running or paused, not breached yet;
* stopped: stopped before its deadline (solved with no reply needed, or no target any more).

Attainment is met on time / (met on time + breached): open timers have not finished and stopped
ones were never due, so neither counts for or against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import models
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from atiende.accounts.permissions import Actor, brand_ids_with
from atiende.accounts.roles import Capability
from atiende.brands.models import Brand
from atiende.sla.models import Metric, SlaTimer, TimerState

_OPEN = [TimerState.RUNNING, TimerState.PAUSED]


class Grouping(models.TextChoices):
    POLICY = "policy", gettext_lazy("Policy")
    METRIC = "metric", gettext_lazy("Metric")
    TEAM = "team", gettext_lazy("Team")
    MONTH = "month", gettext_lazy("Month")


@dataclass(frozen=True)
class Period:
    """Whole days from ``first`` to ``last``, both included, in the time zone ``zone``."""

    first: date
    last: date
    zone: tzinfo

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.zone)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.zone)


@dataclass(frozen=True)
class AttainmentRow:
    label: str
    met_on_time: int
    breached: int
    still_open: int
    stopped: int
    # The brand's name when the report covers several brands and the group belongs to one.
    brand: str = ""

    @property
    def measured(self) -> int:
        return self.met_on_time + self.breached

    @property
    def total(self) -> int:
        return self.met_on_time + self.breached + self.still_open + self.stopped

    @property
    def attainment(self) -> float | None:
        """Per cent met on time of those that finished; None when none finished yet."""
        if not self.measured:
            return None
        return 100 * self.met_on_time / self.measured


def report_brands_for(viewer: Actor) -> QuerySet[Brand]:
    """The brands whose reports ``viewer`` may see, by name."""
    brands = brand_ids_with(viewer, Capability.VIEW_REPORTS)
    found = Brand.objects.filter(is_active=True).order_by("name")
    return found if brands is None else found.filter(pk__in=brands)


def _timers(viewer: Actor, brand_ids: Iterable[int], period: Period) -> QuerySet[SlaTimer]:
    """Timers started in the period, in the asked brands where ``viewer`` may see reports."""
    wanted = set(brand_ids)
    allowed = brand_ids_with(viewer, Capability.VIEW_REPORTS)
    if allowed is not None:
        wanted &= allowed
    return SlaTimer.objects.filter(
        brand_id__in=wanted,
        started_at__gte=period.starts_at,
        started_at__lt=period.ends_before,
    )


def attainment_for(
    *, viewer: Actor, brand_ids: Iterable[int], period: Period, grouping: str
) -> list[AttainmentRow]:
    """One row per group (policy, metric, team or month of the start), in one query.

    Team is the conversation's team now. A policy deleted since groups as "no policy".
    """
    if grouping not in Grouping.values:
        raise ValueError(f"Unknown grouping {grouping!r}")
    timers = _timers(viewer, brand_ids, period)
    keys: list[str]
    if grouping == Grouping.POLICY:
        keys = ["policy_id", "policy__name", "brand__name"]
    elif grouping == Grouping.TEAM:
        keys = ["conversation__team_id", "conversation__team__name", "brand__name"]
    elif grouping == Grouping.METRIC:
        keys = ["metric"]
    else:
        timers = timers.annotate(month=TruncMonth("started_at", tzinfo=period.zone))
        keys = ["month"]
    rows = (
        timers.order_by()
        .values(*keys)
        .annotate(
            met_on_time=Count("id", filter=Q(state=TimerState.MET, breached_at__isnull=True)),
            breached=Count("id", filter=Q(breached_at__isnull=False)),
            still_open=Count("id", filter=Q(state__in=_OPEN, breached_at__isnull=True)),
            stopped=Count("id", filter=Q(state=TimerState.STOPPED, breached_at__isnull=True)),
        )
    )
    found = []
    for row in rows:
        label = _label(grouping, row)
        found.append(
            (
                _sort_key(grouping, row, label),
                AttainmentRow(
                    label=label,
                    brand=row.get("brand__name", ""),
                    met_on_time=row["met_on_time"],
                    breached=row["breached"],
                    still_open=row["still_open"],
                    stopped=row["stopped"],
                ),
            )
        )
    return [row for _key, row in sorted(found, key=lambda item: item[0])]


def _sort_key(grouping: str, row: dict[str, Any], label: str) -> tuple[Any, ...]:
    """Metrics in their natural order, months in time, names alphabetically with "none" last."""
    if grouping == Grouping.METRIC:
        values = Metric.values
        return (values.index(row["metric"]) if row["metric"] in values else len(values), label)
    if grouping == Grouping.MONTH:
        return (row["month"] is None, row["month"] or datetime.min.replace(tzinfo=UTC))
    name_key = "policy_id" if grouping == Grouping.POLICY else "conversation__team_id"
    return (row[name_key] is None, label.casefold(), row.get("brand__name", ""))


def _label(grouping: str, row: dict[str, Any]) -> str:
    if grouping == Grouping.POLICY:
        return row["policy__name"] if row["policy_id"] is not None else _("No policy")
    if grouping == Grouping.TEAM:
        return row["conversation__team__name"] if row["conversation__team_id"] else _("No team")
    if grouping == Grouping.METRIC:
        try:
            return str(Metric(row["metric"]).label)
        except ValueError:
            return str(row["metric"])
    month = row["month"]
    return formats.date_format(month, "YEAR_MONTH_FORMAT") if month else ""


def total_of(rows: Iterable[AttainmentRow]) -> AttainmentRow:
    """All groups together (each timer is in exactly one group)."""
    rows = list(rows)
    return AttainmentRow(
        label=_("All"),
        met_on_time=sum(row.met_on_time for row in rows),
        breached=sum(row.breached for row in rows),
        still_open=sum(row.still_open for row in rows),
        stopped=sum(row.stopped for row in rows),
    )


def breaches_for(*, viewer: Actor, brand_ids: Iterable[int], period: Period) -> QuerySet[SlaTimer]:
    """Breached timers started in the period, latest breach first, ready for a table row."""
    return (
        _timers(viewer, brand_ids, period)
        .filter(breached_at__isnull=False)
        .select_related(
            "policy",
            "conversation__brand",
            "conversation__team",
            "conversation__assignee",
        )
        .order_by(F("breached_at").desc(), "-id")
    )
