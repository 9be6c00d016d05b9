"""A batch's shared reads and its put-off writes (atiende.core.batching)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from atiende.core import batching
from atiende.core.actions import action


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


def new_customer(brand: Any, system: Any, address: str) -> None:
    from atiende.customers.actions import IdentityInput, create_customer

    create_customer(
        brand=brand,
        actor=system,
        name=address,
        identities=[IdentityInput("email", address, is_primary=True)],
    )


def customer_names(brand: Any) -> list[str]:
    from atiende.customers.models import Customer

    return sorted(Customer.objects.filter(brand=brand).values_list("name", flat=True))


def savepoints_taken(statements: CaptureQueriesContext) -> int:
    return sum(query["sql"].startswith("SAVEPOINT") for query in statements.captured_queries)


@action
def customer_then_refusal(brand: Any, system: Any, address: str) -> None:
    """An action that writes, then fails (as an action whose last check fails)."""
    new_customer(brand, system, address)
    raise ValidationError("refused after writing")


@pytest.mark.django_db(transaction=True)
def test_an_item_is_one_savepoint_and_its_actions_take_none_of_their_own(brand, system):
    """An item's nested actions add no savepoints (two statements each, for nothing: the item
    is all or nothing); an action failing inside an item rolls back the whole item, earlier
    actions included, and the batch's next item goes on."""

    def failing_item_of_two_customers() -> None:
        with batching.batch_item():
            new_customer(brand, system, "carla@example.com")
            new_customer(brand, system, "ana@example.com")  # already Ana's: the item fails

    @action
    def run_batch() -> None:  # as the inbound pipeline runs one: an action holding the batch
        with batching.batch():
            with batching.batch_item():
                assert batching.in_batch_item()
                new_customer(brand, system, "ana@example.com")
                new_customer(brand, system, "bea@example.com")
            with pytest.raises(ValidationError):
                failing_item_of_two_customers()
            with batching.batch_item():
                new_customer(brand, system, "dora@example.com")

    with CaptureQueriesContext(connection) as statements:
        run_batch()
    assert not batching.in_batch_item()
    assert customer_names(brand) == ["ana@example.com", "bea@example.com", "dora@example.com"]
    assert savepoints_taken(statements) == 3  # one per item, and none else


@pytest.mark.django_db(transaction=True)
def test_an_optimistic_batch_on_sqlite_goes_on_after_a_refusal_without_savepoints(brand, system):
    """SQLite counts the rows a transaction wrote: an item refused before it wrote anything (an
    address already taken) needs no undoing, and no item takes a savepoint. On PostgreSQL, where
    a failed statement aborts the transaction, each item keeps its savepoint."""

    def refused_item() -> None:
        with batching.batch_item():
            transaction.on_commit(lambda: ran_on_commit.append("refused"))
            batching.write_at_batch_end("events", written.append, ["refused"])
            new_customer(brand, system, "ana@example.com")

    @action
    def run_batch() -> None:
        with batching.batch(optimistic=True):
            with batching.batch_item():
                new_customer(brand, system, "ana@example.com")
            with pytest.raises(ValidationError):
                refused_item()
            with batching.batch_item():
                transaction.on_commit(lambda: ran_on_commit.append("kept"))
                batching.write_at_batch_end("events", written.append, ["kept"])
                new_customer(brand, system, "bea@example.com")

    written: list[list[Any]] = []
    ran_on_commit: list[str] = []
    with CaptureQueriesContext(connection) as statements:
        run_batch()
    assert customer_names(brand) == ["ana@example.com", "bea@example.com"]
    # What the refused item put off or asked to run on commit went with it.
    assert written == [["kept"]]
    assert ran_on_commit == ["kept"]
    assert savepoints_taken(statements) == (0 if connection.vendor == "sqlite" else 3)


@pytest.mark.django_db(transaction=True)
def test_an_item_of_an_optimistic_batch_failing_after_it_wrote_fails_the_whole_batch(brand, system):
    """Without a savepoint only the batch's rollback undoes it: ItemWroteThenFailed tells the
    caller to run the batch again with savepoints (the pipeline does, test_batch.py)."""

    @action
    def run_batch() -> None:
        with batching.batch(optimistic=True):
            with batching.batch_item():
                new_customer(brand, system, "ana@example.com")
            with batching.batch_item():
                new_customer(brand, system, "carla@example.com")
                new_customer(brand, system, "ana@example.com")  # already Ana's

    expected = batching.ItemWroteThenFailed if connection.vendor == "sqlite" else ValidationError
    with pytest.raises(expected) as raised:
        run_batch()
    if connection.vendor == "sqlite":
        assert isinstance(raised.value.__cause__, ValidationError)
    assert customer_names(brand) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("optimistic", [False, True], ids=["savepoints", "optimistic"])
def test_an_item_that_goes_on_after_one_of_its_actions_failed_fails_when_it_ends(
    brand, system, optimistic
):
    """The failed action's own writes are not undone by it (it takes no savepoint inside an
    item): an item that caught its error and went on would keep them, and be marked done. It
    fails instead, undone with what it wrote; the batch's next item goes on."""

    def item_going_on_after(failing: Callable[[], None]) -> None:
        with batching.batch_item():
            with contextlib.suppress(ValidationError):
                failing()
            batching.write_at_batch_end("events", written.append, ["dropped"])

    @action
    def run_batch() -> None:
        with batching.batch(optimistic=optimistic):
            # Failed before writing: nothing to undo, with a savepoint or without.
            with pytest.raises(TransactionManagementError):
                item_going_on_after(lambda: new_customer(brand, system, "ana@example.com"))
            # Failed after writing: undone by the item's savepoint, or (optimistic, on SQLite)
            # only by the whole batch's rollback: ItemWroteThenFailed leaves the batch.
            try:
                item_going_on_after(
                    lambda: customer_then_refusal(brand, system, "carla@example.com")
                )
            except TransactionManagementError:
                failed.append("carla")
            with batching.batch_item():
                new_customer(brand, system, "bea@example.com")

    new_customer(brand, system, "ana@example.com")
    written: list[list[Any]] = []
    failed: list[str] = []
    if optimistic and connection.vendor == "sqlite":
        with pytest.raises(batching.ItemWroteThenFailed):
            run_batch()
        assert customer_names(brand) == ["ana@example.com"]
    else:
        run_batch()
        assert failed == ["carla"]
        assert customer_names(brand) == ["ana@example.com", "bea@example.com"]
    assert written == []
