"""One unit of work over many items, in one transaction: what its items may share and put off.

A worker processes stored inbound messages in batches (``atiende.pipeline.actions``), one
transaction per batch, each message undone alone when it fails. Inside :func:`batch`:

- :func:`batch_memo` computes a value once for the whole batch: only for what the work reads and
  never writes (a brand's stage order, its SLA policies, its webhook subscriptions).
- :func:`note_batch_write` / :func:`written_in_batch` remember which rows an item of the batch
  wrote, so that an answer read for the whole batch before it began is trusted only for rows
  nobody has written since.
- :func:`write_at_batch_end` collects items for a write that is cheaper done once for all of
  them (event rows, the search index's rows): made when the batch's body ends, still inside its
  transaction, so it commits or rolls back with what caused it.
- :func:`batch_item` marks one unit of the batch's work (one inbound message): what it
  collects for the batch's end is kept only if it ends without an exception, so a message whose
  writes were rolled back leaves no event row behind. What is collected outside any item is kept
  as it is.

**Savepoints only where a failure needs one** (``batch(optimistic=True)``). An item is all or
nothing, and a savepoint per item makes it so; but on SQLite a savepoint copies the original of
every page its statements change into a statement journal, and one inbound message changes dozens
of pages (a new conversation alone touches some thirty indexes). Most items succeed, and most that
fail are refused by a check before they write anything (an empty mail, an address that is
already another customer's). So
an optimistic batch runs its items without savepoints, on a database that counts the rows a
transaction has written (the project's SQLite backend, ``rows_written``): an item that fails
having written nothing needs no undoing, and the batch goes on; one that fails after writing
raises :class:`ItemWroteThenFailed` out of the batch, whose caller rolls the whole batch back and
runs it again, that item in a savepoint (``batch_item(savepoint=True)``). On PostgreSQL, where a
failed statement aborts the transaction, every item keeps its savepoint.

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
    # Whether items run without a savepoint (see batch(optimistic=...)).
    optimistic: bool = False


_current: ContextVar[_Batch | None] = ContextVar("atiende_batch", default=None)


class ItemWroteThenFailed(Exception):
    """An item of an optimistic batch failed after writing (or once its transaction had ended):
    only rolling the whole batch back undoes it. The caller runs the batch again with a savepoint
    for that item (``item``: what :func:`batch_item` was given to name it); the item's own error
    is this one's ``__cause__``."""

    def __init__(self, item: Hashable, error: BaseException) -> None:
        super().__init__(f"{item!r}: {error}")
        self.item = item


@contextmanager
def batch(*, optimistic: bool = False) -> Iterator[None]:
    """Run the body as one batch; its put-off writes are made when the body ends without error.

    The caller holds the transaction: the writes are made inside it, before it commits. A write
    that fails raises out of the batch, whose transaction the caller then rolls back (the inbound
    pipeline processes the batch's messages again one at a time).

    ``optimistic``: items take no savepoint where the database counts what a transaction wrote
    (see the module's doc), unless asked to; the caller must then catch
    :class:`ItemWroteThenFailed`, roll the batch back, and run it again with a savepoint for
    that item (or without ``optimistic``).
    """
    state = _Batch(optimistic=optimistic and _rows_written() is not None)
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
def batch_item(item: Hashable = None, *, savepoint: bool = False) -> Iterator[None]:
    """Run the body as one item of the running batch (nothing special outside a batch): if it
    raises, everything it wrote is rolled back, and the writes it put off for the batch's end
    are dropped with it. The rollback is its savepoint's, or in an optimistic batch, unless
    ``savepoint`` asks for one, none (it wrote nothing) or the whole batch's
    (:class:`ItemWroteThenFailed` is raised instead, naming ``item``).

    The actions it calls take no savepoints of their own (see :func:`atiende.core.actions.action`):
    an item is all or nothing. An item that goes on after one of its actions failed (an error
    caught) fails when it ends, even if nothing else failed: what the action wrote before it
    failed is not undone by the action.
    """
    state = _current.get()
    if state is None or state.item_put_off is not None:
        yield  # outside a batch, or inside an item already: the enclosing one decides
        return
    kept: PutOff = {}
    state.item_put_off = kept
    try:
        if state.optimistic and not savepoint:
            with _undone_by_nothing_or_the_batch(item):
                yield
                _refuse_going_on_after_a_failure()
        else:
            with transaction.atomic():
                yield
                _refuse_going_on_after_a_failure()
    finally:
        state.item_put_off = None
    # Reached only when the body ended without an exception.
    for key, (items, write) in kept.items():
        state.put_off.setdefault(key, ([], write))[0].extend(items)


def _rows_written() -> int | None:
    """What the connection counts of the rows its transaction wrote, or None where it counts
    nothing (PostgreSQL) or no transaction is open any more."""
    connection = transaction.get_connection()
    counter = getattr(connection, "rows_written", None)
    return None if counter is None else counter()


@contextmanager
def _undone_by_nothing_or_the_batch(item: Hashable) -> Iterator[None]:
    """An optimistic batch's item: a failure that wrote nothing leaves the transaction as it
    was (the failed action's rollback mark is lifted: there is nothing to roll back); any other
    is the whole batch's."""
    before = _rows_written()
    callbacks = transaction.get_connection().run_on_commit
    callbacks_before = len(callbacks)
    try:
        yield
    except Exception as error:
        after = _rows_written()
        if before is None or after != before:
            # (None: SQLite rolled the transaction back on its own, after a full disk or an
            # I/O error; the items before this one were undone with it.)
            raise ItemWroteThenFailed(item, error) from error
        # What it asked to run on commit goes with it, as a savepoint's rollback drops it.
        del callbacks[callbacks_before:]
        transaction.set_rollback(False)
        raise


def _refuse_going_on_after_a_failure() -> None:
    if transaction.get_rollback():
        raise transaction.TransactionManagementError(
            "an action failed inside this item and the item went on"
        )


def in_batch_item() -> bool:
    """Whether an item of a running batch is running."""
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
