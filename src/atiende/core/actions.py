"""The one way to change domain state: functions decorated with :func:`action`.

An action checks permission, runs in one transaction, appends one event row and schedules its
side effects with ``transaction.on_commit``. Models that must only change through actions derive
from :class:`ActionWrittenModel`; their ``save``/``delete`` and their querysets' bulk writes raise
:class:`WriteOutsideAction` when no action is running, so a stray ``.save()`` in a view, a signal
or a template tag fails loudly in tests instead of silently skipping the event log.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import (
    DatabaseError,
    connection,
    connections,
    models,
    router,
    transaction,
)
from django.db.models import signals
from django.db.models.base import ModelState

from atiende.core.batching import in_batch_item
from atiende.core.construction import FastKeywordInit, prepare_related_fields
from atiende.core.db_values import ValueReader, value_readers
from atiende.core.statements import run

P = ParamSpec("P")
R = TypeVar("R")

_running_action: ContextVar[str | None] = ContextVar("atiende_running_action", default=None)


class WriteOutsideAction(RuntimeError):
    """A guarded model was written without going through an action."""


def running_action() -> str | None:
    """The qualified name of the action running in this context, if any."""
    return _running_action.get()


def action(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` as an action: inside one transaction, with guarded writes allowed.

    Nested actions join the outer transaction (a savepoint), so an action may call another.
    Inside an item of a batch (:func:`atiende.core.batching.batch_item`) they take no savepoint
    of their own: the item is undone whole when any part of it fails (by its savepoint, or in an
    optimistic batch as that module says), and an item does not go on after one of its actions
    failed (the service chain's stages catch no action's error; a query after one would raise,
    and an item that went on fails when it ends).
    A savepoint per nested action cost two statements each, two to four per inbound message.
    """
    name = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _running_action.set(name)
        try:
            with transaction.atomic(savepoint=not in_batch_item()):
                return func(*args, **kwargs)
        finally:
            _running_action.reset(token)

    wrapper.is_action = True  # type: ignore[attr-defined]
    return wrapper


def ensure_in_action(what: str) -> None:
    if _running_action.get() is None:
        raise WriteOutsideAction(
            f"{what} may only be written by an action (see atiende.core.actions)"
        )


class ActionWrittenQuerySet(models.QuerySet):
    """A queryset whose bulk writes are refused outside an action."""

    def update(self, **kwargs: Any) -> int:
        ensure_in_action(self.model.__name__)
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        ensure_in_action(self.model.__name__)
        return super().delete()

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        ensure_in_action(self.model.__name__)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        ensure_in_action(self.model.__name__)
        return super().bulk_update(objs, fields, *args, **kwargs)


class ActionWrittenModel(FastKeywordInit):
    """Base for aggregates that change only through actions."""

    objects = ActionWrittenQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(
        self,
        *args: Any,
        force_insert: bool | tuple[Any, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Any = None,
    ) -> None:
        ensure_in_action(type(self).__name__)
        # What the statements built once cover; anything else is the ORM's save() below, as
        # is what _insert or _update turn down (a None or False from them).
        plain = not args and not force_update and not isinstance(force_insert, tuple)
        new = self._state.adding and self.pk is None
        if plain and new and update_fields is None and _insert(self, using):
            return
        named = bool(update_fields) and not isinstance(update_fields, str)
        if plain and not new and not force_insert and named and _update(self, update_fields, using):
            return
        super().save(
            *args,
            force_insert=force_insert,
            force_update=force_update,
            using=using,
            update_fields=update_fields,
        )

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        ensure_in_action(type(self).__name__)
        return super().delete(*args, **kwargs)


# --- new rows and named fields, by statements built once ------------------------------------
#
# ``save()`` builds its INSERT or UPDATE through the ORM's compiler every time: on the inbound
# chain, which inserts a message, often a conversation, a customer and its identity per mail and
# updates the conversation a reply joins, building them cost more Python than SQLite took to run
# them (bench/ingest.py --profile). For an action-written model whose only generated column is
# its automatic primary key, a new row, and a saved row's ``update_fields``, are written with a
# statement built once per model, database (and fields), doing what ``save()`` does: the related
# objects' ids taken, ``pre_save``/``post_save`` sent, each field's ``pre_save`` (``auto_now``
# times, a file field's file) and its conversion for the database, the new key set, the instance
# marked as saved; an update that finds no row raises as ``save()`` does. Anything else (a value
# the database computes, an unknown field name, a forced update) goes to the ORM's ``save()``.


@dataclass(frozen=True)
class _Statement:
    sql: str
    fields: tuple[models.Field, ...]
    # Each field's value for the database, read from an instance (core.db_values).
    readers: tuple[ValueReader, ...]
    # An INSERT's new key: returned by the statement (RETURNING), or else the cursor's lastrowid.
    returns_key: bool = True

    def values(self, instance: models.Model, database: Any) -> list[Any]:
        return [read(instance, database) for read in self.readers]


@functools.cache
def _insert_statement(
    model: type[models.Model], alias: str, unless_present: tuple[str, ...] = ()
) -> _Statement | None:
    """The INSERT of a new row (doing nothing if one with the same ``unless_present`` values
    exists), or None when the model needs the ORM's own ``save()``."""
    meta = model._meta
    if (
        meta.proxy
        or meta.parents
        or meta.auto_created
        or meta.order_with_respect_to is not None
        or meta.auto_field is None
        or meta.auto_field is not meta.pk
        or list(meta.db_returning_fields) != [meta.pk]
    ):
        return None
    database = connections[alias]
    if not database.features.can_return_columns_from_insert:
        return None  # (a database without INSERT ... RETURNING: the ORM's way)
    fields = tuple(
        field
        for field in meta.local_concrete_fields
        if not field.generated and field is not meta.auto_field
    )
    # SQLite runs RETURNING as a trigger on the statement, and for a table of many indexes that
    # doubled a one-row insert (a conversation's, bench/insert_returning.py); the key of the one
    # row a statement inserted is the connection's last rowid there, for nothing.
    returns_key = database.vendor != "sqlite"
    returned = (meta.pk,) if returns_key else ()
    return _Statement(
        _insert_sql(model, alias, fields, unless_present, 1, returned),
        fields,
        value_readers(fields, database, add=True),
        returns_key,
    )


def _insert_sql(
    model: type[models.Model],
    alias: str,
    fields: Sequence[models.Field],
    unless_present: tuple[str, ...],
    count: int,
    returned: Sequence[Any],
) -> str:
    """``INSERT`` of ``count`` rows of ``fields``, doing nothing for a row whose
    ``unless_present`` values exist (ON CONFLICT: SQLite 3.24+ and PostgreSQL read it alike), and
    returning the ``returned`` fields of each row inserted."""
    meta = model._meta
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    target = ", ".join(quote(str(meta.get_field(name).column)) for name in unless_present)  # type: ignore[union-attr]
    conflict = f" ON CONFLICT ({target}) DO NOTHING" if unless_present else ""
    returning = ", ".join(quote(str(field.column)) for field in returned)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * count)}"  # noqa: S608 (names, not values)
        f"{conflict}{f' RETURNING {returning}' if returning else ''}"
    )


def _insert(
    instance: models.Model, using: str | None, unless_present: tuple[str, ...] = ()
) -> bool | None:
    """Insert ``instance`` as ``save()`` would: whether a row was inserted (with
    ``unless_present``, none is when one with the same values of those fields exists), or None
    (nothing done) when the ORM's ``save()`` must do it."""
    model = type(instance)
    alias = using or router.db_for_write(model, instance=instance)
    statement = _insert_statement(model, alias, unless_present)
    if statement is None or _holds_expression(instance):
        # A value to be computed by the database (F(), a function...): the ORM compiles it.
        return None
    prepare_related_fields(instance, "save")
    signals.pre_save.send(
        sender=model, instance=instance, raw=False, using=alias, update_fields=None
    )
    database = connections[alias]
    values = statement.values(instance, database)
    ran = run(database, statement.sql, values, fetch=statement.returns_key, writes=True)
    if statement.returns_key:
        pk = ran.rows[0][0] if ran.rows else None
    else:
        pk = ran.lastrowid if ran.rowcount == 1 else None
    if pk is None:
        return False  # (ON CONFLICT DO NOTHING: the row was there)
    _mark_inserted(instance, alias, pk, send_signals=True)
    return True


def insert_unless_present(
    instance: models.Model, unique_fields: Sequence[str], *, using: str | None = None
) -> bool:
    """Insert the new row ``instance`` unless a row with the same values of ``unique_fields``
    (the fields of one of the model's unique constraints) exists: whether it was inserted.

    One statement (``INSERT ... ON CONFLICT DO NOTHING``), however many writers try at once,
    where trying the insert in a savepoint and catching the clash cost three.
    """
    if isinstance(instance, ActionWrittenModel):
        ensure_in_action(type(instance).__name__)
    if not instance._state.adding or instance.pk is not None:
        raise ValueError("insert_unless_present() inserts new rows only")
    inserted = _insert(instance, using, tuple(unique_fields))
    if inserted is None:
        raise TypeError(
            f"{type(instance).__name__}: insert_unless_present() needs a model with an automatic "
            "key and values, not expressions"
        )
    return inserted


def insert_each_unless_present(
    instances: Sequence[models.Model], unique_fields: Sequence[str], *, using: str | None = None
) -> list[bool]:
    """:func:`insert_unless_present` for many new rows of one model: whether each was inserted.

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per chunk (as many rows as the
    database takes parameters for), where a statement per row cost a round trip each. Of several
    ``instances`` with the same ``unique_fields`` values only the first is inserted. The
    ``unique_fields`` are compared as the database returns them (ids, text: what unique keys of
    new rows hold here).
    """
    if not instances:
        return []
    model = type(instances[0])
    if issubclass(model, ActionWrittenModel):
        ensure_in_action(model.__name__)
    key = tuple(unique_fields)
    if not key:
        raise ValueError("insert_each_unless_present() needs the fields of a unique constraint")
    alias = using or router.db_for_write(model, instance=instances[0])
    if len(instances) == 1:
        # (A message delivered on its own: the single-row statement, without matching keys.)
        return [insert_unless_present(instances[0], key, using=alias)]
    statement = _insert_statement(model, alias, key)
    if statement is None or not _plain_new_rows(model, instances):
        raise TypeError(
            f"{model.__name__}: insert_each_unless_present() needs new rows of one model with an "
            "automatic key and values, not expressions"
        )
    positions = [statement.fields.index(model._meta.get_field(name)) for name in key]
    rows, returned = _insert_rows(model, alias, statement, key, instances, send_signals=True)
    # (RETURNING's rows come in no promised order: matched by their key.)
    inserted_ids = {tuple(values): pk for pk, *values in returned}
    results = []
    for instance, row in zip(instances, rows, strict=True):
        pk = inserted_ids.pop(tuple(row[position] for position in positions), None)
        results.append(pk is not None)
        if pk is not None:  # (else there already, or a row before it in ``instances`` had its key)
            _mark_inserted(instance, alias, pk, send_signals=True)
    return results


def insert_each(instances: Sequence[models.Model], *, using: str | None = None) -> None:
    """New rows of one model inserted as ``bulk_create`` inserts them, and doing what it does
    (each field's ``pre_save``, the related objects' ids, no signals; the new keys taken from
    RETURNING in the rows' order, as Django takes them on both databases), by a multi-row
    statement built once per model and row count where ``bulk_create`` compiles one every time.
    A model or values it cannot take (an expression) go to ``bulk_create``.
    """
    if not instances:
        return
    model = type(instances[0])
    if isinstance(model._default_manager.all(), ActionWrittenQuerySet):
        ensure_in_action(model.__name__)  # (as its bulk_create would be)
    alias = using or router.db_for_write(model, instance=instances[0])
    statement = _insert_statement(model, alias)
    if statement is None or not _plain_new_rows(model, instances):
        model._default_manager.using(alias).bulk_create(instances)
        return
    _rows, returned = _insert_rows(model, alias, statement, (), instances, send_signals=False)
    for instance, (pk,) in zip(instances, returned, strict=True):
        _mark_inserted(instance, alias, pk, send_signals=False)


def _plain_new_rows(model: type[models.Model], instances: Sequence[models.Model]) -> bool:
    """Whether every instance is a new row of ``model`` with no value the database computes."""
    return all(
        type(instance) is model
        and instance._state.adding
        and instance.pk is None
        and not _holds_expression(instance)
        for instance in instances
    )


# What a model instance holds that is never an expression: looked up before asking each of a
# row's twenty-odd values for ``resolve_expression`` (a miss each, on every insert).
_PLAIN_TYPES = frozenset(
    {str, int, bool, float, type(None), bytes, datetime.datetime, dict, list, ModelState}
)


def _holds_expression(instance: models.Model) -> bool:
    """Whether a value of ``instance`` is one the database computes (F(), a function...)."""
    return any(
        type(value) not in _PLAIN_TYPES and hasattr(value, "resolve_expression")
        for value in instance.__dict__.values()
    )


def _insert_rows(
    model: type[models.Model],
    alias: str,
    statement: _Statement,
    unless_present: tuple[str, ...],
    instances: Sequence[models.Model],
    *,
    send_signals: bool,
) -> tuple[list[list[Any]], list[tuple[Any, ...]]]:
    """Each instance's values for the database (``pre_save`` sent when ``send_signals``), and the
    rows RETURNING gave, chunk after chunk (as many rows as the database takes parameters for)."""
    database = connections[alias]
    operation = "save" if send_signals else "bulk_create"
    rows = []
    for instance in instances:
        prepare_related_fields(instance, operation)
        if send_signals:
            signals.pre_save.send(
                sender=model, instance=instance, raw=False, using=alias, update_fields=None
            )
        rows.append(statement.values(instance, database))
    size = max(1, database.ops.bulk_batch_size(list(statement.fields), instances))
    returned: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        ran = run(
            database,
            _rows_statement(model, alias, unless_present, len(chunk)),
            [value for row in chunk for value in row],
            fetch=True,
            writes=True,
        )
        returned.extend(ran.rows or ())
    return rows, returned


def _mark_inserted(instance: models.Model, alias: str, pk: Any, *, send_signals: bool) -> None:
    """The instance is the row just inserted with key ``pk``, as ``save()`` leaves it."""
    setattr(instance, type(instance)._meta.pk.attname, pk)
    instance._state.db = alias
    instance._state.adding = False
    if send_signals:
        signals.post_save.send(
            sender=type(instance),
            instance=instance,
            created=True,
            update_fields=None,
            raw=False,
            using=alias,
        )


@functools.cache
def _rows_statement(
    model: type[models.Model], alias: str, unless_present: tuple[str, ...], count: int
) -> str:
    """``_insert_statement``'s INSERT for ``count`` rows, returning each new row's key with its
    ``unless_present`` values (without them, a plain INSERT returning the keys)."""
    statement = _insert_statement(model, alias, unless_present)
    assert statement is not None  # (the caller checked)
    meta = model._meta
    key = [meta.get_field(name) for name in unless_present]
    return _insert_sql(model, alias, statement.fields, unless_present, count, [meta.pk, *key])


def update_each(rows: Sequence[models.Model], field_names: Sequence[str]) -> None:
    """Write the named fields of every row as it stands in memory: one UPDATE statement run for
    all of them (``executemany``), where a ``save()`` per row, or ``bulk_update``'s CASE per field
    and row, cost more Python than the statements. ``auto_now`` fields named here are set as
    ``save()`` sets them; guarded models are refused outside an action, like their other writes.
    """
    if not rows:
        return
    model = type(rows[0])
    if issubclass(model, ActionWrittenModel):
        ensure_in_action(model.__name__)
    statement = _update_statement(model, connection.alias, frozenset(field_names))
    if statement is None:
        raise FieldDoesNotExist(f"{model.__name__} has no field among {sorted(field_names)}")
    run(
        connection,
        statement.sql,
        [[*statement.values(row, connection), row.pk] for row in rows],
        many=True,
        writes=True,
    )


@functools.cache
def _update_statement(
    model: type[models.Model], alias: str, names: frozenset[str]
) -> _Statement | None:
    """The UPDATE by primary key of the fields named (by name or attname), or None when a name
    is no field that can be written."""
    meta = model._meta
    writable = [
        field
        for field in meta.local_concrete_fields
        if not field.primary_key and not field.generated
    ]
    if not names <= {name for field in writable for name in (field.name, field.attname)}:
        return None
    fields = tuple(field for field in writable if field.name in names or field.attname in names)
    database = connections[alias]
    quote = database.ops.quote_name
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
    return _Statement(
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s",  # noqa: S608 (names, not values)
        fields,
        value_readers(fields, database, add=False),
    )


def _update(instance: models.Model, update_fields: Any, using: str | None) -> bool:
    """Write ``update_fields`` of a saved ``instance`` as ``save()`` would; False (nothing done)
    when the ORM's ``save()`` must: the models it cannot insert either, one that reads before it
    saves (``select_on_save``), a name that is no field (``save()`` says which), an expression."""
    model = type(instance)
    names = frozenset(update_fields)
    alias = using or router.db_for_write(model, instance=instance)
    statement = _update_statement(model, alias, names)
    if (
        statement is None
        or _insert_statement(model, alias) is None
        or model._meta.select_on_save
        or any(
            hasattr(getattr(instance, field.attname), "resolve_expression")
            for field in statement.fields
        )
    ):
        return False
    prepare_related_fields(instance, "save", statement.fields)
    signals.pre_save.send(
        sender=model, instance=instance, raw=False, using=alias, update_fields=names
    )
    database = connections[alias]
    values = statement.values(instance, database)
    if run(database, statement.sql, [*values, instance.pk], writes=True).rowcount < 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    instance._state.db = alias
    signals.post_save.send(
        sender=model, instance=instance, created=False, update_fields=names, raw=False, using=alias
    )
    return True
