"""One unit of work over many items, in one transaction: what its items may share and put off.

A worker processes stored inbound messages in batches (``atiende.pipeline.actions``), one
transaction per batch and a savepoint per message. Inside :func:`batch`:

- :func:`batch_memo` computes a value once for the whole batch: only for what the work reads and
  never writes (a brand's stage order, its SLA policies, its webhook subscriptions).
- :func:`note_batch_write` / :func:`written_in_batch` remember which rows an item of the batch
  wrote, so that an answer read for the whole batch before it began is trusted only for rows
  nobody has written since.
- :func:`write_at_batch_end` collects items for a write that is cheaper done once for all of
  them (event rows, the search index's rows): made when the batch's body ends, still inside its
  transaction, so it commits or rolls back with what caused it.
- :func:`batch_item` marks one unit of the batch's work (one inbound message, in its savepoint):
  what it collects for the batch's end is kept only if it ends without an exception, so a
  message whose savepoint rolled back leaves no event row behind. What is collected outside any
  item is kept as it is.

Outside a batch every function behaves as if each call were a batch of its own: the memo computes
every time, nothing is remembered, and a write for the batch's end is made at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction

T = TypeVar("T")

# What a put-off write does with the items collected for it, once, at the batch's end.
BatchEndWrite = Callable[[list[Any]], None]


# A put-off write's key, with the items collected for it and what writes them. In the order
# first asked for: a later write may rely on an earlier one (a webhook delivery names the event
# row inserted before it).
PutOff = dict[Hashable, tuple[list[Any], BatchEndWrite]]


@dataclass
class _Batch:
    memo: dict[Hashable, Any] = field(default_factory=dict)
    written: set[Hashable] = field(default_factory=set)
    put_off: PutOff = field(default_factory=dict)
    # What the running batch_item collected so far, or None outside one.
    item_put_off: PutOff | None = None


_current: ContextVar[_Batch | None] = ContextVar("atiende_batch", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """Run the body as one batch; its put-off writes are made when the body ends without error.

    The caller holds the transaction: the writes are made inside it, before it commits. A write
    that fails raises out of the batch, whose transaction the caller then rolls back (the inbound
    pipeline processes the batch's messages again one at a time).
    """
    state = _Batch()
    token = _current.set(state)
    try:
        yield
        # A write made here may put off another (it runs listeners): taken until none is left.
        while state.put_off:
            key = next(iter(state.put_off))
            items, write = state.put_off.pop(key)
            write(items)
    finally:
        _current.reset(token)


def in_batch() -> bool:
    return _current.get() is not None


@contextmanager
def batch_item() -> Iterator[None]:
    """Run the body as one item of the running batch, in a savepoint of its own (nothing
    special outside a batch): if it raises, everything it wrote is rolled back, and the writes
    it put off for the batch's end are dropped with it.

    The actions it calls take no savepoints of their own (see :func:`atiende.core.actions.action`):
    an item is all or nothing. A savepoint rolled back inside the item while the item goes on
    would not be seen here (the writes put off under it would stay); the service chain's stages
    catch no database error.
    """
    state = _current.get()
    if state is None or state.item_put_off is not None:
        yield  # outside a batch, or inside an item already: the enclosing one decides
        return
    kept: PutOff = {}
    state.item_put_off = kept
    try:
        with transaction.atomic():
            yield
    finally:
        state.item_put_off = None
    # Reached only when the body ended without an exception.
    for key, (items, write) in kept.items():
        state.put_off.setdefault(key, ([], write))[0].extend(items)


def in_batch_item() -> bool:
    """Whether an item of a running batch is running (and so its savepoint)."""
    state = _current.get()
    return state is not None and state.item_put_off is not None


def batch_memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per batch; outside one, every call.

    What the batch does write (customers, conversations, messages) may be taken from here only as
    it was read before the batch began, and only after checking that no item of the batch wrote
    it (see :func:`note_batch_write`).
    """
    state = _current.get()
    if state is None:
        return compute()
    if key not in state.memo:
        state.memo[key] = compute()
    return state.memo[key]


def note_batch_write(key: Hashable) -> None:
    """Remember, for the rest of the batch, that a row named by ``key`` was written.

    Kept even when the item that wrote it rolls back to its savepoint: a key here only makes a
    reader ask the database instead of trusting what was read before the batch began.
    """
    state = _current.get()
    if state is not None:
        state.written.add(key)


def written_in_batch(key: Hashable) -> bool:
    state = _current.get()
    return state is not None and key in state.written


def write_at_batch_end(key: Hashable, write: BatchEndWrite, items: Iterable[Any]) -> None:
    """``write(items)``: now outside a batch; inside one, once at its end, with every item
    collected under ``key`` by then (repeats included)."""
    state = _current.get()
    if state is None:
        write(list(items))
        return
    put_off = state.put_off if state.item_put_off is None else state.item_put_off
    put_off.setdefault(key, ([], write))[0].extend(items)
