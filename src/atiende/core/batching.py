"""One unit of work over many items, in one transaction: what its items may share and put off.

A worker processes stored inbound messages in batches (``atiende.pipeline.actions``), one
transaction per batch and a savepoint per message. Inside :func:`batch`:

- :func:`batch_memo` computes a value once for the whole batch: only for what the work reads and
  never writes (a brand's stage order, its SLA policies, its webhook subscriptions).
- :func:`note_batch_write` / :func:`written_in_batch` remember which rows an item of the batch
  wrote, so that an answer read for the whole batch before it began is trusted only for rows
  nobody has written since.
- :func:`write_at_batch_end` collects items for a write that is cheaper done once for all of
  them (the search index's rows, set-based): made when the batch's body ends, still inside its
  transaction, so it commits or rolls back with what caused it. An item collected inside a
  savepoint that later rolls back stays collected: such a write reads what it writes from the
  database at the end (the search index, the SLA checks), or its items are collected only as the
  last step of their work (the inbound rows' "done").

Outside a batch every function behaves as if each call were a batch of its own: the memo computes
every time, nothing is remembered, and a write for the batch's end is made at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# What a put-off write does with the items collected for it, once, at the batch's end.
BatchEndWrite = Callable[[list[Any]], None]


@dataclass
class _Batch:
    memo: dict[Hashable, Any] = field(default_factory=dict)
    written: set[Hashable] = field(default_factory=set)
    # In the order first asked for: a later write may rely on an earlier one.
    put_off: dict[Hashable, tuple[list[Any], BatchEndWrite]] = field(default_factory=dict)


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
    entry = state.put_off.get(key)
    if entry is None:
        entry = state.put_off[key] = ([], write)
    entry[0].extend(items)
