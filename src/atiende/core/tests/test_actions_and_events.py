import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from atiende.core.actions import WriteOutsideAction, action, running_action
from atiende.core.realtime import notify_on_commit


def test_actions_nest_and_report_which_action_runs(db):
    seen = []

    @action
    def inner() -> None:
        seen.append(running_action())

    @action
    def outer() -> None:
        seen.append(running_action())
        inner()
        seen.append(running_action())

    outer()
    assert [str(name).rsplit(".", 1)[-1] for name in seen] == ["outer", "inner", "outer"]
    assert running_action() is None


@pytest.mark.django_db(transaction=True)
def test_an_action_is_one_transaction(brand, customer, system):
    from atiende.conversations.actions import (
        change_priority,
        reply_to_conversation,
        start_conversation,
    )
    from atiende.conversations.models import Conversation

    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="x"
    )

    @action
    def reply_then_fail() -> None:
        reply_to_conversation(conversation=conversation, actor=system, body_text="respuesta")
        change_priority(conversation=conversation, priority="not-a-priority", actor=system)

    with pytest.raises(Exception, match="not a priority"):
        reply_then_fail()
    assert Conversation.objects.get(pk=conversation.pk).messages.count() == 1


def test_write_outside_action_names_the_model(conversation):
    with pytest.raises(WriteOutsideAction, match="Conversation may only be written by an action"):
        conversation.save()


@pytest.mark.django_db(transaction=True)
def test_notices_reach_the_channel_layer_after_commit_and_never_for_a_rollback():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("brand.1", channel)

    def change_that_rolls_back() -> None:
        with transaction.atomic():
            notify_on_commit("conversation.updated", {"conversation": 1}, audience=["brand.1"])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_that_rolls_back()

    with transaction.atomic():
        notify_on_commit("conversation.updated", {"conversation": 2}, audience=["brand.1"])

    message = async_to_sync(layer.receive)(channel)
    assert message == {
        "type": "atiende.event",
        "kind": "conversation.updated",
        "data": {"conversation": 2},
    }
    async_to_sync(layer.group_discard)("brand.1", channel)


def test_update_each_writes_every_row_by_one_statement_and_is_guarded(customer, other_customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.core.actions import update_each
    from atiende.customers.models import Customer

    rows = list(Customer.objects.filter(pk__in=[customer.pk, other_customer.pk]).order_by("pk"))
    before = {row.pk: row.updated_at for row in rows}
    for number, row in enumerate(rows):
        row.name = f"Nuevo {number}"
    with pytest.raises(WriteOutsideAction):
        update_each(rows, ["name"])

    @action
    def rename() -> None:
        update_each(rows, ["name", "updated_at"])

    with CaptureQueriesContext(connection) as queries:
        rename()
    updates = [query["sql"] for query in queries.captured_queries if "UPDATE" in query["sql"]]
    assert len(updates) == 1
    fresh = list(Customer.objects.filter(pk__in=before).order_by("pk"))
    assert [row.name for row in fresh] == ["Nuevo 0", "Nuevo 1"]
    # updated_at is auto_now: set as save() sets it.
    assert all(row.updated_at > before[row.pk] for row in fresh)
