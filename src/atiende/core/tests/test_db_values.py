"""core.db_values gives every field's value for the database as Django's own calls give it."""

from __future__ import annotations

import datetime
import decimal
import uuid
import warnings
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils.translation import gettext_lazy

from atiende.conversations.models import Status
from atiende.core.db_values import value_readers


class _IntSubclass(int):
    pass


_SAMPLES: list[Any] = [
    None,
    "",
    "text",
    "12",
    "ñandú 🙂",
    Status.OPEN,  # (a str subclass, as the models' choices are)
    0,
    12,
    -3,
    2**40,
    _IntSubclass(5),
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

# What timezone.now() answers while comparing (auto_now fields take the time when saved).
_NOW = datetime.datetime(2026, 12, 4, 16, 0, 0, 123456, tzinfo=datetime.UTC)


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


def _holding(model: type[models.Model], field: models.Field, value: Any) -> models.Model:
    instance = model()
    instance.__dict__[field.attname] = value
    return instance


@pytest.mark.parametrize("add", [True, False])
@pytest.mark.parametrize(
    ("zone", "use_tz"), [("UTC", True), ("America/Bogota", True), ("UTC", False)]
)
def test_every_field_of_every_model_reads_as_djangos_calls_give_it(
    add: bool, zone: str, use_tz: bool, settings: Any
) -> None:
    settings.TIME_ZONE = zone  # (where Django puts a naive datetime)
    settings.USE_TZ = use_tz  # (without: SQLite refuses an aware one)
    fields = _project_fields()
    assert len(fields) > 200  # (the models were found)
    with mock.patch("django.utils.timezone.now", return_value=_NOW):
        for model, field in fields:
            (read,) = value_readers((field,), connection, add=add)
            for sample in _SAMPLES:
                djangos, ours = _holding(model, field, sample), _holding(model, field, sample)
                expected = _outcome(_djangos_calls, field, djangos, add)
                got = _outcome(read, ours, connection)
                what = (model.__name__, field.name, sample)
                assert got == expected, what
                assert type(got[1]) is type(expected[1]), what
                # What pre_save leaves on the instance (an auto_now time) is left alike.
                assert ours.__dict__[field.attname] == djangos.__dict__[field.attname], what


def test_plain_values_of_djangos_plain_fields_skip_its_calls() -> None:
    """The shortcuts are taken (else this module would only cost a call more)."""
    from atiende.conversations.models import Message
    from atiende.core.events import RecordedAtField
    from atiende.pipeline.models import InboundMessage

    def shortcut(model: type[models.Model], name: str) -> str:
        (read,) = value_readers((model._meta.get_field(name),), connection, add=True)  # type: ignore[arg-type]
        return read.__qualname__.split(".")[0]

    assert shortcut(Message, "body_text") == "_text"
    assert shortcut(Message, "direction") == "_text"
    assert shortcut(Message, "conversation") == (
        "_exactly" if connection.vendor == "sqlite" else "_djangos_way"
    )
    timed = [
        (model, field.name)
        for model, field in _project_fields()
        if isinstance(field, models.DateTimeField)
    ]
    assert any(isinstance(model._meta.get_field(name), RecordedAtField) for model, name in timed)
    assert {shortcut(model, name) for model, name in timed} == {"_aware_datetime"}
    assert shortcut(InboundMessage, "stage_timings") == "_djangos_way"  # (JSON)
    assert shortcut(InboundMessage, "raw") == "_djangos_way"  # (bytes: the driver's Binary)
