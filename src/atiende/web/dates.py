"""Dates as people read them, in the active language and time zone, fast enough for lists.

``date_format`` parses its format string on every call (a regular-expression split and
un-escaping of its literal parts); lists that show a date on each of fifty rows (the inbox, the
timeline, SLA badges) spent a measurable share of the page there. The format of each language is
parsed once here and applied with Django's own ``DateFormat``, so the text is the same.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _


@lru_cache(maxsize=32)
def _pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    """(is a format character, text) in order, literal parts already un-escaped."""
    pieces = []
    for index, piece in enumerate(dateformat.re_formatchars.split(format_string)):
        if index % 2:
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, dateformat.re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


# Format characters whose text depends on the calendar day alone (and the language): kept per
# day, so the fifty dates of a page, spread over a few days, translate a month name a few times
# rather than fifty.
_DAY_ONLY = frozenset("bdDEFjlLmMnNoStwWyYz")
# Time of day, written directly: Django's DateFormat works out the zone's ambiguity first.
_TIME_OF_DAY = {
    "H": lambda moment: f"{moment.hour:02d}",
    "G": lambda moment: str(moment.hour),
    "i": lambda moment: f"{moment.minute:02d}",
    "s": lambda moment: f"{moment.second:02d}",
}


@lru_cache(maxsize=4096)
def _day_text(language: str | None, day: date, piece: str) -> str:
    return str(getattr(dateformat.DateFormat(day), piece)())


def _formatted(moment: datetime, format_name: str) -> str:
    local = timezone.localtime(moment)
    language = get_language()
    day = local.date()
    formatter = None
    parts = []
    for is_code, piece in _pieces(str(get_format(format_name))):
        if not is_code:
            parts.append(piece)
        elif piece in _DAY_ONLY:
            parts.append(_day_text(language, day, piece))
        elif piece in _TIME_OF_DAY:
            parts.append(_TIME_OF_DAY[piece](local))
        else:
            formatter = formatter or dateformat.DateFormat(local)
            parts.append(str(getattr(formatter, piece)()))
    return "".join(parts)


def local_datetime(moment: datetime) -> str:
    """``moment`` in the current time zone, written as the language's ``DATETIME_FORMAT``."""
    return _formatted(moment, "DATETIME_FORMAT")


def local_date(moment: datetime) -> str:
    """``moment``'s day in the current time zone, as the language's ``SHORT_DATE_FORMAT``."""
    return _formatted(moment, "SHORT_DATE_FORMAT")


def time_ago(moment: datetime, now: datetime) -> str:
    """How long ago, as a list column says it: "3 min ago", "5 h ago", "2 d ago"; past a month,
    the date. (humanize's ``naturaltime`` says it in more words, at several times the cost.)"""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return _("just now")
    minutes = int(seconds // 60)
    if minutes < 60:
        return _("%(minutes)d min ago") % {"minutes": minutes}
    hours = minutes // 60
    if hours < 24:
        return _("%(hours)d h ago") % {"hours": hours}
    days = hours // 24
    if days <= 30:
        return _("%(days)d d ago") % {"days": days}
    return local_date(moment)
