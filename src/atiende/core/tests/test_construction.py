"""Instances made from keywords by core.construction's plan are the instances Django makes.

For every model using :class:`FastKeywordInit`, the same keywords go through the plan and through
``Model.__init__`` itself, and the two instances are compared attribute by attribute: values,
cached related objects, the instance's database and whether it is new.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.db.models import DEFERRED, signals

from atiende.core import construction
from atiende.core.construction import FastKeywordInit

MODELS = sorted(
    (
        model
        for model in apps.get_models()
        if issubclass(model, FastKeywordInit) and not model._meta.abstract
    ),
    key=lambda model: model._meta.label,
)


def djangos(model: type[models.Model], kwargs: dict[str, Any]) -> models.Model:
    instance = model.__new__(model)
    models.Model.__init__(instance, **kwargs)
    return instance


def planned(model: type[models.Model], kwargs: dict[str, Any]) -> models.Model:
    instance = model.__new__(model)
    assert construction._construct(instance, kwargs), "the plan should cover these keywords"
    return instance


def state(instance: models.Model) -> dict[str, Any]:
    # A default made by a call (a new UUID, now) differs between two instances: its type must not.
    made = {
        field.attname
        for field in instance._meta.concrete_fields
        if field.has_default() and callable(field.default)
    }
    values = {
        name: type(value) if name in made else value
        for name, value in vars(instance).items()
        if name != "_state"
    }
    return {
        "values": values,
        "db": instance._state.db,
        "adding": instance._state.adding,
        # Each related object: which, and the database it was given (an unsaved one gets the
        # instance's).
        "cached": {
            name: None if value is None else (type(value).__name__, value.pk, value._state.db)
            for name, value in instance._state.fields_cache.items()
        },
    }


def related_instance(field: models.Field, pk: int, db: str | None = "default") -> models.Model:
    related = field.related_model
    assert isinstance(related, type)
    instance = related.__new__(related)
    models.Model.__init__(instance, pk=pk)
    instance._state.adding = db is None
    instance._state.db = db
    return instance


def keyword_sets(model: type[models.Model]) -> list[tuple[str, Any]]:
    """(what, a maker of the keywords, each time with new related objects): every field by id
    name; relations by name (a saved object, an unsaved one, one of another database, None
    where allowed); a few fields only; a deferred value; an object of the wrong model."""
    fields = model._meta.concrete_fields
    by_id = {field.attname: object() for field in fields}

    def by_name(db: str | None = "default", nones: bool = False) -> dict[str, Any]:
        given: dict[str, Any] = {}
        for number, field in enumerate(fields, start=1):
            if not field.is_relation:
                given[field.attname] = by_id[field.attname]
            elif nones and field.null:
                given[field.name] = None
            else:
                given[field.name] = related_instance(field, 100 + number, db)
        return given

    def mixed_databases() -> dict[str, Any]:
        given = by_name("other")
        first = next((field for field in fields if field.is_relation), None)
        if first is not None:
            given[first.name] = related_instance(first, 1, "default")
        return given

    def deferred_object() -> dict[str, Any]:
        relation = next((field for field in fields if field.is_relation), None)
        return {} if relation is None else {**by_name(), relation.name: DEFERRED}

    def wrong_model() -> dict[str, Any]:
        relation = next((field for field in fields if field.is_relation), None)
        return {} if relation is None else {relation.name: object()}

    return [
        ("by id", lambda: dict(by_id)),
        ("by object", by_name),
        ("unsaved objects", lambda: by_name(None)),
        ("objects of another database", lambda: by_name("other")),
        ("objects of two databases", mixed_databases),
        ("None where allowed", lambda: by_name(nones=True)),
        ("a few", lambda: dict(list(by_name().items())[1:3])),
        ("deferred", lambda: {**by_id, fields[-1].attname: DEFERRED}),
        ("deferred object", deferred_object),
        ("wrong model", wrong_model),
    ]


def made(make: Any) -> Any:
    try:
        return ("made", state(make()))
    except Exception as error:  # (refused: the message names the object, whose str may fail)
        return ("refused", type(error).__name__, str(error).split(" at 0x")[0])


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_the_plan_makes_the_instance_django_makes(model):
    assert construction._plan_of(model) is not None, "every such model is covered"
    for what, keywords in keyword_sets(model):
        if not keywords():
            continue
        assert made(lambda keywords=keywords: planned(model, keywords())) == made(
            lambda keywords=keywords: djangos(model, keywords())
        ), what


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_what_the_plan_does_not_cover_goes_to_django(model):
    with pytest.raises(TypeError) as refused:
        model(no_such_field=1)
    assert "no_such_field" in str(refused.value)
    # A property (pk) is set by Django's path.
    assert model(pk=77).pk == 77
    relations = [field for field in model._meta.concrete_fields if field.is_relation]
    if relations:
        field = relations[0]
        instance = model.__new__(model)
        both = {field.name: related_instance(field, 5), field.attname: 6}
        assert not construction._construct(instance, both)
        assert getattr(model(**both), field.attname) == getattr(djangos(model, both), field.attname)


def test_a_connected_init_receiver_gets_what_django_sends(brand):
    from atiende.conversations.models import Message

    seen = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(dict(kwargs["kwargs"]))  # (Django's path empties the dict as it goes)

    signals.pre_init.connect(receiver, sender=Message)
    try:
        Message(brand_id=brand.pk, body_text="hola")
    finally:
        signals.pre_init.disconnect(receiver, sender=Message)
    assert seen == [{"brand_id": brand.pk, "body_text": "hola"}]


def test_new_instances_still_save_and_read_back(brand, customer, system):
    from atiende.conversations.actions import start_conversation
    from atiende.conversations.models import Conversation, Message

    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="Hola",
        body_text="¿Dónde está mi pedido?",
    )  # fmt: skip
    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.subject, stored.customer_id, stored.brand_id) == ("Hola", customer.pk, brand.pk)
    message = Message.objects.get(conversation=stored)
    assert message.body_text == "¿Dónde está mi pedido?"
    assert message.author_customer_id == customer.pk


# --- prepare_related_fields: Django's _prepare_related_fields_for_save, fewer fields asked ----


def related_states(model: type[models.Model]) -> list[tuple[str, Any]]:
    """(what, a maker of an instance) for each relation of the model: holding a saved object,
    an unsaved one, one saved after it was assigned, one whose key changed after, and none."""

    def holding(field: models.Field, pk: int, unset: bool, later: int | None) -> Any:
        def make() -> models.Model:
            related = related_instance(field, pk)
            if unset:
                related.pk = None
            instance = djangos(model, {field.name: related})
            if later is not None:
                related.pk = later
            return instance

        return make

    made = []
    for field in (field for field in model._meta.concrete_fields if field.is_relation):
        made += [
            (f"{field.name} saved", holding(field, 11, False, None)),
            (f"{field.name} unsaved", holding(field, 12, True, None)),
            (f"{field.name} saved after", holding(field, 13, True, 14)),
            (f"{field.name} key changed", holding(field, 15, False, 16)),
        ]
    made.append(("nothing cached", lambda: djangos(model, {})))
    return made


def outcome(instance: models.Model, prepare: Any) -> Any:
    try:
        prepare(instance)
    except ValueError as error:
        return ("refused", str(error), prepared_state(instance))
    return ("ready", prepared_state(instance))


def prepared_state(instance: models.Model) -> dict[str, Any]:
    described = state(instance)
    described["cached"] = {
        name: (type(value).__name__, getattr(value, "pk", None))
        for name, value in instance._state.fields_cache.items()
    }
    # A one-to-one's object keeps the instance in its own cache, which a refusal clears.
    described["their caches"] = {
        name: sorted(value._state.fields_cache)
        for name, value in instance._state.fields_cache.items()
        if value is not None
    }
    return described


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_related_fields_are_prepared_as_django_prepares_them(model):
    only = [model._meta.concrete_fields[0]]
    for what, make in related_states(model):
        assert outcome(
            make(), lambda item: construction.prepare_related_fields(item, "save")
        ) == outcome(
            make(), lambda item: item._prepare_related_fields_for_save(operation_name="save")
        ), what
        assert outcome(
            make(), lambda item: construction.prepare_related_fields(item, "save", only)
        ) == outcome(
            make(),
            lambda item: item._prepare_related_fields_for_save(operation_name="save", fields=only),
        ), what
