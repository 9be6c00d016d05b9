"""The project's SQLite backend: Django's, with placeholder conversion remembered."""

from __future__ import annotations

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def only_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend")


def test_statements_run_as_with_djangos_backend_and_each_is_converted_once() -> None:
    from atiende.core.sqlite.base import _qmark_style

    statement = "SELECT %s, '100%%', %s || '%%s'"
    converted_before = _qmark_style.cache_info()
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(statement, [1, "a"])
            assert cursor.fetchone() == (1, "100%", "a%s")
        # Named parameters (pyformat) are converted as Django converts them.
        cursor.execute("SELECT %(first)s + %(second)s", {"first": 2, "second": 3})
        assert cursor.fetchone() == (5,)
    converted = _qmark_style.cache_info()
    assert converted.misses == converted_before.misses + 1
    assert converted.hits >= converted_before.hits + 2
    assert _qmark_style(statement) == "SELECT ?, '100%', ? || '%s'"


def test_the_settings_choose_it() -> None:
    from django.conf import settings

    from atiende.core.sqlite.base import DatabaseWrapper

    assert settings.DATABASES["default"]["ENGINE"] == "atiende.core.sqlite"
    assert isinstance(connections["default"], DatabaseWrapper)


def test_every_commit_is_synced_to_disk() -> None:
    # WAL with synchronous=FULL (2): a stored message survives a power cut once acknowledged;
    # NORMAL (1) would keep it only through a crash of the process.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone() == (2,)
