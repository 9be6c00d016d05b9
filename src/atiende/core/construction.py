"""Model instances made from keyword arguments without Django's per-field exceptions, and
their related objects checked before a save without asking every field.

``Message(brand_id=..., conversation=..., body_text=...)`` runs ``Model.__init__``'s keyword
path, which asks for every field of the model in turn: a missing one costs a ``KeyError``
raised and caught (two for a foreign key named by neither name nor id) before its default is
taken. The inbound chain makes about seven instances per message this way (its message,
conversation, events, customer and identity): ``Model.__init__`` was 8.8 % of the
processing's samples, ``from_db``'s instances included (``bench/stack_shares.py FILE
Model.__init__ --root process_inbound_batch`` on a py-spy profile of ``bench/ingest.py``).

:class:`FastKeywordInit` makes an instance from keywords with a plan per model: the defaults
that are constants copied at once, the others made, each keyword looked up by name; values go
straight into the instance's ``__dict__`` (as the positional path and ``from_db`` set them),
related objects as their descriptor sets them (their id taken, the object cached, the
instance's database picked: done here for a many-to-one key while no database router is
configured, else by the descriptor itself, as Django's keyword path does). What the plan does
not cover goes to ``Model.__init__`` as before: positional arguments, a keyword that is not a
concrete field's name or id name (a property, a mistake: Django's error), a foreign key given
by both, and every instance while any ``pre_init`` or ``post_init`` receiver is connected
(their arguments would differ).

:func:`prepare_related_fields` is ``Model._prepare_related_fields_for_save`` (a related object
given unsaved refuses the save; one saved since gives its id) asking only the model's relations.

``core/tests/test_construction.py`` checks both against Django's for every model using them.
"""

from __future__ import annotations

import decimal
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, router
from django.db.models import DEFERRED, signals
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related import ForeignObject
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute

# Defaults of these types are the same object every time, so one copy serves every instance.
_IMMUTABLE = (type(None), str, bytes, int, float, bool, decimal.Decimal, tuple, frozenset)


@dataclass(frozen=True)
class _Plan:
    # Id name → default, for the fields whose default is a constant.
    constants: dict[str, Any]
    # (name, id name, field) of the fields whose default is made for each instance (a call).
    made: tuple[tuple[str, str, models.Field], ...]
    # A keyword (a field's name or id name) → (id name, field, whether it names the object).
    keys: dict[str, tuple[str, models.Field, bool]]


_plans: dict[type[models.Model], _Plan | None] = {}


def _stored_as_given(model: type[models.Model], field: models.Field) -> bool:
    """Whether setting the field's attribute on a new instance only stores the value: no
    descriptor of its own, or one of Django's that, on an instance nothing is cached on yet,
    does just that (a foreign key's id, a file field's name)."""
    descriptor = inspect.getattr_static(model, field.attname, None)
    return not hasattr(type(descriptor), "__set__") or isinstance(
        descriptor, ForeignKeyDeferredAttribute | FileDescriptor
    )


def _plan_of(model: type[models.Model]) -> _Plan | None:
    """The model's plan, or None when it needs Django's path: a generated column, a field whose
    descriptor does more than store, an abstract model (which Django refuses to make)."""
    if model not in _plans:
        fields = model._meta.concrete_fields
        if model._meta.abstract or any(
            getattr(field, "generated", False) or not _stored_as_given(model, field)
            for field in fields
        ):
            _plans[model] = None
            return None
        constants: dict[str, Any] = {}
        made = []
        keys: dict[str, tuple[str, models.Field, bool]] = {}
        for field in fields:
            default = field.default if field.has_default() else field.get_default()
            if not callable(default) and isinstance(default, _IMMUTABLE):
                constants[field.attname] = default
            else:
                made.append((field.name, field.attname, field))
            keys[field.attname] = (field.attname, field, False)
            if isinstance(field, ForeignObject):
                keys[field.name] = (field.attname, field, True)
        _plans[model] = _Plan(constants, tuple(made), keys)
    return _plans[model]


def _construct(instance: models.Model, kwargs: dict[str, Any]) -> bool:
    """Fill ``instance`` from ``kwargs`` as ``Model.__init__`` would; False (``instance``
    untouched) when the plan does not cover them."""
    if signals.pre_init.receivers or signals.post_init.receivers:
        return False
    plan = _plan_of(type(instance))
    if plan is None:
        return False
    values = plan.constants.copy()
    related: list[tuple[models.Field, Any]] = []
    for key, value in kwargs.items():
        slot = plan.keys.get(key)
        if slot is None:
            return False  # no field's: Django's path sets it (a property) or says what is wrong
        attname, field, names_object = slot
        if names_object:
            if attname in kwargs:
                return False  # both the object and its id: Django sets one, then the other
            values.pop(attname, None)  # (set with the object below; unset when deferred)
            related.append((field, value))
        elif value is DEFERRED:
            values.pop(attname, None)
        else:
            values[attname] = value
    for name, attname, field in plan.made:
        if attname not in kwargs and name not in kwargs:
            values[attname] = field.get_default()
    instance._state = ModelState()
    instance.__dict__.update(values)
    for field, value in related:
        if value is not DEFERRED and not _relate(instance, field, value):
            setattr(instance, field.name, value)
    return True


def _relate(instance: models.Model, field: Any, value: Any) -> bool:
    """What ``instance.<field> = value`` does (ForwardManyToOneDescriptor.__set__) on a new
    instance, for a many-to-one key to a model's own column, while no database router is
    configured (the descriptor asks the routers three times: which database each side is for,
    whether they may be related); False (nothing done) otherwise, and for a value the
    descriptor refuses, which then says why."""
    if not field.many_to_one or router.routers or len(field.related_fields) != 1:
        return False
    if value is None:
        instance.__dict__[field.attname] = None
    elif isinstance(value, field.remote_field.model._meta.concrete_model):
        state = instance._state
        if state.db is None:
            state.db = value._state.db or DEFAULT_DB_ALIAS
        if value._state.db is None:
            value._state.db = state.db
        if value._state.db != state.db:
            return False
        instance.__dict__[field.attname] = getattr(value, field.related_fields[0][1].attname)
    else:
        return False
    instance._state.fields_cache[field.cache_name] = value
    return True


class FastKeywordInit(models.Model):
    """A model whose instances made from keywords skip ``Model.__init__``'s exceptions."""

    class Meta:
        abstract = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or not kwargs or not _construct(self, kwargs):
            super().__init__(*args, **kwargs)


# Per model: its concrete relations, for prepare_related_fields; None: Django's method.
_relations: dict[type[models.Model], tuple[Any, ...] | None] = {}


def prepare_related_fields(
    instance: models.Model, operation_name: str, fields: Sequence[models.Field] | None = None
) -> None:
    """``instance._prepare_related_fields_for_save(operation_name, fields)``, asking only the
    model's relations that hold a cached object: Django's method asks every concrete field
    whether it is a relation with one (21 for a conversation, on every insert and update of the
    inbound chain; 1.7 % of its processing's samples, ``bench/stack_shares.py`` on a py-spy
    profile of ``bench/ingest.py``). A model
    with private fields (a generic foreign key) takes Django's method."""
    model = type(instance)
    if model not in _relations:
        _relations[model] = (
            None
            if model._meta.private_fields
            else tuple(field for field in model._meta.concrete_fields if field.is_relation)
        )
    relations = _relations[model]
    if relations is None:
        instance._prepare_related_fields_for_save(  # type: ignore[attr-defined]
            operation_name=operation_name, fields=fields
        )
        return
    cache = instance._state.fields_cache
    if not cache:
        return  # no related object was given or read: nothing to check
    for field in relations:
        if (fields and field not in fields) or field.cache_name not in cache:
            continue
        # From here as Django's method does it.
        related = getattr(instance, field.name, None)
        if not related:
            continue
        if not related._is_pk_set():
            if not field.remote_field.multiple:
                field.remote_field.delete_cached_value(related)
            raise ValueError(
                f"{operation_name}() prohibited to prevent data loss due to unsaved related "
                f"object '{field.name}'."
            )
        if getattr(instance, field.attname) in field.empty_values:
            setattr(instance, field.name, related)
        if getattr(related, field.target_field.attname) != getattr(instance, field.attname):
            field.delete_cached_value(instance)
