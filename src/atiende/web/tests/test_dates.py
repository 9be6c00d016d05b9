"""``web.dates.local_datetime`` writes exactly what Django's ``date_format`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation
from django.utils.formats import date_format

from atiende.web.dates import _formatted, local_datetime, time_ago


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("zone", ["Europe/Madrid", "America/Mexico_City", "UTC"])
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 2, 15, 4, 5, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
        datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 7, 9, 23, 30, tzinfo=UTC),
        datetime(2026, 7, 9, 8, 5, 9, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 12, 24, 23, 59, 59, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("name", ["DATETIME_FORMAT", "SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT"])
def test_same_text_as_date_format(language: str, zone: str, moment: datetime, name: str) -> None:
    with translation.override(language), timezone.override(zone):
        expected = date_format(timezone.localtime(moment), name)
        assert _formatted(moment, name) == expected
        if name == "DATETIME_FORMAT":
            assert local_datetime(moment) == expected


@pytest.mark.parametrize(
    ("ago", "english", "spanish"),
    [
        (timedelta(seconds=20), "just now", "ahora mismo"),
        (timedelta(minutes=7, seconds=59), "7 min ago", "hace 7 min"),
        (timedelta(hours=5, minutes=59), "5 h ago", "hace 5 h"),
        (timedelta(days=3, hours=2), "3 d ago", "hace 3 d"),
    ],
)
def test_time_ago_in_both_languages(ago: timedelta, english: str, spanish: str) -> None:
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    with translation.override("en"):
        assert time_ago(now - ago, now) == english
    with translation.override("es"):
        assert time_ago(now - ago, now) == spanish


def test_time_ago_past_a_month_is_the_date() -> None:
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    with translation.override("es"), timezone.override("Europe/Madrid"):
        assert time_ago(datetime(2026, 8, 14, 23, 30, tzinfo=UTC), now) == "15/08/2026"
