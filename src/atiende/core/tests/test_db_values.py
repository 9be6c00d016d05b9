"""core.db_values gives every field's value for the database as Django's own calls give it."""

from __future__ import annotations

import datetime
import decimal
import uuid
import warnings
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils.translation import gettext_lazy

from atiende.core.db_values import value_readers

_SAMPLES: list[Any] = [
    None,
    "",
    "text",
    "12",
    "ñandú 🙂",
    0,
    12,
    -3,
    2**40,
    True,
    False,
    12.5,
    decimal.Decimal("7"),
    gettext_lazy("Open"),
    datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.UTC),
    datetime.datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Madrid")),
    datetime.datetime(2026, 1, 2, 3, 4, 5, 6),  # naive: Django warns and takes the default zone
    datetime.date(2026, 1, 2),
    uuid.UUID(int=7),
    {"a": [1, "b"]},
    [],
]


class _IntSubclass(int):
    pass


_SAMPLES.append(_IntSubclass(5))


def _project_fields() -> list[tuple[type[models.Model], models.Field]]:
    return [
        (model, field)
        for model in apps.get_models()
        if model.__module__.startswith("atiende.")
        for field in model._meta.local_concrete_fields
        if not field.generated
    ]


def _outcome(read: Any, *arguments: Any) -> tuple[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = read(*arguments)
        if type(value).__module__.startswith("psycopg") and hasattr(value, "obj"):
            # (psycopg's wrappers, Jsonb: compared by what they wrap)
            return ("value", (type(value), value.obj))
        return ("value", value)
    except Exception as error:
        return ("raised", type(error))


def _djangos_calls(field: models.Field, instance: models.Model, add: bool) -> Any:
    return field.get_db_prep_save(field.pre_save(instance, add), connection)


@pytest.mark.parametrize("add", [True, False])
def test_every_field_of_every_model_reads_as_djangos_calls_give_it(add: bool) -> None:
    fields = _project_fields()
    assert len(fields) > 200  # (the models were found)
    compared = 0
    for model, field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue  # (the time is taken when saved: test_saving_times_are_djangos below)
        (read,) = value_readers((field,), connection, add=add)
        for sample in _SAMPLES:
            instance = model()
            instance.__dict__[field.attname] = sample
            expected = _outcome(_djangos_calls, field, instance, add)
            got = _outcome(read, instance, connection)
            assert got == expected, (model.__name__, field.name, sample)
            assert type(got[1]) is type(expected[1]), (model.__name__, field.name, sample)
            compared += 1
    assert compared > 200 * len(_SAMPLES)


def test_plain_values_of_djangos_plain_fields_skip_its_calls() -> None:
    """The shortcut is taken (else this module would only cost a call more)."""
    from atiende.conversations.models import Message

    meta = Message._meta
    by_name = {
        field.name: field
        for field in meta.local_concrete_fields
        if field.name in {"body_text", "conversation", "created_at"}
    }
    fields = tuple(by_name.values())
    readers = dict(zip(by_name, value_readers(fields, connection, add=True), strict=True))
    shortcuts = {name: read.__qualname__.split(".")[0] for name, read in readers.items()}
    assert shortcuts["body_text"] == "_kept_when"
    assert shortcuts["conversation"] == (
        "_kept_when" if connection.vendor == "sqlite" else "_djangos_way"
    )
    created_at = by_name["created_at"]
    assert shortcuts["created_at"] == (
        "_djangos_way"
        if created_at.auto_now or created_at.auto_now_add  # type: ignore[attr-defined]
        else "_aware_datetime"
    )


def test_saving_times_are_djangos() -> None:
    """``auto_now`` fields take the time as Django's ``pre_save`` does, on insert and update."""
    timed = [
        (model, field)
        for model, field in _project_fields()
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]
    assert timed
    for model, field in timed:
        for add in (True, False):
            (read,) = value_readers((field,), connection, add=add)
            assert read.__qualname__.startswith("_djangos_way"), (model.__name__, field.name)
            instance = model()
            before = datetime.datetime.now(datetime.UTC)
            value = read(instance, connection)
            if add or field.auto_now:  # type: ignore[attr-defined]
                assert getattr(instance, field.attname) >= before
                assert value == connection.ops.adapt_datetimefield_value(
                    getattr(instance, field.attname)
                )
