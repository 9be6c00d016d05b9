"""Reads on the hottest paths, written with the ORM and compiled by it once per process.

Building a queryset and compiling it to SQL costs the ORM far more than SQLite takes to run the
statement: on the API's GET of a conversation, compiling alone was 30 % of the request and
running the statements 4 % (bench/api.py's profile; bench/README.md, "API under load"). A :class:`PreparedRead` is written as an ordinary ``values_list`` queryset whose
varying values are named parameters; the first call per database (and per length of each list
parameter) builds and compiles it with stand-in values, and every later call runs the same SQL
with the real values, the ORM's converters applied to the rows as the queryset would.

On PostgreSQL the statement also goes with its parameters apart (server-side binding), and
psycopg prepares it on the connection after a few runs, so PostgreSQL plans it once per
connection: planning the API's conversation read takes 2.4 ms, running it 0.15 ms
(bench/api.py prints both on PostgreSQL).
(Behind a pooler in transaction mode, use PgBouncer 1.21 or later, or turn preparing off with
``ATIENDE_DB_PREPARED_STATEMENTS=false``.)

Only for reads that run on nearly every request, stay one shape, and whose parameters the ORM
passes through untouched (``=``, ``IN``; a time compared with a ``DateTimeField``, which
:class:`PreparedRead` converts as the field does): compilation checks that each stand-in value
arrives in the statement's parameters as it was given, and refuses the read otherwise. And
only where one plan serves every value (a key's lookup, not a search): PostgreSQL keeps one
generic plan for every prepared statement (``plan_cache_mode`` in the settings).
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from atiende.core.statements import run

# Stand-in values: numbers and strings no real parameter has.
_INT_BASE = -(2**62)
_TEXT_MARK = "\x00prepared-read\x00"
_LISTS = (list, list[str])
_KINDS = (int, str, datetime.datetime, *_LISTS)
# Stand-in times: microseconds after a moment no real parameter is (far enough from the ends of
# the calendar to be moved to any zone).
_FIRST_MOMENT = datetime.datetime(1901, 2, 3, 4, 5, 6, 700_000, tzinfo=datetime.UTC)


# Lists up to this long are padded to a power of two (PreparedRead); SQLite takes 32,766
# parameters, PostgreSQL 65,535.
_PADDED_UP_TO = 1024


def _padded(values: Any) -> list[Any]:
    items = list(values)
    if not items or len(items) > _PADDED_UP_TO:
        return items
    length = 1 << (len(items) - 1).bit_length()
    return items + [items[-1]] * (length - len(items))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each statement parameter: (name, index in a list parameter or None), or None with
    # the constant the ORM put there.
    slots: tuple[tuple[str, int | None] | None, ...]
    constants: tuple[Any, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]


class PreparedRead:
    """``build(**parameters)`` returns a ``values_list`` queryset; :meth:`rows` runs it.

    ``parameters`` names each parameter and its kind: ``int``, ``str``, ``datetime`` (an aware
    one, compared with a ``DateTimeField``: passed to the database as the field passes it),
    ``list`` (of ints) or ``list[str]``, the values of an ``IN (...)``. A list's length is part
    of the statement, so a list is padded to the next power of two by repeating its last value
    (which ``IN`` does not mind): a read asked about 3, then 5, then 300 values compiles the
    lengths 4, 8 and 512 once each, not a statement per length (a batch of inbound mail asks
    about a different number of Message-IDs every time). Lists longer than ``_PADDED_UP_TO``
    are taken as they are (the padding could pass a database's limit on parameters).
    """

    def __init__(self, build: Callable[..., QuerySet[Any]], **parameters: Any) -> None:
        for name, kind in parameters.items():
            if kind not in _KINDS:
                raise TypeError(
                    f"parameter {name}: int, str, datetime, list or list[str], not {kind!r}"
                )
        self.build = build
        self.parameters = parameters
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}
        self._lock = threading.Lock()

    def rows(self, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        if values.keys() != self.parameters.keys():
            raise TypeError(f"expected {sorted(self.parameters)}, got {sorted(values)}")
        connection = connections[using]
        values = {
            name: _padded(value)
            if self.parameters[name] in _LISTS
            else (
                _time_for(connection, name, value)
                if self.parameters[name] is datetime.datetime
                else value
            )
            for name, value in values.items()
        }
        shape = (
            using,
            connection.vendor,
            connection.settings_dict["NAME"],
            *(len(values[name]) for name, kind in self.parameters.items() if kind in _LISTS),
        )
        compiled = self._compiled.get(shape)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(shape) or self._compile(using, values)
                self._compiled[shape] = compiled
        parameters = [
            compiled.constants[position]
            if slot is None
            else (values[slot[0]] if slot[1] is None else values[slot[0]][slot[1]])
            for position, slot in enumerate(compiled.slots)
        ]
        fetched = fetch_all(connection, compiled.sql, parameters)
        if not compiled.converters:
            return [tuple(row) for row in fetched]
        converted = []
        for row in fetched:
            cells = list(row)
            for position, functions, expression in compiled.converters:
                value = cells[position]
                for function in functions:
                    value = function(value, expression, connection)
                cells[position] = value
            converted.append(tuple(cells))
        return converted

    def _compile(self, using: str, values: dict[str, Any]) -> _Compiled:
        counter = itertools.count()
        stand_ins: dict[str, Any] = {}
        where: dict[Any, tuple[str, int | None]] = {}
        for name, kind in self.parameters.items():
            if kind is int:
                stand_ins[name] = _INT_BASE - next(counter)
                where[stand_ins[name]] = (name, None)
            elif kind is str:
                stand_ins[name] = f"{_TEXT_MARK}{next(counter)}"
                where[stand_ins[name]] = (name, None)
            elif kind is datetime.datetime:
                stand_ins[name] = _FIRST_MOMENT + datetime.timedelta(microseconds=next(counter))
                where[_time_for(connections[using], name, stand_ins[name])] = (name, None)
            else:
                stand_ins[name] = [
                    f"{_TEXT_MARK}{next(counter)}"
                    if kind == list[str]
                    else _INT_BASE - next(counter)
                    for _ in values[name]
                ]
                for index, stand_in in enumerate(stand_ins[name]):
                    where[stand_in] = (name, index)
        queryset = self.build(**stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, statement_parameters = compiler.as_sql()
        slots: list[tuple[str, int | None] | None] = []
        constants: list[Any] = []
        for parameter in statement_parameters:
            slot = (
                where.get(parameter)
                if isinstance(parameter, int | str | datetime.datetime)
                else None
            )
            slots.append(slot)
            constants.append(None if slot is not None else parameter)
        missing = set(where.values()) - {slot for slot in slots if slot is not None}
        if missing:
            raise ValueError(
                f"the ORM changed or dropped parameters {sorted(missing)}: not preparable"
            )
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(fields).items()
        )
        return _Compiled(
            sql=sql, slots=tuple(slots), constants=tuple(constants), converters=converters
        )


def _time_for(connection: Any, name: str, value: datetime.datetime) -> Any:
    """An aware time as a ``DateTimeField`` passes it to the database (on SQLite a text in the
    connection's zone). A naive one is refused: the ORM would take it to be in the current zone,
    with a warning."""
    if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
        raise ValueError(f"parameter {name}: an aware datetime, not {value!r}")
    return connection.ops.adapt_datetimefield_value(value)


def fetch_all(connection: Any, sql: str, parameters: list[Any]) -> list[Any]:
    """Run ``sql``; on PostgreSQL through a cursor that binds parameters on the server, which
    psycopg prepares after a few runs of the same statement (``prepare_threshold`` in the
    settings; the project's other statements bind on the client, Django's default, and are never
    prepared). A prepared statement is planned once, for any values (``plan_cache_mode`` in the
    settings): only for a statement whose best plan does not depend on its values."""
    if connection.vendor != "postgresql":
        return run(connection, sql, parameters, fetch=True).rows or []
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    started = time.monotonic()
    with connection.wrap_database_errors:
        raw_cursor = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
        with connection.make_cursor(raw_cursor) as cursor:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
    if connection.queries_logged:
        # Django's debug cursor reads the statement back from psycopg, which keeps no text for a
        # prepared one: recorded here as Django records it (tests count and read these).
        connection.queries_log.append(
            {
                "sql": connection.ops.compose_sql(sql, parameters),
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return rows
