"""Editing a business calendar as people write opening hours, not as JSON.

Each weekday is a line like ``09:00-14:00, 15:00-18:00`` (``22:00-06:00+1`` for a shift that runs
past midnight); special dates and breaks are lines like ``2026-12-24: 09:00-13:00``; closed dates
are one per line. The form turns them into the stored JSON, and the model's validation (through
the action) gives the errors in words.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from atiende.sla.calendar import WEEKDAYS
from atiende.sla.models import Calendar

WEEKDAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
_INTERVAL = re.compile(r"^\s*(\S+?)\s*[-–]\s*(\S+)\s*$")


def intervals_text(intervals: Any) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def parse_intervals_text(text: str) -> list[list[str]]:
    """``"09:00-14:00, 15:00-18:00"`` as ``[["09:00", "14:00"], ["15:00", "18:00"]]``."""
    found = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _INTERVAL.match(part)
        if match is None:
            raise forms.ValidationError(
                gettext("%(part)s is not an interval like 09:00-14:00.") % {"part": part}
            )
        found.append([match.group(1), match.group(2)])
    return found


def dated_text(by_date: Any) -> str:
    return "\n".join(
        f"{day}: {intervals_text(hours)}" for day, hours in sorted((by_date or {}).items())
    )


def parse_dated_text(text: str) -> dict[str, list[list[str]]]:
    """Lines ``2026-12-24: 09:00-13:00`` as ``{"2026-12-24": [["09:00", "13:00"]]}``."""
    found: dict[str, list[list[str]]] = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        day, colon, hours = line.partition(": ")
        if not colon:
            raise forms.ValidationError(
                gettext("Write %(line)s as a date, a colon and hours: 2026-12-24: 09:00-13:00.")
                % {"line": line}
            )
        found.setdefault(day.strip(), []).extend(parse_intervals_text(hours))
    return found


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _day_field(label: Any, help_text: Any = "") -> forms.CharField:
    return forms.CharField(label=label, required=False, help_text=help_text)


class CalendarForm(forms.ModelForm):
    hours_mon = _day_field(
        WEEKDAY_LABELS["mon"],
        _("09:00-14:00, 15:00-18:00; 22:00-06:00+1 runs past midnight; empty: closed"),
    )
    hours_tue = _day_field(WEEKDAY_LABELS["tue"])
    hours_wed = _day_field(WEEKDAY_LABELS["wed"])
    hours_thu = _day_field(WEEKDAY_LABELS["thu"])
    hours_fri = _day_field(WEEKDAY_LABELS["fri"])
    hours_sat = _day_field(WEEKDAY_LABELS["sat"])
    hours_sun = _day_field(WEEKDAY_LABELS["sun"])
    time_zone = forms.ChoiceField(label=_("time zone"), choices=_time_zone_choices)
    special_dates = forms.CharField(
        label=_("hours on special dates"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One date a line, replacing that day's hours: 2026-12-24: 09:00-13:00"),
    )
    date_breaks = forms.CharField(
        label=_("breaks"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Time taken out of one date: 2026-12-02: 11:00-11:30"),
    )
    closures = forms.CharField(
        label=_("closed dates"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The company's own closures, one date a line (2026-08-14); public holidays come from the country and region."
        ),
    )

    class Meta:
        model = Calendar
        fields = ("brand", "name", "time_zone", "holiday_country", "holiday_subdivision")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weekly = self.instance.weekly or {}
        for day in WEEKDAYS:
            self.fields[f"hours_{day}"].initial = intervals_text(weekly.get(day))
        self.fields["special_dates"].initial = dated_text(self.instance.date_hours)
        self.fields["date_breaks"].initial = dated_text(self.instance.breaks)
        self.fields["closures"].initial = "\n".join(self.instance.closed_dates or [])

    def stored_values(self) -> dict[str, Any]:
        """What the action stores, from the cleaned text fields."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "holiday_country": data.get("holiday_country", "").upper(),
            "holiday_subdivision": data.get("holiday_subdivision", "").upper(),
            "weekly": {day: data[f"hours_{day}"] for day in WEEKDAYS if data.get(f"hours_{day}")},
            "date_hours": data["special_dates"],
            "breaks": data["date_breaks"],
            "closed_dates": data["closures"],
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for day in WEEKDAYS:
            try:
                data[f"hours_{day}"] = parse_intervals_text(data.get(f"hours_{day}", ""))
            except forms.ValidationError as error:
                self.add_error(f"hours_{day}", error)
        for field in ("special_dates", "date_breaks"):
            try:
                data[field] = parse_dated_text(data.get(field, ""))
            except forms.ValidationError as error:
                self.add_error(field, error)
        data["closures"] = [
            line.strip() for line in data.get("closures", "").splitlines() if line.strip()
        ]
        return data

    def _post_clean(self) -> None:
        """Validate the calendar these lines make (what the action will store), so that an
        error shows on the form, with what was typed kept."""
        if self.errors:
            return
        for name, value in self.stored_values().items():
            setattr(self.instance, name, value)
        if "brand" in self.cleaned_data:
            self.instance.brand = self.cleaned_data["brand"]
        try:
            self.instance.full_clean()
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                self.add_error(None, error)
                return
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
