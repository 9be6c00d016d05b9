"""A row's values as the database takes them, read without the ORM's layers where they add
nothing.

Writing a field, Django takes ``field.get_db_prep_save(field.pre_save(instance, add),
connection)``: for a text, number or flag that is the value itself, after four method calls
and as many checks (a lazy translation? an expression? a string to turn into a number?). The
statements ``core.actions`` builds once write about twenty fields a row: on the inbound chain
that was 106,000 ``get_db_prep_save`` calls for 2,164 messages before this module
(``bench/ingest.py --profile``).
:func:`value_readers` gives, for each field, a function of the instance that returns the same
value: the value itself where the field is one of Django's own plain fields and the value of
the type that field keeps (``str`` for text, ``int`` for numbers and foreign keys on SQLite,
``bool`` for flags), an aware ``datetime`` (``auto_now`` ones included) handed to the backend's
adapter, and Django's way for anything else — another field class (JSON, files, a subclass
that may convert), any other value. ``core/tests/test_db_values.py`` holds it to Django's
answer for every field of every model.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

ValueReader = Callable[[models.Model, BaseDatabaseWrapper], Any]

# Django's classes whose ``get_db_prep_save`` of a ``str`` (or None) is that value: CharField's
# and TextField's ``to_python`` return a str as it is, and no backend adapts text.
_TEXT_FIELDS = frozenset(
    {models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField}
)
# ... of an ``int``: ``int(value)``, then the backend's ``adapt_integerfield_value``, which is
# the value itself on SQLite (PostgreSQL's wraps it in a type of psycopg's: not read here).
_INTEGER_FIELDS = frozenset(
    {
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.AutoField,
        models.BigAutoField,
        models.SmallAutoField,
    }
)


def value_readers(
    fields: tuple[models.Field, ...], database: BaseDatabaseWrapper, *, add: bool
) -> tuple[ValueReader, ...]:
    """For each field, a function of (instance, connection) returning what
    ``field.get_db_prep_save(field.pre_save(instance, add), connection)`` returns, for a
    connection of ``database``'s vendor."""
    return tuple(_reader(field, database.vendor, add) for field in fields)


def _djangos_way(field: models.Field, add: bool) -> ValueReader:
    def read(instance: models.Model, connection: BaseDatabaseWrapper) -> Any:
        return field.get_db_prep_save(field.pre_save(instance, add), connection)

    return read


def _reader(field: models.Field, vendor: str, add: bool) -> ValueReader:
    kind = type(field)
    if _converts_as_datetime_field(kind):
        # (whatever its pre_save: auto_now, the events' RecordedAtField)
        return _aware_datetime(field, add, sqlite=vendor == "sqlite")
    fallback = _djangos_way(field, add)
    if kind.pre_save is not models.Field.pre_save:
        return fallback  # (a field that computes its value when saved)
    attname = field.attname
    if kind in _TEXT_FIELDS:
        return _text(attname, fallback)
    if kind is models.BooleanField:
        return _exactly(attname, bool, fallback)
    if kind in _INTEGER_FIELDS and vendor == "sqlite":
        return _exactly(attname, int, fallback)
    if kind is models.ForeignKey and vendor == "sqlite":
        target = field.target_field  # type: ignore[attr-defined]
        if type(target) in _INTEGER_FIELDS:
            # ForeignKey.get_db_prep_save hands a value other than None (or "") to its target.
            return _exactly(attname, int, fallback)
    return fallback


def _converts_as_datetime_field(kind: type[models.Field]) -> bool:
    reference = models.DateTimeField
    return all(
        getattr(kind, name) is getattr(reference, name)
        for name in ("get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")
    )


def _text(attname: str, fallback: ValueReader) -> ValueReader:
    def read(instance: models.Model, connection: BaseDatabaseWrapper) -> Any:
        value = getattr(instance, attname)
        # A str of any class (the models' TextChoices members): CharField.to_python returns it
        # as it is.
        if value is None or isinstance(value, str):
            return value
        return fallback(instance, connection)

    return read


def _exactly(attname: str, kept: type, fallback: ValueReader) -> ValueReader:
    def read(instance: models.Model, connection: BaseDatabaseWrapper) -> Any:
        value = getattr(instance, attname)
        # Exactly the type (a bool is an int; an int subclass may convert differently).
        if value is None or type(value) is kept:
            return value
        return fallback(instance, connection)

    return read


def _aware_datetime(field: models.Field, add: bool, *, sqlite: bool) -> ValueReader:
    def read(instance: models.Model, connection: BaseDatabaseWrapper) -> Any:
        value = field.pre_save(instance, add)
        if value is None:
            return None
        if type(value) is datetime.datetime and value.utcoffset() is not None:
            # DateTimeField.get_prep_value returns an aware datetime as it is (a naive one gets
            # a warning and the default zone: Django's way).
            if sqlite and settings.USE_TZ:
                # What SQLite's adapt_datetimefield_value makes of an aware time, without its
                # checks for what this is not (None, an expression, a naive time).
                return str(value.astimezone(connection.timezone).replace(tzinfo=None))
            return connection.ops.adapt_datetimefield_value(value)
        return field.get_db_prep_save(value, connection)

    return read
