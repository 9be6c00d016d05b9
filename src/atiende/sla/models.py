"""Service-level policies as data: calendars, policies with their targets, and the timers that
measure each conversation against them (SL1–SL4)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.conversations.models import Priority
from atiende.core.events import EventRecord
from atiende.sla.calendar import WEEKDAYS, BusinessCalendar, ClosedDates, public_holidays

_CLOCK = re.compile(r"^([01]\d|2[0-4]):[0-5]\d(\+1)?$")


def pure_intervals(intervals: Any, where: str) -> list[tuple[str, str]]:
    """Stored intervals ``[["09:00", "14:00"], ["22:00", "06:00+1"]]`` in the calendar module's
    form, or a ValidationError in words.

    A shift past midnight must say so with ``+1`` on its end: an end before its start without it
    is a typo, not a night shift.
    """
    if not isinstance(intervals, list):
        raise ValidationError(
            gettext("%(where)s: a list of [start, end] pairs is expected.") % {"where": where}
        )
    found = []
    for pair in intervals:
        if not (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(part, str) for part in pair)
        ):
            raise ValidationError(
                gettext("%(where)s: %(pair)r is not a [start, end] pair.")
                % {"where": where, "pair": pair}
            )
        start, end = pair
        if not _CLOCK.match(start) or start.endswith("+1") or not _CLOCK.match(end):
            raise ValidationError(
                gettext("%(where)s: %(start)s–%(end)s is not a pair of times like 09:00–14:00.")
                % {"where": where, "start": start, "end": end}
            )
        overnight = end.endswith("+1")
        end = end.removesuffix("+1")
        if overnight and end >= start:
            raise ValidationError(
                gettext(
                    "%(where)s: a shift from %(start)s to %(end)s the next day is longer than a day."
                )
                % {"where": where, "start": start, "end": end}
            )
        if not overnight and end <= start:
            raise ValidationError(
                gettext(
                    "%(where)s: the interval %(start)s–%(end)s ends before it starts "
                    "(write %(end)s+1 for a shift that runs past midnight)."
                )
                % {"where": where, "start": start, "end": end}
            )
        found.append((start, end))
    return found


class Calendar(models.Model):
    """A brand's business hours: weekly intervals, holidays, closures, special dates."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="sla_calendars")
    name = models.CharField(_("name"), max_length=120)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid")
    # {"mon": [["09:00", "14:00"], ["15:00", "18:00"]], "sat": [["22:00", "06:00+1"]]}
    weekly = models.JSONField(_("weekly hours"), default=dict, blank=True)
    # {"2026-12-24": [["09:00", "13:00"]]}: that date's hours instead of the weekly ones.
    date_hours = models.JSONField(_("hours on special dates"), default=dict, blank=True)
    # {"2026-12-02": [["11:00", "11:30"]]}: time taken out of that date.
    breaks = models.JSONField(_("breaks"), default=dict, blank=True)
    holiday_country = models.CharField(
        _("public holidays of (country)"),
        max_length=2,
        blank=True,
        help_text=_("ISO code: ES, MX..."),
    )
    holiday_subdivision = models.CharField(
        _("and region"), max_length=10, blank=True, help_text=_("ISO code: MD, CMX...")
    )
    # ["2026-08-14"]: the company's own closures.
    closed_dates = models.JSONField(_("closed dates"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="one_calendar_name_per_brand")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            self._build()
        except ValidationError:
            raise
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def business_calendar(self) -> BusinessCalendar:
        """The working-time arithmetic for this calendar (built once per saved version)."""
        return _built(self.pk, self.updated_at, self)

    def _build(self) -> BusinessCalendar:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                gettext("%(zone)s is not a time zone (use a name like Europe/Madrid).")
                % {"zone": self.time_zone}
            ) from None
        if not isinstance(self.weekly, dict):
            raise ValidationError(gettext("Weekly hours must map weekdays to intervals."))
        unknown = sorted(set(self.weekly) - set(WEEKDAYS))
        if unknown:
            raise ValidationError(
                gettext("Unknown weekdays %(days)s; use %(known)s.")
                % {"days": ", ".join(unknown), "known": ", ".join(WEEKDAYS)}
            )
        weekly = {day: pure_intervals(hours, day) for day, hours in self.weekly.items()}
        date_hours = {
            _date(key): pure_intervals(hours, key)
            for key, hours in _mapping(self.date_hours).items()
        }
        breaks = {
            _date(key): pure_intervals(hours, key) for key, hours in _mapping(self.breaks).items()
        }
        closures: set[date] = {_date(value) for value in (self.closed_dates or [])}
        closed: Any = closures
        if self.holiday_country:
            try:
                closed = ClosedDates(
                    public_holidays(self.holiday_country, self.holiday_subdivision or None),
                    closures,
                )
            except NotImplementedError:
                raise ValidationError(
                    gettext("There is no public holiday list for %(country)s %(region)s.")
                    % {"country": self.holiday_country, "region": self.holiday_subdivision}
                ) from None
        return BusinessCalendar(
            zone, weekly, date_hours=date_hours, breaks=breaks, closed_dates=closed
        )


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(gettext("Special dates must map dates (YYYY-MM-DD) to intervals."))
    return value


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(
            gettext("%(value)s is not a date like 2026-12-24.") % {"value": value}
        ) from None


# Built calendars by (pk, updated_at): rebuilding one (holidays, layout) costs milliseconds.
_calendars: dict[tuple[int | None, Any], BusinessCalendar] = {}


def _built(pk: int | None, version: Any, calendar: Calendar) -> BusinessCalendar:
    key = (pk, version)
    found = _calendars.get(key)
    if found is None:
        if len(_calendars) > 256:
            _calendars.clear()
        found = _calendars[key] = calendar._build()
    return found


class PolicyScope(models.TextChoices):
    """What a policy applies to, from the most general to the most specific."""

    BRAND = "brand", _("Every conversation of the brand (corporate)")
    CATEGORY = "category", _("A service or category")
    TEAM = "team", _("A department or team")
    BUSINESS_AREA = "business_area", _("A business area of customers")
    ORGANIZATION = "organization", _("An organization")
    CUSTOMER = "customer", _("A customer")


# Higher wins when several policies match one conversation.
SCOPE_RANK = {scope: rank for rank, scope in enumerate(PolicyScope)}
SCOPE_LEVEL = {
    PolicyScope.BRAND: _("corporate"),
    PolicyScope.CATEGORY: _("service"),
    PolicyScope.TEAM: _("department"),
    PolicyScope.BUSINESS_AREA: _("customer level"),
    PolicyScope.ORGANIZATION: _("customer level"),
    PolicyScope.CUSTOMER: _("customer level"),
}


class Policy(models.Model):
    """A service-level agreement: targets per priority, pause rules, a calendar, escalation.

    A policy may name a parent it inherits from: whatever it leaves unset (a target, the calendar,
    a pause rule) comes from the parent, then the parent's parent (corporate → department →
    customer). Which policy applies to a conversation: the most specific scope that matches it,
    then the highest precedence, then the oldest (see atiende.sla.policies).
    """

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="sla_policies")
    name = models.CharField(_("name"), max_length=120)
    scope = models.CharField(_("applies to"), max_length=16, choices=PolicyScope.choices)
    category = models.ForeignKey(
        "conversations.Category", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    business_area = models.CharField(
        _("business area"),
        max_length=120,
        blank=True,
        help_text=_("Matches the customer's (or their organization's) business_area attribute."),
    )
    organization = models.ForeignKey(
        "customers.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("inherits from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    calendar = models.ForeignKey(
        Calendar,
        verbose_name=_("calendar"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        help_text=_("Empty: inherited; with none anywhere, the clock runs around the clock."),
    )
    pause_when_pending = models.BooleanField(
        _("pause while pending on the customer"),
        null=True,
        blank=True,
        help_text=_("Empty: inherited (yes)."),
    )
    pause_when_on_hold = models.BooleanField(
        _("pause while on hold"), null=True, blank=True, help_text=_("Empty: inherited (yes).")
    )
    warning_percent = models.PositiveSmallIntegerField(
        _("warn at (% of the target)"), null=True, blank=True, help_text=_("Empty: inherited (75).")
    )
    # Escalation when a target is breached.
    breach_raises_priority = models.BooleanField(
        _("raise the priority on a breach"), null=True, blank=True
    )
    breach_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("hand to this team on a breach"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    precedence = models.SmallIntegerField(
        _("precedence"),
        default=0,
        help_text=_("Among policies of the same scope, the higher applies."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="one_policy_name_per_brand")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def level(self) -> str:
        return str(SCOPE_LEVEL[PolicyScope(self.scope)])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        needed = {
            PolicyScope.CATEGORY: "category",
            PolicyScope.TEAM: "team",
            PolicyScope.BUSINESS_AREA: "business_area",
            PolicyScope.ORGANIZATION: "organization",
            PolicyScope.CUSTOMER: "customer",
        }
        field = needed.get(PolicyScope(self.scope)) if self.scope in PolicyScope.values else None
        if field and not getattr(self, field if field == "business_area" else f"{field}_id"):
            errors[field] = gettext("Say which one this policy applies to.")
        if self.warning_percent is not None and not 1 <= self.warning_percent <= 99:
            errors["warning_percent"] = gettext("Warn at a share between 1 and 99 per cent.")
        for related in ("category", "team", "organization", "customer", "calendar", "breach_team"):
            value = getattr(self, related, None)
            if value is not None and getattr(value, "brand_id", self.brand_id) not in (
                self.brand_id,
                None,
            ):
                errors[related] = gettext("It belongs to another brand.")
        if self.parent_id is not None:
            seen = {self.pk} if self.pk else set()
            ancestor: Policy | None = self.parent
            while ancestor is not None:
                if ancestor.brand_id != self.brand_id:
                    errors["parent"] = gettext(
                        "A policy can only inherit from a policy of its brand."
                    )
                    break
                if ancestor.pk in seen:
                    errors["parent"] = gettext(
                        "Inheriting from %(parent)s would make a cycle: %(parent)s already inherits from this policy."
                    ) % {"parent": self.parent}
                    break
                seen.add(ancestor.pk)
                ancestor = ancestor.parent
        if errors:
            raise ValidationError(errors)


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class PolicyTarget(models.Model):
    """How long one metric may take, in business minutes, for one priority (or every priority)."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    # Empty: every priority this policy gives no specific target for.
    priority = models.CharField(
        _("priority"),
        max_length=16,
        blank=True,
        choices=[("", _("Any priority")), *Priority.choices],
    )
    minutes = models.PositiveIntegerField(_("business minutes"))

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["policy", "metric", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "metric", "priority"], name="one_target_per_metric_priority"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.priority or '*'}: {self.minutes} min"


class TimerState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    # Stopped without being met or missed: solved with no reply needed, or no target any more.
    STOPPED = "stopped", _("Stopped")


class SlaTimer(models.Model):
    """One measurement of one metric for one conversation: a first response, each wait for a next
    response, each stretch until the case is solved. Derived from the conversation's recorded
    facts by atiende.sla.timers; ``warned_at`` and ``breached_at`` are set once, when it happens."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="sla_timers"
    )
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=0)
    policy = models.ForeignKey(
        Policy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    target_minutes = models.PositiveIntegerField(_("target (business minutes)"))
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    met_at = models.DateTimeField(_("met at"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=TimerState.choices)
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached at"), null=True, blank=True)
    # Why this target applies, in words (see atiende.sla.policies.Resolution.explain_target).
    explanation = models.TextField(_("why this target"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA timer")
        verbose_name_plural = _("SLA timers")
        ordering = ["conversation", "metric", "cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "metric", "cycle"], name="one_timer_per_cycle"
            )
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="sla_timer_due")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.metric}#{self.cycle}"


class SlaEvent(EventRecord):
    """Warnings, breaches and escalations, one row each, as they happen."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="sla_events"
    )
    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="events")

    class Meta(EventRecord.Meta):
        verbose_name = _("SLA event")
        verbose_name_plural = _("SLA events")
