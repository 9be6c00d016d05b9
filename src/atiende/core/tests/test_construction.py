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
        "cached": {name: id(value) for name, value in instance._state.fields_cache.items()},
    }


def related_instance(field: models.Field, pk: int) -> models.Model:
    related = field.related_model
    assert isinstance(related, type)
    instance = related.__new__(related)
    models.Model.__init__(instance, pk=pk)
    instance._state.adding = False
    instance._state.db = "default"
    return instance


def keyword_sets(model: type[models.Model]) -> list[dict[str, Any]]:
    """Every field by id name; relations by name (an object, None where allowed); a few fields
    only; a deferred value."""
    fields = model._meta.concrete_fields
    by_id = {field.attname: object() for field in fields}
    by_name: dict[str, Any] = {}
    for number, field in enumerate(fields, start=1):
        if field.is_relation:
            by_name[field.name] = related_instance(field, 100 + number)
        else:
            by_name[field.attname] = by_id[field.attname]
    with_nones = {
        name: (None if getattr(model._meta.get_field(name), "null", False) else value)
        for name, value in by_name.items()
    }
    some = dict(list(by_name.items())[1:3])
    deferred = {**by_id, fields[-1].attname: DEFERRED}
    return [by_id, by_name, with_nones, some, deferred]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_the_plan_makes_the_instance_django_makes(model):
    assert construction._plan_of(model) is not None, "every such model is covered"
    for kwargs in keyword_sets(model):
        assert state(planned(model, dict(kwargs))) == state(djangos(model, dict(kwargs)))


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
