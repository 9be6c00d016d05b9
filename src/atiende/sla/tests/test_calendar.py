"""The business calendar against a minute-by-minute reference, across daylight-saving changes.

The reference below is written from the module's conventions, not from its code: a minute is
working when its local wall time falls in an opening interval of its local date (or in the part
after midnight of the previous date's overnight interval) and not in a break. Every operation is
then checked by walking minutes one at a time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from atiende.sla.calendar import (
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    ClosedDates,
    public_holidays,
)

MINUTE = timedelta(minutes=1)
ZONES = {
    # Zone: the dates of its 2026 clock changes (Mexico City has none since 2022).
    "Europe/Madrid": [date(2026, 3, 29), date(2026, 10, 25)],
    "America/Mexico_City": [date(2026, 4, 5), date(2026, 10, 25)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    # Changes at midnight: local dates that start at 01:00, or have two midnights.
    "America/Santiago": [date(2026, 4, 5), date(2026, 9, 6)],
    # Half-hour changes.
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],
}
# Reference walks give up after this many minutes (sparse calendars would make them slow).
WALK_LIMIT = 24 * 60 * 21


def _seconds(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


class Reference:
    def __init__(self, zone, weekly, date_hours, breaks, closed):
        self.zone = ZoneInfo(zone)
        self.weekly, self.date_hours, self.breaks, self.closed = weekly, date_hours, breaks, closed
        self._cache: dict[datetime, bool] = {}

    def _own(self, day):
        if day in self.closed:
            return []
        return self.date_hours.get(day, self.weekly.get(WEEKDAYS[day.weekday()], []))

    @staticmethod
    def _covers(intervals, time_of_day, *, spill):
        for start_text, end_text in intervals:
            start, end = _seconds(start_text), _seconds(end_text)
            overnight = end <= start
            if spill:
                if overnight and time_of_day < end:
                    return True
            elif (start <= time_of_day < end) if not overnight else time_of_day >= start:
                return True
        return False

    def working(self, minute: datetime) -> bool:
        """The minute [minute, minute + 1 min) is working time."""
        found = self._cache.get(minute)
        if found is None:
            local = minute.astimezone(self.zone)
            day, previous = local.date(), local.date() - timedelta(days=1)
            time_of_day = local.hour * 3600 + local.minute * 60
            open_now = self._covers(self._own(day), time_of_day, spill=False) or self._covers(
                self._own(previous), time_of_day, spill=True
            )
            on_break = self._covers(
                self.breaks.get(day, []), time_of_day, spill=False
            ) or self._covers(self.breaks.get(previous, []), time_of_day, spill=True)
            found = self._cache[minute] = open_now and not on_break
        return found

    def usable(self, minute, pauses):
        return self.working(minute) and not any(a <= minute < b for a, b in pauses)

    def add(self, start, minutes, pauses=()):
        at = start
        if minutes == 0:
            for _ in range(WALK_LIMIT):
                if self.usable(at, pauses):
                    return at
                at += MINUTE
            return None
        counted = 0
        step = MINUTE if minutes > 0 else -MINUTE
        for _ in range(WALK_LIMIT):
            minute = at if minutes > 0 else at - MINUTE
            if self.usable(minute, pauses):
                counted += 1
                if counted == abs(minutes):
                    return at + step
            at += step
        return None

    def between(self, a, b, pauses=()):
        sign = 1 if b >= a else -1
        low, high = min(a, b), max(a, b)
        worked, at = 0, low
        while at < high:
            worked += self.usable(at, pauses)
            at += MINUTE
        return sign * worked * MINUTE


def _clock_text(quarter: int) -> str:
    return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


@st.composite
def intervals(draw, max_size=2):
    """Non-overlapping intervals of one day, sometimes ending at 24:00 or running past midnight."""
    count = draw(st.integers(0, max_size))
    points = sorted(draw(st.sets(st.integers(0, 96), min_size=2 * count, max_size=2 * count)))
    found = [
        (_clock_text(start), _clock_text(end) if end < 96 else "24:00")
        for start, end in zip(points[::2], points[1::2], strict=True)
    ]
    last_end = points[-1] if points else 0
    if last_end < 95 and draw(st.booleans()):
        start = draw(st.integers(last_end, 95))
        end = draw(st.integers(0, 95).filter(lambda value: value != start))
        # end < start: a night shift into the next day; else one more interval of this day.
        found.append((_clock_text(start), _clock_text(end)))
    return found


@st.composite
def cases(draw):
    zone = draw(st.sampled_from(sorted(ZONES)))
    around = draw(st.sampled_from(ZONES[zone]))
    weekly = {name: draw(intervals()) for name in WEEKDAYS}
    assume(any(weekly.values()))
    days = [around + timedelta(days=offset) for offset in range(-4, 5)]
    date_hours = {
        day: draw(intervals()) for day in draw(st.lists(st.sampled_from(days), max_size=2))
    }
    breaks = {day: draw(intervals(1)) for day in draw(st.lists(st.sampled_from(days), max_size=2))}
    closed = set(draw(st.lists(st.sampled_from(days), max_size=2)))
    local_start = datetime.combine(around, datetime.min.time()) + timedelta(
        minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))
    )
    start = local_start.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    start -= timedelta(seconds=start.second, microseconds=start.microsecond)
    calendar = BusinessCalendar(
        zone, weekly, date_hours=date_hours, breaks=breaks, closed_dates=closed
    )
    return calendar, Reference(zone, weekly, date_hours, breaks, closed), start


COMMON = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(cases(), st.integers(-30 * 60, 30 * 60))
def test_add_matches_the_reference(case, minutes):
    calendar, reference, start = case
    expected = reference.add(start, minutes)
    assume(expected is not None)
    assert calendar.add(start, timedelta(minutes=minutes)) == expected


@COMMON
@given(cases(), st.integers(-2 * 24 * 60, 2 * 24 * 60))
def test_between_matches_the_reference_and_inverts_add(case, minutes):
    calendar, reference, start = case
    end = start + timedelta(minutes=minutes)
    assert calendar.between(start, end) == reference.between(start, end)
    worked = calendar.between(start, end)
    if worked > timedelta(0):
        # Consuming the working time between two instants reaches b, or the closing before it.
        reached = calendar.add(start, worked)
        assert reached <= end
        assert calendar.between(reached, end) == timedelta(0)
        assert calendar.between(start, reached) == worked


@COMMON
@given(cases(), st.integers(0, 3 * 24 * 60))
def test_open_next_opening_and_previous_closing_match_the_reference(case, minutes):
    calendar, reference, start = case
    moment = start + timedelta(minutes=minutes)
    assert calendar.is_open(moment) == reference.working(moment)
    opening = reference.add(moment, 0)
    assume(opening is not None)
    assert calendar.next_opening(moment) == opening
    at = moment
    for _ in range(WALK_LIMIT):
        if reference.working(at - MINUTE) or reference.working(at):
            break
        at -= MINUTE
    else:
        return
    # Inside an interval or at its end: the moment itself; else the end of the last one.
    expected = moment if reference.working(moment - MINUTE) or reference.working(moment) else at
    assert calendar.previous_closing(moment) == expected


@COMMON
@given(
    cases(),
    st.integers(-20 * 60, 20 * 60),
    st.lists(st.tuples(st.integers(-3000, 3000), st.integers(0, 600)), max_size=3),
)
def test_add_around_pauses_matches_the_reference(case, minutes, pause_specs):
    calendar, reference, start = case
    pauses = [
        (start + timedelta(minutes=offset), start + timedelta(minutes=offset + length))
        for offset, length in pause_specs
    ]
    expected = reference.add(start, minutes, pauses)
    assume(expected is not None)
    assert calendar.add(start, timedelta(minutes=minutes), pauses=pauses) == expected
    if minutes > 0:
        assert calendar.between(start, expected, pauses=pauses) == timedelta(minutes=minutes)


# --- The documented conventions, one by one --------------------------------------------------

MADRID = ZoneInfo("Europe/Madrid")
OFFICE = {day: [("09:00", "14:00"), ("15:00", "18:00")] for day in WEEKDAYS[:5]}


def madrid(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MADRID)


def test_a_result_on_the_end_of_an_interval_is_that_end():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE)
    assert calendar.add(madrid(2026, 12, 2, 13), timedelta(hours=1)) == madrid(2026, 12, 2, 14)
    assert calendar.add(madrid(2026, 12, 2, 16), timedelta(hours=-1)) == madrid(2026, 12, 2, 15)


def test_adding_zero_from_a_closed_moment_gives_the_next_opening():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE)
    assert calendar.add(madrid(2026, 12, 2, 14, 30), timedelta(0)) == madrid(2026, 12, 2, 15)
    assert calendar.add(madrid(2026, 12, 4, 18), timedelta(0)) == madrid(2026, 12, 7, 9)
    assert calendar.add(madrid(2026, 12, 2, 10), timedelta(0)) == madrid(2026, 12, 2, 10)


def test_public_holidays_of_a_region_and_custom_closures_close_the_day():
    closures = ClosedDates(public_holidays("ES", "MD"), {date(2026, 12, 31)})
    calendar = BusinessCalendar("Europe/Madrid", OFFICE, closed_dates=closures)
    # 7 Dec 2026: Madrid's moved Constitution Day; 8 Dec: Immaculate Conception.
    assert calendar.add(madrid(2026, 12, 4, 17), timedelta(hours=2)) == madrid(2026, 12, 9, 10)
    assert calendar.next_opening(madrid(2026, 12, 31, 10)) == madrid(2027, 1, 4, 9)
    assert not calendar.is_open(madrid(2026, 12, 25, 10))


def test_replacement_hours_and_breaks_change_one_date_only():
    calendar = BusinessCalendar(
        "Europe/Madrid",
        OFFICE,
        date_hours={date(2026, 12, 24): [("09:00", "13:00")]},
        breaks={date(2026, 12, 23): [("11:00", "11:30")]},
    )
    assert calendar.between(madrid(2026, 12, 24), madrid(2026, 12, 25)) == timedelta(hours=4)
    assert calendar.between(madrid(2026, 12, 23), madrid(2026, 12, 24)) == timedelta(hours=7.5)
    assert calendar.between(madrid(2026, 12, 22), madrid(2026, 12, 23)) == timedelta(hours=8)


def test_an_overnight_shift_belongs_to_the_day_it_starts():
    night = {day: [("22:00", "06:00")] for day in WEEKDAYS[:5]}
    calendar = BusinessCalendar("America/Mexico_City", night, closed_dates={date(2026, 12, 4)})
    zone = ZoneInfo("America/Mexico_City")
    assert calendar.is_open(datetime(2026, 12, 5, 3, tzinfo=zone)) is False  # Friday's shift closed
    assert calendar.is_open(datetime(2026, 12, 4, 3, tzinfo=zone)) is True  # Thursday's shift
    assert calendar.add(datetime(2026, 12, 3, 23, tzinfo=zone), timedelta(hours=8)) == datetime(
        2026, 12, 7, 23, tzinfo=zone
    )


def test_daylight_saving_hours_count_as_they_really_pass():
    always = {day: [("00:00", "24:00")] for day in WEEKDAYS}
    calendar = BusinessCalendar("Europe/Madrid", always)
    assert calendar.between(madrid(2026, 3, 29), madrid(2026, 3, 30)) == timedelta(hours=23)
    assert calendar.between(madrid(2026, 10, 25), madrid(2026, 10, 26)) == timedelta(hours=25)
    early = BusinessCalendar("Europe/Madrid", {"sun": [("01:00", "04:00")]})
    # 02:00-03:00 does not exist on 29 March: two working hours, not three.
    assert early.between(madrid(2026, 3, 29), madrid(2026, 3, 30)) == timedelta(hours=2)
    assert early.between(madrid(2026, 10, 25), madrid(2026, 10, 26)) == timedelta(hours=4)


def test_add_days_keeps_the_local_time_across_a_clock_change():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE)
    friday = madrid(2026, 3, 27, 10, 30)
    assert calendar.add_days(friday, 1) == madrid(2026, 3, 30, 10, 30)
    # Subtracting in UTC: aware datetimes of one zone subtract as wall clocks in Python.
    elapsed = calendar.add_days(friday, 1).astimezone(UTC) - friday.astimezone(UTC)
    assert elapsed == timedelta(days=3, hours=-1)
    assert calendar.add_days(madrid(2026, 3, 30, 10, 30), -1) == friday
    utc_start = friday.astimezone(UTC)
    assert calendar.add_days(utc_start, 5).tzinfo is UTC


def test_results_keep_the_time_zone_they_were_given_and_long_spans_are_exact():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE)
    start = datetime(2026, 12, 2, 8, tzinfo=UTC)
    later = calendar.add(start, timedelta(hours=8 * 260 * 10))
    assert later.tzinfo is UTC
    assert calendar.between(start, later) == timedelta(hours=8 * 260 * 10)
    assert calendar.add(later, -timedelta(hours=8 * 260 * 10)) == calendar.add(start, timedelta(0))


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({"mon": [("9:00", "25:00")]}, "between 00:00 and 24:00"),
        ({"mon": [("09:00", "09:00")]}, "empty"),
        ({"monday": [("09:00", "17:00")]}, "Unknown weekdays"),
        ({"mon": [("24:00", "02:00")]}, "cannot start at 24:00"),
        ({"mon": [("nine", "17:00")]}, "not a time of day"),
        ({"mon": [("09:00", "14:00"), ("13:00", "18:00")]}, "09:00 and 13:00 overlap"),
        ({"mon": [("20:00", "02:00"), ("23:00", "24:00")]}, "20:00 and 23:00 overlap"),
    ],
)
def test_bad_hours_are_refused_in_words(weekly, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("Europe/Madrid", weekly)


def test_naive_instants_and_a_calendar_never_open_are_clear_errors():
    calendar = BusinessCalendar("Europe/Madrid", OFFICE)
    with pytest.raises(ValueError, match="naive"):
        calendar.add(datetime(2026, 12, 2, 10), timedelta(hours=1))
    with pytest.raises(CalendarError, match="no opening hours"):
        BusinessCalendar("Europe/Madrid", {})
    only_once = BusinessCalendar(
        "Europe/Madrid", {}, date_hours={date(2026, 12, 2): [("09:00", "10:00")]}
    )
    assert only_once.add(madrid(2026, 12, 1), timedelta(minutes=30)) == madrid(2026, 12, 2, 9, 30)
    with pytest.raises(CalendarError, match="no working time"):
        only_once.add(madrid(2026, 12, 1), timedelta(hours=2))
