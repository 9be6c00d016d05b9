"""The one way to change domain state: functions decorated with :func:`action`.

An action checks permission, runs in one transaction, appends one event row and schedules its
side effects with ``transaction.on_commit``. Models that must only change through actions derive
from :class:`ActionWrittenModel`; their ``save``/``delete`` and their querysets' bulk writes raise
:class:`WriteOutsideAction` when no action is running, so a stray ``.save()`` in a view, a signal
or a template tag fails loudly in tests instead of silently skipping the event log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.db import connection, models, transaction

from atiende.core.batching import in_batch_item

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
    of their own: the item's savepoint already rolls back everything the item did when any part
    of it fails, and an item does not go on after one of its actions failed (the service chain's
    stages catch no action's error; a query after one would raise, and the item fail, loudly).
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


class ActionWrittenModel(models.Model):
    """Base for aggregates that change only through actions."""

    objects = ActionWrittenQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        ensure_in_action(type(self).__name__)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        ensure_in_action(type(self).__name__)
        return super().delete(*args, **kwargs)


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
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)  # type: ignore[union-attr]
    table = quote(model._meta.db_table)
    pk = quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608 (names, not values)
            [
                [
                    field.get_db_prep_save(field.pre_save(row, add=False), connection)  # type: ignore[union-attr]
                    for field in fields
                ]
                + [row.pk]
                for row in rows
            ],
        )
