import asyncio
import contextlib
from typing import Any

import asgiref.sync
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


@pytest.mark.django_db(transaction=True)
def test_notices_nobody_in_this_process_can_hear_start_no_event_loop(monkeypatch):
    """The in-memory layer is this process's alone: with no member in a notice's group (a
    worker's case, without Redis) nothing is sent, and no thread or event loop is started."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("brand.1", channel)
    loops: list[str] = []
    real_async_to_sync = asgiref.sync.async_to_sync

    def counted(function: Any) -> Any:
        loops.append(function.__name__)
        return real_async_to_sync(function)

    monkeypatch.setattr(asgiref.sync, "async_to_sync", counted)
    with transaction.atomic():
        notify_on_commit("conversation.updated", {"conversation": 3}, audience=["brand.2"])
    assert loops == []
    with transaction.atomic():
        notify_on_commit(
            "conversation.updated", {"conversation": 4}, audience=["brand.2", "brand.1"]
        )
    assert loops == ["send_all"]
    message = async_to_sync(layer.receive)(channel)
    assert message["data"] == {"conversation": 4}
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


def test_update_each_failing_leaves_its_atomic_block_to_be_rolled_back(customer):
    """As every other write of core.actions (and save()): a caller that catches the error
    cannot go on writing in the same block as if nothing had happened."""
    from django.db import IntegrityError, connection

    from atiende.core.actions import update_each
    from atiende.customers.models import Customer

    rows = list(Customer.objects.filter(pk=customer.pk))
    rows[0].name = None  # type: ignore[assignment]  # (NOT NULL)
    broken: list[bool] = []

    @action
    def rename_to_nothing() -> None:
        with pytest.raises(IntegrityError):
            update_each(rows, ["name"])
        broken.append(connection.needs_rollback)

    rename_to_nothing()

    assert broken == [True]
    assert Customer.objects.get(pk=customer.pk).name == customer.name


# --- save() of action-written models: statements built once --------------------------------


@pytest.fixture
def saves_seen():
    """Every pre_save/post_save of a Customer, as (signal, created, update_fields)."""
    from django.db.models import signals

    from atiende.customers.models import Customer

    seen: list[tuple[str, bool | None, frozenset[str] | None]] = []

    def before(sender, instance, update_fields, **kwargs):
        seen.append(("pre_save", None, update_fields))

    def after(sender, instance, created, update_fields, **kwargs):
        seen.append(("post_save", created, update_fields))

    signals.pre_save.connect(before, sender=Customer, dispatch_uid="test_saves_seen_pre")
    signals.post_save.connect(after, sender=Customer, dispatch_uid="test_saves_seen_post")
    yield seen
    signals.pre_save.disconnect(sender=Customer, dispatch_uid="test_saves_seen_pre")
    signals.post_save.disconnect(sender=Customer, dispatch_uid="test_saves_seen_post")


@pytest.fixture
def orm_compilers(monkeypatch):
    """How often the ORM's INSERT and UPDATE compilers ran."""
    from django.db.models.sql import compiler

    ran = {"insert": 0, "update": 0}
    for kind, cls in (
        ("insert", compiler.SQLInsertCompiler),
        ("update", compiler.SQLUpdateCompiler),
    ):
        original = cls.execute_sql

        def counting(self, *args, _original=original, _kind=kind, **kwargs):
            ran[_kind] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "execute_sql", counting)
    return ran


def test_a_new_row_is_inserted_as_save_would_without_the_orms_compiler(
    brand, saves_seen, orm_compilers
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.customers.models import Customer

    @action
    def insert() -> Customer:
        customer = Customer(brand=brand, crn="ABC2345", name="Nueva Clienta")
        customer.save()
        return customer

    @action
    def insert_other() -> Customer:
        customer = Customer(brand=brand, crn="DEF2345", name="Otra Clienta")
        customer.save()
        return customer

    with CaptureQueriesContext(connection) as statements:
        customer = insert()
        other = insert_other()
    assert orm_compilers == {"insert": 0, "update": 0}
    written = [query["sql"] for query in statements.captured_queries]
    inserts = [sql for sql in written if sql.split()[0] not in ("SAVEPOINT", "RELEASE")]
    assert [sql.split()[0] for sql in inserts] == ["INSERT", "INSERT"]
    # The new key: RETURNING on PostgreSQL; on SQLite, where RETURNING runs as a trigger and
    # doubled a conversation's insert, the connection's last rowid.
    assert ("RETURNING" in inserts[0]) == (connection.vendor != "sqlite")
    assert customer.pk == Customer.objects.get(crn="ABC2345").pk
    assert other.pk == Customer.objects.get(crn="DEF2345").pk != customer.pk
    assert not customer._state.adding
    assert customer._state.db == "default"
    assert saves_seen == [("pre_save", None, None), ("post_save", True, None)] * 2
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.brand_id, stored.crn, stored.name) == (brand.pk, "ABC2345", "Nueva Clienta")
    # auto_now_add, as the ORM sets it, on the instance and in the row alike.
    assert customer.created_at is not None
    assert stored.created_at == customer.created_at


def test_named_fields_are_updated_as_save_would_without_the_orms_compiler(
    customer, saves_seen, orm_compilers
):
    from django.db import DatabaseError
    from django.db.models import F

    from atiende.customers.models import Customer

    @action
    def save_named(target: Customer, names: list[str]) -> None:
        target.save(update_fields=names)

    before = Customer.objects.get(pk=customer.pk)
    customer.name = "Carmen Renombrada"
    customer.city = "Sevilla"  # changed in memory, not named: not written
    save_named(customer, ["name", "updated_at"])
    assert orm_compilers == {"insert": 0, "update": 0}
    named = frozenset({"name", "updated_at"})
    assert saves_seen == [("pre_save", None, named), ("post_save", False, named)]
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.name, stored.city) == ("Carmen Renombrada", before.city)
    # auto_now, named: set as the ORM sets it, on the instance and in the row alike.
    assert stored.updated_at == customer.updated_at > before.updated_at

    # A row that is gone: an error, as the ORM's save() gives.
    gone = Customer.objects.get(pk=customer.pk)
    gone.pk = 10**9
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        save_named(gone, ["name"])
    # A name that is no field, or a value the database computes: the ORM's own save().
    with pytest.raises(ValueError, match="not_a_field"):
        save_named(stored, ["name", "not_a_field"])
    with pytest.raises(ValueError, match="not_a_field"):
        save_named(stored, ["brand", "not_a_field"])  # (a name whose attname differs)
    stored.name = F("crn")
    save_named(stored, ["name"])
    assert orm_compilers["update"] == 1
    assert Customer.objects.get(pk=customer.pk).name == customer.crn


def test_insert_unless_present_inserts_once_in_one_statement_and_the_transaction_goes_on(
    brand, saves_seen
):
    from django.db import connection
    from django.db.models.functions import Upper
    from django.test.utils import CaptureQueriesContext

    from atiende.core.actions import insert_unless_present
    from atiende.customers.models import Customer

    @action
    def insert_twice() -> tuple[bool, bool, int]:
        first = insert_unless_present(Customer(brand=brand, crn="ABC2345", name="Una"), ["crn"])
        clash = Customer(brand=brand, crn="ABC2345", name="Otra")
        second = insert_unless_present(clash, ["crn"])
        # Not inserted, so no key (on SQLite the last rowid is still the first row's).
        assert clash.pk is None
        assert clash._state.adding
        # The clash left the transaction usable (on PostgreSQL a failed INSERT would not).
        return first, second, Customer.objects.filter(crn="ABC2345").count()

    with CaptureQueriesContext(connection) as statements:
        assert insert_twice() == (True, False, 1)
    written = [query["sql"].split()[0] for query in statements.captured_queries]
    assert [verb for verb in written if verb not in ("SAVEPOINT", "RELEASE")] == [
        "INSERT",
        "INSERT",
        "SELECT",
    ]
    assert Customer.objects.get(crn="ABC2345").name == "Una"
    # post_save only for the row inserted.
    assert [seen for seen in saves_seen if seen[0] == "post_save"] == [("post_save", True, None)]

    # A value the database would compute: refused, not tried some other way.
    @action
    def insert_computed() -> bool:
        return insert_unless_present(
            Customer(brand=brand, crn="XYZ2345", name=Upper("crn")), ["crn"]
        )

    with pytest.raises(TypeError, match="not expressions"):
        insert_computed()


def test_insert_each_unless_present_inserts_many_rows_in_one_statement(brand, saves_seen):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.core.actions import insert_each_unless_present, insert_unless_present
    from atiende.customers.models import Customer

    @action
    def insert_many(crns: list[str]) -> tuple[list[bool], list[Customer]]:
        rows = [Customer(brand=brand, crn=crn, name=f"n{index}") for index, crn in enumerate(crns)]
        return insert_each_unless_present(rows, ["crn"]), rows

    @action
    def insert_one_first() -> None:
        insert_unless_present(Customer(brand=brand, crn="OLD2345", name="before"), ["crn"])

    insert_one_first()
    saves_seen.clear()
    # A row already there, a key twice in the batch, and enough rows for several chunks on
    # SQLite (999 parameters a statement).
    crns = ["NEW0001", "OLD2345", "NEW0001", *(f"B{index:06d}" for index in range(150))]
    with CaptureQueriesContext(connection) as statements:
        inserted, rows = insert_many(crns)
    assert inserted == [True, False, False, *([True] * 150)]
    verbs = [query["sql"].split()[0] for query in statements.captured_queries]
    chunks = [verb for verb in verbs if verb == "INSERT"]
    per_statement = connection.ops.bulk_batch_size(
        [field for field in Customer._meta.concrete_fields if not field.primary_key], rows
    )
    assert len(chunks) == -(-len(crns) // per_statement)
    assert [verb for verb in verbs if verb not in ("SAVEPOINT", "RELEASE", "INSERT")] == []
    # Each inserted instance holds its own row's key; the others are still unsaved.
    for row, new in zip(rows, inserted, strict=True):
        if new:
            assert Customer.objects.get(pk=row.pk).crn == row.crn
            assert not row._state.adding
        else:
            assert row.pk is None
            assert row._state.adding
    assert Customer.objects.get(crn="NEW0001").name == "n0"
    assert Customer.objects.get(crn="OLD2345").name == "before"
    assert [seen[0] for seen in saves_seen].count("pre_save") == len(crns)
    assert [seen for seen in saves_seen if seen[0] == "post_save"] == [
        ("post_save", True, None)
    ] * 151

    @action
    def insert_without_key() -> list[bool]:
        return insert_each_unless_present([Customer(brand=brand, crn="KEY2345")], [])

    with pytest.raises(ValueError, match="unique constraint"):
        insert_without_key()
    with pytest.raises(WriteOutsideAction):
        insert_each_unless_present([Customer(brand=brand, crn="OUT2345")], ["crn"])
    assert insert_each_unless_present([], ["crn"]) == []


def test_insert_each_inserts_as_bulk_create_without_the_orms_compiler(
    customer, saves_seen, orm_compilers
):
    from datetime import timedelta

    from django.db import connection
    from django.db.models.functions import Now
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from atiende.core.actions import insert_each
    from atiende.customers.models import CustomerEvent

    then = timezone.now() - timedelta(hours=3)
    events = [
        CustomerEvent(
            brand=customer.brand, customer=customer, type=f"test.{index}", payload={"n": index}
        )
        for index in range(250)
    ]
    events[7].created_at = then  # a time already set is kept (RecordedAtField)
    saves_seen.clear()
    with pytest.raises(WriteOutsideAction):
        insert_each(events)  # guarded as the model's bulk_create is
    with CaptureQueriesContext(connection) as statements:
        action(insert_each)(events)
    inserts = [query for query in statements.captured_queries if query["sql"].startswith("INSERT")]
    per_statement = connection.ops.bulk_batch_size(
        [field for field in CustomerEvent._meta.concrete_fields if not field.primary_key], events
    )
    assert len(inserts) == -(-len(events) // per_statement)
    assert orm_compilers["insert"] == 0
    assert saves_seen == []  # as bulk_create: no signals
    # Each instance holds its own row's key.
    stored = dict(CustomerEvent.objects.filter(customer=customer).values_list("pk", "type"))
    assert all(stored[event.pk] == event.type for event in events)
    assert all(not event._state.adding for event in events)
    assert CustomerEvent.objects.get(pk=events[7].pk).created_at == then

    # A value the database computes: bulk_create's way (the ORM's compiler, guarded as ever).
    computed = CustomerEvent(
        brand=customer.brand, customer=customer, type="test.computed", created_at=Now()
    )
    action(insert_each)([computed])
    assert orm_compilers["insert"] == 1
    assert computed.pk is not None


@pytest.mark.django_db(transaction=True)
def test_a_batchs_notices_to_one_group_travel_together_in_their_order():
    from atiende.core.realtime import collect_notices

    layer = get_channel_layer()
    brand_one, brand_two = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("brand.1", brand_one)
    async_to_sync(layer.group_add)("brand.2", brand_two)
    with collect_notices():
        for number in (1, 2, 3):
            with transaction.atomic():
                notify_on_commit("message.received", {"conversation": number}, ["brand.1"])
        with transaction.atomic():
            notify_on_commit("conversation.created", {"conversation": 9}, ["brand.1", "brand.2"])

    async def received(channel: str) -> list[dict[str, Any]]:
        messages = [await layer.receive(channel)]
        with contextlib.suppress(TimeoutError):
            messages.append(await asyncio.wait_for(layer.receive(channel), 0.2))
        return messages

    assert async_to_sync(received)(brand_one) == [
        {
            "type": "atiende.events",
            "events": [
                {"kind": "message.received", "data": {"conversation": 1}},
                {"kind": "message.received", "data": {"conversation": 2}},
                {"kind": "message.received", "data": {"conversation": 3}},
                {"kind": "conversation.created", "data": {"conversation": 9}},
            ],
        }
    ]
    assert async_to_sync(received)(brand_two) == [
        {"type": "atiende.event", "kind": "conversation.created", "data": {"conversation": 9}}
    ]
    async_to_sync(layer.group_discard)("brand.1", brand_one)
    async_to_sync(layer.group_discard)("brand.2", brand_two)


def test_a_groups_events_go_a_hundred_to_a_message():
    from atiende.core.realtime import EVENTS_PER_MESSAGE, layer_messages

    notices = [("message.received", {"n": n}, ["brand.1"]) for n in range(250)]
    messages = layer_messages(notices)
    assert [len(message["events"]) for _group, message in messages] == [
        EVENTS_PER_MESSAGE,
        EVENTS_PER_MESSAGE,
        50,
    ]
    assert [event["data"]["n"] for _group, message in messages for event in message["events"]] == (
        list(range(250))
    )
