"""A batch's shared reads and its put-off writes (atiende.core.batching)."""

from __future__ import annotations

from typing import Any

import pytest

from atiende.core import batching


def test_outside_a_batch_a_write_is_made_at_once_and_nothing_is_remembered():
    written: list[list[Any]] = []
    assert not batching.in_batch()
    batching.write_at_batch_end("index", written.append, (1, 2))
    assert written == [[1, 2]]
    batching.note_batch_write(("customer", 1))
    assert not batching.written_in_batch(("customer", 1))


def test_items_are_written_once_when_the_batch_ends():
    written: list[list[Any]] = []
    with batching.batch():
        for item in (3, 1, 3):
            batching.write_at_batch_end("index", written.append, [item])
        assert written == []
    assert written == [[3, 1, 3]]
    assert not batching.in_batch()


def test_writes_are_made_in_the_order_first_asked_for_and_may_ask_for_more():
    order: list[str] = []

    def customers(items: list[Any]) -> None:
        order.append(f"customers {items}")
        # A write that runs listeners may ask for another: it is made in the same batch.
        batching.write_at_batch_end("late", lambda late: order.append(f"late {late}"), ["x"])

    with batching.batch():
        batching.write_at_batch_end("customers", customers, [1])
        batching.write_at_batch_end("messages", lambda m: order.append(f"messages {m}"), [2])
    assert order == ["customers [1]", "messages [2]", "late ['x']"]


def test_a_batch_that_fails_writes_nothing_and_forgets_its_state():
    written: list[list[Any]] = []

    def failing_body() -> None:
        with batching.batch():
            batching.write_at_batch_end("index", written.append, [1])
            batching.note_batch_write(("customer", 1))
            raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        failing_body()
    assert written == []
    assert not batching.in_batch()
    assert not batching.written_in_batch(("customer", 1))


def test_the_memo_computes_once_per_batch_and_every_time_outside():
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert batching.batch_memo("key", compute) == 1
    assert batching.batch_memo("key", compute) == 2
    with batching.batch():
        assert batching.batch_memo("key", compute) == 3
        assert batching.batch_memo("key", compute) == 3
    with batching.batch():
        assert batching.batch_memo("key", compute) == 4


def failing_item(written: list[list[Any]]) -> None:
    with batching.batch_item():
        batching.write_at_batch_end("events", written.append, ["rolled back"])
        batching.write_at_batch_end("deliveries", written.append, ["rolled back too"])
        raise RuntimeError("this message's savepoint rolled back")


@pytest.mark.django_db
def test_an_item_that_fails_puts_nothing_off_and_one_that_ends_keeps_its_writes():
    written: list[list[Any]] = []
    with batching.batch():
        batching.write_at_batch_end("events", written.append, ["before any item"])
        with batching.batch_item():
            batching.write_at_batch_end("events", written.append, ["kept"])
        with pytest.raises(RuntimeError):
            failing_item(written)
        with batching.batch_item():
            # An item inside an item: the outer one decides.
            with batching.batch_item():
                batching.write_at_batch_end("events", written.append, ["inner"])
            batching.write_at_batch_end("deliveries", written.append, ["after"])
    assert written == [["before any item", "kept", "inner"], ["after"]]


def test_outside_a_batch_an_item_changes_nothing():
    written: list[list[Any]] = []
    with batching.batch_item():
        batching.write_at_batch_end("events", written.append, [1])
        assert written == [[1]]


@pytest.mark.django_db(transaction=True)
def test_an_item_is_one_savepoint_and_its_actions_take_none_of_their_own(brand, system):
    """An item's nested actions add no savepoints (two statements each, for nothing: the item
    is all or nothing); an action failing inside an item rolls back the whole item, earlier
    actions included, and the batch's next item goes on."""
    from django.core.exceptions import ValidationError
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.core.actions import action
    from atiende.customers.actions import IdentityInput, create_customer
    from atiende.customers.models import Customer

    def new_customer(address: str) -> None:
        create_customer(
            brand=brand,
            actor=system,
            name=address,
            identities=[IdentityInput("email", address, is_primary=True)],
        )

    def failing_item_of_two_customers() -> None:
        with batching.batch_item():
            new_customer("carla@example.com")
            new_customer("ana@example.com")  # already Ana's: the item fails

    @action
    def run_batch() -> None:  # as the inbound pipeline runs one: an action holding the batch
        with batching.batch():
            with batching.batch_item():
                assert batching.in_batch_item()
                new_customer("ana@example.com")
                new_customer("bea@example.com")
            with pytest.raises(ValidationError):
                failing_item_of_two_customers()
            with batching.batch_item():
                new_customer("dora@example.com")

    with CaptureQueriesContext(connection) as statements:
        run_batch()
    assert not batching.in_batch_item()
    assert sorted(Customer.objects.filter(brand=brand).values_list("name", flat=True)) == [
        "ana@example.com",
        "bea@example.com",
        "dora@example.com",
    ]
    savepoints = [
        query["sql"]
        for query in statements.captured_queries
        if query["sql"].startswith("SAVEPOINT")
    ]
    # One per item, and none else.
    assert len(savepoints) == 3
