"""core.statements.run: Django's cursor's behaviour, without its cursor on SQLite."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from atiende.core.statements import run


@pytest.fixture
def table(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE atiende_statements_test (id integer PRIMARY KEY, name varchar(20) UNIQUE)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE atiende_statements_test")


def djangos(sql: str, parameters: list[Any], *, many: bool = False, fetch: bool = False) -> Any:
    with connection.cursor() as cursor:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        return (cursor.fetchall() if fetch else None, cursor.rowcount)


def test_rows_counts_and_new_ids_are_what_djangos_cursor_gives(table):
    inserted = run(
        connection, "INSERT INTO atiende_statements_test (id, name) VALUES (%s, %s)", [1, "ana"]
    )
    assert inserted.rowcount == 1
    if connection.vendor == "sqlite":
        assert inserted.lastrowid == 1
    returned = run(
        connection,
        "INSERT INTO atiende_statements_test (id, name) VALUES (%s, %s) RETURNING id",
        [2, "100%"],
        fetch=True,
    )
    assert returned.rows == [(2,)]
    many = run(
        connection,
        "UPDATE atiende_statements_test SET name = %s WHERE id = %s",
        [["ana2", 1], ["berta", 2]],
        many=True,
    )
    assert (
        many.rowcount
        == djangos(
            "UPDATE atiende_statements_test SET name = %s WHERE id = %s",
            [["ana2", 1], ["berta", 2]],
            many=True,
        )[1]
    )
    read = "SELECT id, name, %s FROM atiende_statements_test WHERE name LIKE '%%a%%' ORDER BY id"
    assert run(connection, read, ["x"], fetch=True).rows == djangos(read, ["x"], fetch=True)[0]
    assert run(connection, read, ["x"], fetch=True).rows == [(1, "ana2", "x"), (2, "berta", "x")]


def test_an_error_is_djangos_and_a_write_breaks_the_atomic_block_it_ran_in(table):
    insert = "INSERT INTO atiende_statements_test (id, name) VALUES (%s, %s)"
    run(connection, insert, [1, "ana"])
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            run(connection, insert, [2, "ana"], writes=True)
        assert connection.needs_rollback
        # As with Django's cursor: nothing more runs until the block is rolled back.
        with pytest.raises(TransactionManagementError):
            run(connection, "SELECT 1 FROM atiende_statements_test", [], fetch=True)
    broken = []

    def read_like_failure() -> None:
        with transaction.atomic():
            try:
                run(connection, insert, [3, "ana"])
            finally:
                broken.append(connection.needs_rollback)

    with pytest.raises(IntegrityError):
        read_like_failure()
    assert broken == [False]  # not said to write: the caller decides


def test_the_connections_execute_wrappers_see_every_statement(table):
    seen = []

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, many))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        run(
            connection, "INSERT INTO atiende_statements_test (id, name) VALUES (%s, %s)", [1, "ana"]
        )
        rows = run(connection, "SELECT name FROM atiende_statements_test", [], fetch=True).rows
    assert rows == [("ana",)]
    assert seen == [
        ("INSERT INTO atiende_statements_test (id, name) VALUES (%s, %s)", False),
        ("SELECT name FROM atiende_statements_test", False),
    ]


def test_a_logged_connection_logs_the_statement_as_django_does(table):
    with CaptureQueriesContext(connection) as queries:
        run(
            connection,
            "SELECT count(*) FROM atiende_statements_test WHERE id = %s",
            [5],
            fetch=True,
        )
    assert [query["sql"] for query in queries.captured_queries] == [
        "SELECT count(*) FROM atiende_statements_test WHERE id = 5"
    ]


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_opened_again(table):
    connection.close()
    assert run(connection, "SELECT 1", [], fetch=True).rows == [(1,)]


def test_another_thread_may_not_use_the_connection(table):
    raised: list[BaseException] = []

    def use() -> None:
        try:
            run(connection_of_main_thread, "SELECT 1", [], fetch=True)
        except BaseException as error:
            raised.append(error)

    connection_of_main_thread = connections["default"]
    connection_of_main_thread.ensure_connection()
    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert len(raised) == 1
    assert isinstance(raised[0], DatabaseError)
