"""Business calendars: when a team is at work, and arithmetic in working time (SL1).

Pure Python, no Django: the SLA engine, reports and tests all use it, and it is tested
exhaustively against a minute-by-minute reference.

A calendar has a time zone, weekly opening intervals, per-date replacement hours (a shorter
Christmas Eve), per-date breaks and closed dates (public holidays from the ``holidays`` package,
see :func:`public_holidays`, plus custom closures).

Conventions
-----------
* Every instant given or returned is an aware ``datetime``; a naive one is a ``ValueError``.
  Results carry the time zone of the instant they were computed from.
* Intervals are local wall-clock times ``("HH:MM", "HH:MM")``, start included, end excluded;
  ``"24:00"`` is the midnight that ends the day. An interval whose end is not after its start
  runs past midnight and belongs to the day it starts on: a closed date or replacement hours on
  that day govern the whole shift, including its hours after midnight. The intervals of one day
  may touch but not overlap (a ``ValueError`` names them). Forms that edit calendars ask
  explicitly whether an interval runs past midnight, so that a typo is not taken for a night
  shift; this module takes the order of the two times as that answer.
* Breaks are removed from the wall clock of their date (one running past midnight continues on
  the next date).
* A result that lands exactly on the end of an interval is that end instant, not the next
  opening; going backwards, a result that lands exactly on a start is that start. Adding zero
  gives the next opening (the instant itself when open).
* Working time is real elapsed time: a wall-clock hour skipped by a daylight-saving change is not
  counted, and an hour that happens twice counts twice when it falls inside an interval.
* Speed: the working intervals of a span of years are laid out once as UTC microsecond arrays
  with running totals, so ``add`` and ``between`` cost two binary searches, however long the
  stretch they cross; the span grows (doubling) when a question reaches beyond it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[str, str]

_SECOND = 1_000_000  # microseconds
_DAY_SECONDS = 86_400
_DAY = _DAY_SECONDS * _SECOND
_ONE_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Offsets are sampled this often to find daylight-saving changes (no zone changes twice in 6 h).
_OFFSET_SAMPLE = 6 * 3600 * _SECOND
# A calendar that finds no working time within this many years is taken to have none.
_SEARCH_LIMIT_DAYS = 366 * 50
_SEARCH_LIMIT = _SEARCH_LIMIT_DAYS * _DAY
_MIN_US = (datetime(1, 1, 3, tzinfo=UTC) - _EPOCH) // _ONE_MICROSECOND
_MAX_US = (datetime(9999, 12, 29, tzinfo=UTC) - _EPOCH) // _ONE_MICROSECOND


class CalendarError(ValueError):
    """A calendar that cannot answer: no working time at all, or beyond the years it can reach."""


def public_holidays(country: str, subdivision: str | None = None) -> Container[date]:
    """The public holidays of a country (ISO 3166 code) and optional subdivision, every year.

    The result answers ``day in holidays`` for any year; pass it (or a set joined with custom
    closures, via :class:`ClosedDates`) as ``closed_dates``.
    """
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


class ClosedDates(Container[date]):
    """Several sources of closed dates as one: public holidays plus a company's own closures."""

    def __init__(self, *sources: Container[date]) -> None:
        self.sources = sources

    def __contains__(self, day: object) -> bool:
        return any(day in source for source in self.sources)


def _clock(text: str) -> int:
    """ "HH:MM" as seconds after midnight; "24:00" allowed."""
    try:
        hours_text, minutes_text = text.split(":")
        hours, minutes = int(hours_text), int(minutes_text)
    except (AttributeError, ValueError):
        raise ValueError(f"{text!r} is not a time of day like '09:30'") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return hours * 3600 + minutes * 60


def _intervals(intervals: Iterable[Interval]) -> tuple[tuple[int, int], ...]:
    """Local intervals as (start, end) seconds; an overnight one ends after 86,400."""
    parsed = []
    for start_text, end_text in intervals:
        start, end = _clock(start_text), _clock(end_text)
        if start == _DAY_SECONDS:
            raise ValueError("An interval cannot start at 24:00")
        if end == start:
            raise ValueError(f"The interval {start_text}-{end_text} is empty")
        parsed.append((start, end if end > start else end + _DAY_SECONDS))
    parsed.sort()
    for (first_start, first_end), (second_start, _second_end) in pairwise(parsed):
        if second_start < first_end:
            raise ValueError(
                f"The intervals starting at {_clock_text(first_start)} and "
                f"{_clock_text(second_start)} overlap"
            )
    return tuple(parsed)


def _clock_text(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _merge(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(segments):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        elif end > start:
            merged.append((start, end))
    return merged


def _subtract(
    segments: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    for hole_start, hole_end in holes:
        kept = []
        for start, end in segments:
            if hole_end <= start or hole_start >= end:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        segments = kept
    return segments


def _year(at: int) -> int:
    return (_EPOCH + timedelta(microseconds=at)).year


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is naive: business calendars need aware datetimes")
    return (moment - _EPOCH) // _ONE_MICROSECOND


class BusinessCalendar:
    """Working hours in one time zone; see the module's conventions."""

    def __init__(
        self,
        time_zone: str | tzinfo,
        weekly: Mapping[str, Sequence[Interval]],
        date_hours: Mapping[date, Sequence[Interval]] | None = None,
        breaks: Mapping[date, Sequence[Interval]] | None = None,
        closed_dates: Container[date] | None = None,
    ) -> None:
        self.time_zone = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
        unknown = set(weekly) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"Unknown weekdays {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        self._weekly = tuple(_intervals(weekly.get(name, ())) for name in WEEKDAYS)
        self._date_hours = {day: _intervals(hours) for day, hours in (date_hours or {}).items()}
        self._breaks = {day: _intervals(hours) for day, hours in (breaks or {}).items()}
        self._closed: Container[date] = closed_dates if closed_dates is not None else frozenset()
        self._wall: dict[date, list[tuple[int, int]]] = {}
        if not any(self._weekly) and not any(self._date_hours.values()):
            raise CalendarError("The calendar has no opening hours at all")
        # The laid-out span: [_low, _high) in UTC microseconds, intervals inside it, and running
        # totals of working time at each interval's start and end.
        self._laid_out = False
        self._low = self._high = 0
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._total_at_start: list[int] = []
        self._total_at_end: list[int] = []

    # --- Public operations -------------------------------------------------------------------

    def add(
        self, start: datetime, delta: timedelta, pauses: Iterable[tuple[datetime, datetime]] = ()
    ) -> datetime:
        """The instant reached after ``delta`` of working time from ``start`` (backwards when
        negative), not counting working time inside ``pauses``."""
        moment = _to_us(start)
        amount = delta // _ONE_MICROSECOND
        paused = self._pauses(pauses)
        if amount == 0:
            result = self._next_open_unpaused(moment, paused)
        elif not paused:
            result = self._add(moment, amount)
        elif amount > 0:
            result = self._add_forward_around(moment, amount, paused)
        else:
            result = self._add_backward_around(moment, amount, paused)
        return self._out(result, start)

    def add_days(self, start: datetime, days: int) -> datetime:
        """The same local wall time ``days`` working days later (earlier when negative).

        A working day is a date with opening hours. When that wall time does not exist on the
        day reached (a daylight-saving gap), the instant just after the gap is returned.
        """
        _to_us(start)
        local = start.astimezone(self.time_zone)
        day = local.date()
        step = 1 if days > 0 else -1
        remaining = abs(days)
        searched = 0
        while remaining:
            day += timedelta(days=step)
            searched += 1
            if searched > _SEARCH_LIMIT_DAYS:
                raise CalendarError("No working day within 50 years")
            if self._wall_segments(day):
                remaining -= 1
        reached = datetime.combine(day, local.time(), tzinfo=self.time_zone)
        # Through UTC and back: a wall time skipped by a daylight-saving change moves past it.
        return reached.astimezone(UTC).astimezone(start.tzinfo)

    def between(
        self, a: datetime, b: datetime, pauses: Iterable[tuple[datetime, datetime]] = ()
    ) -> timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``), less pauses."""
        first, second = _to_us(a), _to_us(b)
        sign = 1
        if second < first:
            first, second, sign = second, first, -1
        worked = self._between(first, second)
        for pause_start, pause_end in self._pauses(pauses):
            low, high = max(pause_start, first), min(pause_end, second)
            if low < high:
                worked -= self._between(low, high)
        return timedelta(microseconds=sign * worked)

    def is_open(self, moment: datetime) -> bool:
        at = _to_us(moment)
        self._cover(at, at)
        index = bisect_right(self._starts, at) - 1
        return index >= 0 and at < self._ends[index]

    def next_opening(self, moment: datetime) -> datetime:
        """``moment`` itself when open, else the start of the next opening interval."""
        return self._out(self._next_opening(_to_us(moment)), moment)

    def previous_closing(self, moment: datetime) -> datetime:
        """``moment`` itself when inside an interval or at its end, else the last closing."""
        at = _to_us(moment)
        while True:
            self._cover(at, at)
            index = bisect_right(self._starts, at) - 1
            if index >= 0:
                return self._out(at if at <= self._ends[index] else self._ends[index], moment)
            self._grow_backward()

    # --- Working-time arithmetic on UTC microseconds -----------------------------------------

    def _position(self, at: int) -> int:
        """Working time from the start of the laid-out span to ``at`` (which it must contain)."""
        index = bisect_right(self._starts, at) - 1
        if index < 0:
            return 0
        if at < self._ends[index]:
            return self._total_at_start[index] + at - self._starts[index]
        return self._total_at_end[index]

    def _between(self, first: int, second: int) -> int:
        self._cover(first, second)
        return self._position(second) - self._position(first)

    def _add(self, at: int, amount: int) -> int:
        if amount == 0:
            return self._next_opening(at)
        self._cover(at, at)
        while True:
            target = self._position(at) + amount
            if amount > 0 and target > (self._total_at_end[-1] if self._ends else 0):
                self._grow_forward()
                continue
            if amount < 0 and target < 0:
                self._grow_backward()
                continue
            if amount > 0:
                index = bisect_left(self._total_at_end, target)
                return self._ends[index] - (self._total_at_end[index] - target)
            index = bisect_right(self._total_at_start, target) - 1
            return self._starts[index] + (target - self._total_at_start[index])

    def _next_opening(self, at: int) -> int:
        while True:
            self._cover(at, at)
            index = bisect_right(self._starts, at) - 1
            if index >= 0 and at < self._ends[index]:
                return at
            if index + 1 < len(self._starts):
                return self._starts[index + 1]
            self._grow_forward()

    def _next_open_unpaused(self, at: int, pauses: list[tuple[int, int]]) -> int:
        at = self._next_opening(at)
        for pause_start, pause_end in pauses:
            if pause_start <= at < pause_end:
                at = self._next_opening(pause_end)
        return at

    def _add_forward_around(self, at: int, amount: int, pauses: list[tuple[int, int]]) -> int:
        for pause_start, pause_end in pauses:
            if pause_end <= at:
                continue
            reached = self._add(at, amount)
            if reached <= pause_start:
                return reached
            if pause_start > at:
                amount -= self._between(at, pause_start)
            at = max(at, pause_end)
        return self._add(at, amount)

    def _add_backward_around(self, at: int, amount: int, pauses: list[tuple[int, int]]) -> int:
        for pause_start, pause_end in reversed(pauses):
            if pause_start >= at:
                continue
            reached = self._add(at, amount)
            if reached >= pause_end:
                return reached
            if pause_end < at:
                amount += self._between(pause_end, at)
            at = min(at, pause_start)
        return self._add(at, amount)

    @staticmethod
    def _pauses(pauses: Iterable[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
        spans = [(_to_us(begin), _to_us(end)) for begin, end in pauses]
        merged: list[tuple[int, int]] = []
        for begin, end in sorted(spans):
            if end <= begin:
                continue
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((begin, end))
        return merged

    def _out(self, at: int, like: datetime) -> datetime:
        result = _EPOCH + timedelta(microseconds=at)
        return result if like.tzinfo is UTC else result.astimezone(like.tzinfo)

    # --- Laying out the working intervals ----------------------------------------------------

    def _cover(self, first: int, last: int) -> None:
        """Make sure the laid-out span contains [first, last]."""
        if self._laid_out and self._low <= first and last < self._high:
            return
        if first < _MIN_US or last >= _MAX_US:
            raise CalendarError("Business calendars reach from the year 1 to the year 9999")
        if self._laid_out:
            first, last = min(first, self._low), max(last, self._high - 1)
        # Whole UTC years, with at least a year to spare on each side of what was asked.
        low_year = max(1, _year(first) - 1)
        high_year = _year(last) + 2
        low = max(_MIN_US, _to_us(datetime(low_year, 1, 1, tzinfo=UTC)))
        high = _to_us(datetime(high_year, 1, 1, tzinfo=UTC)) if high_year <= 9999 else _MAX_US
        self._layout(low, min(high, _MAX_US))

    def _grow_forward(self) -> None:
        idle = self._high - (self._ends[-1] if self._ends else self._low)
        if idle > _SEARCH_LIMIT or self._high >= _MAX_US:
            raise CalendarError("The calendar has no working time in the 50 years ahead")
        span = max(self._high - self._low, 366 * _DAY)
        self._layout(self._low, min(_MAX_US, self._high + span))

    def _grow_backward(self) -> None:
        idle = (self._starts[0] if self._starts else self._high) - self._low
        if idle > _SEARCH_LIMIT or self._low <= _MIN_US:
            raise CalendarError("The calendar has no working time in the 50 years before")
        span = max(self._high - self._low, 366 * _DAY)
        self._layout(max(_MIN_US, self._low - span), self._high)

    def _layout(self, low: int, high: int) -> None:
        segments: list[tuple[int, int]] = []
        for piece_start, piece_end, offset in self._offset_pieces(low, high):
            first_day = (piece_start + offset) // _DAY
            last_day = (piece_end - 1 + offset) // _DAY
            for day_number in range(first_day, last_day + 1):
                midnight = day_number * _DAY - offset  # UTC instant of the local wall midnight
                day = date.fromordinal(_EPOCH_ORDINAL + day_number)
                for start, end in self._wall_segments(day):
                    begin = max(midnight + start * _SECOND, piece_start)
                    finish = min(midnight + end * _SECOND, piece_end)
                    if begin < finish:
                        segments.append((begin, finish))
        starts: list[int] = []
        ends: list[int] = []
        for begin, finish in sorted(segments):
            if ends and begin <= ends[-1]:
                ends[-1] = max(ends[-1], finish)
            else:
                starts.append(begin)
                ends.append(finish)
        total = 0
        at_start, at_end = [], []
        for begin, finish in zip(starts, ends, strict=True):
            at_start.append(total)
            total += finish - begin
            at_end.append(total)
        self._laid_out = True
        self._low, self._high = low, high
        self._starts, self._ends = starts, ends
        self._total_at_start, self._total_at_end = at_start, at_end

    def _offset(self, at: int) -> int:
        moment = _EPOCH + timedelta(microseconds=at)
        offset = moment.astimezone(self.time_zone).utcoffset()
        assert offset is not None
        return offset // _ONE_MICROSECOND

    def _offset_pieces(self, low: int, high: int) -> list[tuple[int, int, int]]:
        """[low, high) cut where the zone's UTC offset changes: (start, end, offset) pieces.

        ``low`` and ``high`` are whole seconds, and so are the changes of every real zone.
        """
        pieces = []
        piece_start, offset = low, self._offset(low)
        probe = low
        while probe < high:
            following = min(probe + _OFFSET_SAMPLE, high)
            next_offset = self._offset(following)
            if next_offset != offset:
                before, after = probe, following  # offset at before; next_offset at after
                while after - before > _SECOND:
                    middle = before + (after - before) // _SECOND // 2 * _SECOND
                    if self._offset(middle) == offset:
                        before = middle
                    else:
                        after = middle
                if after < high:  # a change exactly at the end needs no cut
                    pieces.append((piece_start, after, offset))
                    piece_start, offset = after, self._offset(after)
            probe = following
        pieces.append((piece_start, high, offset))
        return pieces

    def _wall_segments(self, day: date) -> list[tuple[int, int]]:
        """The working wall-clock seconds of a local date, merged, within [0, 86,400)."""
        found = self._wall.get(day)
        if found is None:
            found = self._wall[day] = self._compute_wall_segments(day)
        return found

    def _own_intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        if day in self._closed:
            return ()
        hours = self._date_hours.get(day)
        return hours if hours is not None else self._weekly[day.weekday()]

    def _compute_wall_segments(self, day: date) -> list[tuple[int, int]]:
        previous = day - timedelta(days=1)
        segments = [(start, min(end, _DAY_SECONDS)) for start, end in self._own_intervals(day)]
        segments += [
            (0, end - _DAY_SECONDS)
            for _start, end in self._own_intervals(previous)
            if end > _DAY_SECONDS
        ]
        holes = [(start, min(end, _DAY_SECONDS)) for start, end in self._breaks.get(day, ())]
        holes += [
            (0, end - _DAY_SECONDS)
            for _start, end in self._breaks.get(previous, ())
            if end > _DAY_SECONDS
        ]
        return _merge(_subtract(_merge(segments), holes))

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.time_zone!s})"
