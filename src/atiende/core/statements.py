"""Statements the project built once, run on SQLite without Django's cursor around them.

``core.actions`` writes a new row or a saved row's named fields, and ``core.prepared`` reads,
with SQL built once per process; the inbound chain runs about four of them per message. Through
Django's cursor each paid more in Python than SQLite took for a small one: a cursor object
made, wrapped and closed, the connection checked three times over, the placeholders' style
asked about, two error wrappers (``bench/insert_returning.py`` compares a one-row INSERT through
Django's cursor and through :func:`run`). :func:`run` takes the short way on SQLite and keeps
what Django's cursor does that matters: the connection opened when it is not, used only by its
own thread, refused after an error inside an atomic block that was not rolled back, SQLite's
errors raised as Django's (``IntegrityError``...), and the connection's execute wrappers called
(what counts or times statements). Where Django keeps a log of the statements (``DEBUG``,
``CaptureQueriesContext``), and on PostgreSQL, the statement goes through Django's cursor as
before.
"""

from __future__ import annotations

import functools
from _thread import get_ident
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connections
from django.utils.connection import ConnectionProxy

from atiende.core.sqlite.base import qmark_style


class Ran(NamedTuple):
    """What a statement gave: its rows (when asked for), the rows it changed, the new row's id."""

    rows: list[Any] | None
    rowcount: int
    lastrowid: int | None


def run(
    connection: Any,
    sql: str,
    parameters: Sequence[Any],
    *,
    many: bool = False,
    fetch: bool = False,
    writes: bool = False,
) -> Ran:
    """Run ``sql`` (``%s`` placeholders) with ``parameters`` (with ``many``: a list of them, one
    run each); ``fetch``: return its rows. ``writes``: an error marks the atomic block it ran in
    for rollback, as ``save()`` does (``transaction.mark_for_rollback_on_error``)."""
    if isinstance(connection, ConnectionProxy):
        # django.db.connection finds this thread's connection again at every attribute.
        connection = connections[connection.alias]
    try:
        if connection.vendor == "sqlite" and not connection.queries_logged:
            return _run_on_sqlite(connection, sql, parameters, many, fetch)
        with connection.cursor() as cursor:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            rows = cursor.fetchall() if fetch else None
            # (psycopg's cursors have no lastrowid.)
            return Ran(rows, cursor.rowcount, getattr(cursor, "lastrowid", None))
    except Exception as error:
        if writes and connection.in_atomic_block:
            connection.needs_rollback = True
            connection.rollback_exc = error
        raise


def _run_on_sqlite(
    connection: Any, sql: str, parameters: Sequence[Any], many: bool, fetch: bool
) -> Ran:
    # What Django's cursor() and CursorWrapper.execute check, in the same order, each asked
    # only when it can fail (Django's own method then raises as it would).
    if connection.connection is None or connection.health_check_enabled:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    if connection._thread_ident != get_ident():
        connection.validate_thread_sharing()
    if connection.needs_rollback:
        connection.validate_no_broken_transaction()
    if connection.execute_wrappers:
        cursor = connection.connection.cursor()
        executor: Any = functools.partial(_execute, connection, cursor)
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        executor(sql, parameters, many, {"connection": connection, "cursor": cursor})
        with connection.wrap_database_errors:
            return Ran(cursor.fetchall() if fetch else None, cursor.rowcount, cursor.lastrowid)
    with connection.wrap_database_errors:
        if many:
            cursor = connection.connection.executemany(qmark_style(sql), parameters)
        else:
            cursor = connection.connection.execute(qmark_style(sql), parameters)
        return Ran(cursor.fetchall() if fetch else None, cursor.rowcount, cursor.lastrowid)


def _execute(
    connection: Any, cursor: Any, sql: str, parameters: Sequence[Any], many: bool, *_context: Any
) -> Any:
    with connection.wrap_database_errors:
        if many:
            return cursor.executemany(qmark_style(sql), parameters)
        return cursor.execute(qmark_style(sql), parameters)
