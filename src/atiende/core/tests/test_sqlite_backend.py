"""The project's SQLite backend: Django's, with placeholder conversion remembered and the rows a
transaction wrote counted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def only_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend")


def test_statements_run_as_with_djangos_backend_and_each_is_converted_once() -> None:
    from atiende.core.sqlite.base import qmark_style

    statement = "SELECT %s, '100%%', %s || '%%s'"
    converted_before = qmark_style.cache_info()
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(statement, [1, "a"])
            assert cursor.fetchone() == (1, "100%", "a%s")
        # Named parameters (pyformat) are converted as Django converts them.
        cursor.execute("SELECT %(first)s + %(second)s", {"first": 2, "second": 3})
        assert cursor.fetchone() == (5,)
    converted = qmark_style.cache_info()
    assert converted.misses == converted_before.misses + 1
    assert converted.hits >= converted_before.hits + 2
    assert qmark_style(statement) == "SELECT ?, '100%', ? || '%s'"


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


@pytest.mark.django_db(transaction=True)
def test_a_transaction_counts_the_rows_it_wrote_and_nothing_outside_one(brand, system) -> None:
    """What an optimistic batch tells a failed item's writes by (core/batching.py): rows inserted
    or updated count, a read or an update that matched nothing does not, and outside a
    transaction (or after SQLite rolled one back on its own) there is no count to trust."""
    from django.db import transaction

    from atiende.customers.actions import create_customer
    from atiende.customers.models import Customer

    sqlite: Any = connection  # (the project's backend: rows_written is its own)
    sqlite.ensure_connection()
    assert sqlite.rows_written() is None
    with transaction.atomic():
        before = sqlite.rows_written()
        assert before is not None
        list(Customer.objects.all())
        with sqlite.cursor() as cursor:
            cursor.execute("UPDATE customers_customer SET name = name WHERE id = -1")
        assert sqlite.rows_written() == before
        create_customer(brand=brand, actor=system, name="Ana")
        assert sqlite.rows_written() > before
    assert sqlite.rows_written() is None
