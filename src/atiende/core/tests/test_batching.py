"""A batch's shared reads and its put-off writes (atiende.core.batching)."""

from __future__ import annotations

from typing import Any

import pytest

from atiende.core import batching


def test_outside_a_batch_nothing_is_put_off_or_remembered():
    assert not batching.in_batch()
    assert batching.put_off_to_batch_end("index", lambda items: None) is None
    batching.note_batch_write(("customer", 1))
    assert not batching.written_in_batch(("customer", 1))


def test_put_off_items_are_written_once_when_the_batch_ends():
    written: list[list[Any]] = []
    with batching.batch():
        for item in (3, 1, 3):
            collected = batching.put_off_to_batch_end("index", written.append)
            assert collected is not None
            collected.append(item)
        assert written == []
    assert written == [[3, 1, 3]]
    assert not batching.in_batch()


def test_writes_are_made_in_the_order_first_asked_for_and_may_put_off_more():
    order: list[str] = []

    def customers(items: list[Any]) -> None:
        order.append(f"customers {items}")
        # A write that runs listeners may put off another: it is made in the same batch.
        later = batching.put_off_to_batch_end("late", lambda late: order.append(f"late {late}"))
        assert later is not None
        later.append("x")

    with batching.batch():
        first = batching.put_off_to_batch_end("customers", customers)
        second = batching.put_off_to_batch_end("messages", lambda m: order.append(f"messages {m}"))
        assert first is not None
        assert second is not None
        first.append(1)
        second.append(2)
    assert order == ["customers [1]", "messages [2]", "late ['x']"]


def test_a_batch_that_fails_writes_nothing_and_forgets_its_state():
    written: list[list[Any]] = []

    def failing_body() -> None:
        with batching.batch():
            collected = batching.put_off_to_batch_end("index", written.append)
            assert collected is not None
            collected.append(1)
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
