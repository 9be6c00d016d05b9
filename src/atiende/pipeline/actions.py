"""Receiving inbound messages and running them through the service chain.

The order of events for one message, and why:

1. :func:`receive_inbound` commits the raw bytes (and nothing else) before any stage runs, so a
   crash at any later point loses nothing (:func:`receive_inbound_many`: several messages in one
   commit). A second delivery with the same channel id finds the
   first row and stops there: one message, however often it is delivered.
2. :func:`process_inbound` runs the brand's chain in ONE transaction, under a lock on the inbound
   row, and marks the row done in that same transaction. Either every effect of every stage is
   committed together with "done", or none is: a crash or a failing stage leaves no half-made
   customer or conversation behind, and running the message again cannot duplicate anything.
3. A failure is recorded in a second, separate transaction: the row shows "needs attention", the
   stage and the error in words, and when it will be retried (with back-off). Invalid input that no
   retry can fix (a ValidationError) is "rejected" at once, with the reason.

A worker with many stored messages runs them with :func:`process_inbound_batch`: the same steps,
inside one transaction per batch, each message undone alone when it fails (on SQLite without a
savepoint unless a message fails after writing, see :mod:`atiende.core.batching`). The rows were
committed before the batch began, so a crash mid-batch loses only uncommitted results: those rows
are still "received" and the sweeper runs them again; results and "done" commit together, so
nothing is processed twice. What the batch's messages share, and the writes made once for all of
them at its end (the rows' "done", the search index), are in :mod:`atiende.core.batching`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.models import Brand
from atiende.core.actions import action, insert_each_unless_present, update_each
from atiende.core.batching import (
    ItemWroteThenFailed,
    batch,
    batch_item,
    batch_memo,
    write_at_batch_end,
)
from atiende.core.prepared import PreparedRead
from atiende.core.realtime import collect_notices
from atiende.pipeline import chain
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus, ServiceChain

logger = logging.getLogger(__name__)

# Waits before each automatic retry; after the last one the message waits for an administrator.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)


# Messages whose results one transaction commits: big enough that a commit (and, on SQLite, taking
# the write lock) is paid once per many messages, small enough that a crash redoes little and other
# writers wait at most a fraction of a second.
BATCH_SIZE = 100


class StageFailed(Exception):
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


@dataclass(frozen=True)
class Receipt:
    inbound: InboundMessage
    # False when the same message had already been received: nothing new was stored.
    created: bool


def _schedule(inbound_id: int) -> None:
    from atiende.pipeline.tasks import process_inbound_task

    process_inbound_task(inbound_id)


@dataclass(frozen=True)
class Arrival:
    """A message as it arrived on a channel, to be stored."""

    brand: Brand
    channel: str
    raw: bytes
    # The channel's id for the message (see InboundMessage.dedupe_key).
    dedupe_key: str
    source: str = ""


def receive_inbound(
    *,
    brand: Brand,
    channel: str,
    raw: bytes,
    dedupe_key: str,
    actor: Actor,
    source: str = "",
    process: bool = True,
) -> Receipt:
    """Store a message exactly as it arrived, once; queue it for the chain after commit.

    ``process=False`` leaves queuing to the caller (a bulk import processes in-line). (The
    action is ``receive_inbound_many``'s: an action of its own around it would cost a savepoint.)
    """
    arrival = Arrival(brand=brand, channel=channel, raw=raw, dedupe_key=dedupe_key, source=source)
    return receive_inbound_many(arrivals=[arrival], actor=actor, process=process)[0]


@action
def receive_inbound_many(
    *, arrivals: Sequence[Arrival], actor: Actor, process: bool = True
) -> list[Receipt]:
    """Store many messages, each once, in one transaction: a receipt for each, in order.

    For a caller holding several at once (an IMAP fetch, an archive being imported): one commit,
    and on SQLite one sync to disk, for all of them, where one each cost more than the rest of
    storing. Every message is still committed before anything processes it. ``process``: queue
    the new ones for the chain, in batches, after commit.
    """
    for brand_id in sorted({arrival.brand.pk for arrival in arrivals}):
        require(actor, Capability.WORK_CONVERSATIONS, brand_id)
    rows = [
        InboundMessage(
            brand=arrival.brand,
            channel=arrival.channel,
            source=arrival.source[:255],
            raw=arrival.raw,
            size=len(arrival.raw),
            dedupe_key=arrival.dedupe_key[:512],
        )
        for arrival in arrivals
    ]
    # The unique key decides, in one statement: a second delivery (or the same message arriving
    # twice at once, by IMAP and a webhook say) inserts nothing and finds the first row.
    inserted = insert_each_unless_present(rows, ["brand", "channel", "dedupe_key"])
    existing = _stored_before([row for row, new in zip(rows, inserted, strict=True) if not new])
    receipts = []
    for row, new in zip(rows, inserted, strict=True):
        if new:
            receipts.append(Receipt(row, created=True))
            continue
        first = existing.get((row.brand_id, row.channel, row.dedupe_key))
        if first is None:
            raise IntegrityError(
                f"inbound message {row.dedupe_key!r} clashed and then was not found"
            )
        receipts.append(Receipt(first, created=False))
    created = [receipt.inbound.pk for receipt in receipts if receipt.created]
    if process and len(created) == 1:
        # One message delivered on its own (SMTP, the webhook): its task takes the others
        # waiting along (process_inbound_and_waiting), so a burst is processed in batches.
        inbound_id = created[0]
        transaction.on_commit(lambda: _schedule(inbound_id))
    elif process:
        queue_inbound_batch(created)
    return receipts


def _stored_before(rows: list[InboundMessage]) -> dict[tuple[int, str, str], InboundMessage]:
    """The stored rows with the keys of ``rows`` (one query per brand and channel)."""
    keys: dict[tuple[int, str], set[str]] = {}
    brands: dict[int, Brand] = {}
    for row in rows:
        keys.setdefault((row.brand_id, row.channel), set()).add(row.dedupe_key)
        brands[row.brand_id] = row.brand
    found = {}
    for (brand_id, channel), dedupe_keys in keys.items():
        for stored in InboundMessage.objects.filter(
            brand_id=brand_id, channel=channel, dedupe_key__in=sorted(dedupe_keys)
        ):
            stored.brand = brands[brand_id]  # the caller's brand: no need to read it again
            found[(brand_id, channel, stored.dedupe_key)] = stored
    return found


_SERVICE_CHAIN_FIELDS = ("id", "brand_id", "channel", "stages", "acknowledge_new",
                         "acknowledgement_text", "updated_at")  # fmt: skip


def _service_chain_read(brand_id: int, channel: str) -> QuerySet[Any]:
    return ServiceChain.objects.filter(brand_id=brand_id, channel=channel).values_list(
        *_SERVICE_CHAIN_FIELDS
    )


# Read for every batch (its stages, then whether to acknowledge): compiled once, as building
# the query cost more than answering it.
_SERVICE_CHAIN = PreparedRead(_service_chain_read, brand_id=int, channel=str)


def configured_chain(brand_id: int, channel: str) -> ServiceChain | None:
    """The brand's configuration of the channel's chain, if it has one; read once per batch (the
    chain writes none)."""

    def read() -> ServiceChain | None:
        rows = _SERVICE_CHAIN.rows(brand_id=brand_id, channel=channel)
        return (
            ServiceChain.from_db(DEFAULT_DB_ALIAS, _SERVICE_CHAIN_FIELDS, rows[0]) if rows else None
        )

    return batch_memo(("service_chain", brand_id, channel), read)


def stages_for(brand: Brand, channel: str) -> list[chain.Stage]:
    configured = configured_chain(brand.pk, channel)
    return chain.validate(
        channel, (configured.stages if configured else None) or chain.default_order(channel)
    )


def _run_stages(stages: list[chain.Stage], context: chain.InboundContext) -> dict[str, float]:
    timings: dict[str, float] = {}
    for current in stages:
        started = time.perf_counter()
        try:
            current.run(context)
        except Exception as error:
            raise StageFailed(current.name, error) from error
        finally:
            timings[current.name] = round((time.perf_counter() - started) * 1000, 3)
        if context.stopped:
            break
    return timings


@action
def _run_chain(inbound_id: int) -> InboundMessage:
    # The row alone is locked (on PostgreSQL FOR UPDATE would lock the joined brand's row too).
    inbound = (
        InboundMessage.objects.select_for_update(of=("self",))
        .select_related("brand")
        .get(pk=inbound_id)
    )
    if inbound.status == InboundStatus.DONE:
        return inbound  # a late or repeated task: already processed, nothing to do
    return _process_locked(inbound)


def _process_locked(inbound: InboundMessage) -> InboundMessage:
    """Run the chain over a row this transaction holds locked, and mark it done (in a batch,
    together with the batch's other rows at its end)."""
    try:
        stages = batch_memo(
            ("stages", inbound.brand_id, inbound.channel),
            lambda: stages_for(inbound.brand, inbound.channel),
        )
    except chain.ChainError as error:
        # A stored order that no longer validates (a stage removed since): this message's
        # failure, recorded like a stage's, never the batch's.
        raise StageFailed("chain", error) from error
    context = chain.InboundContext(
        inbound=inbound, raw=bytes(inbound.raw), brand=inbound.brand, channel=inbound.channel
    )
    timings = _run_stages(stages, context)
    if not context.outcome:
        raise StageFailed("chain", RuntimeError("no stage decided what to do with the message"))
    inbound.status = InboundStatus.DONE
    inbound.outcome = context.outcome
    inbound.error = ""
    inbound.notes = "\n".join(context.notes)[:4000]
    inbound.conversation = context.get("conversation")
    inbound.message = context.get("message")
    inbound.stage_timings = timings
    inbound.processed_at = timezone.now()
    inbound.next_attempt_at = None
    # In a batch, every processed row is marked done at its end, in the same transaction as the
    # effects: still committed together with them, or not at all.
    write_at_batch_end(("pipeline", "inbound done"), _mark_done, [inbound])
    return inbound


_DONE_FIELDS = [
    "status", "outcome", "error", "notes", "conversation", "message", "stage_timings",
    "processed_at", "next_attempt_at",
]  # fmt: skip


def _mark_done(rows: list[InboundMessage]) -> None:
    """Write what :func:`_process_locked` set on each row, one statement for all of them."""
    update_each(rows, _DONE_FIELDS)


@action
def _record_failure(inbound_id: int, failure: StageFailed) -> InboundMessage:
    inbound = InboundMessage.objects.select_for_update().get(pk=inbound_id)
    inbound.attempts += 1
    inbound.error = f"{failure.stage}: {_in_words(failure.error)}"[:4000]
    permanent = isinstance(failure.error, ValidationError | chain.ChainError)
    if permanent:
        inbound.status = InboundStatus.DONE
        inbound.outcome = InboundOutcome.REJECTED
        inbound.next_attempt_at = None
        inbound.processed_at = timezone.now()
    else:
        inbound.status = InboundStatus.NEEDS_ATTENTION
        retry = inbound.attempts <= len(RETRY_DELAYS)
        inbound.next_attempt_at = (
            timezone.now() + RETRY_DELAYS[inbound.attempts - 1] if retry else None
        )
    inbound.save(
        update_fields=["attempts", "error", "status", "outcome", "next_attempt_at", "processed_at"]
    )
    if inbound.next_attempt_at is not None:
        due, pk = inbound.next_attempt_at, inbound.pk
        transaction.on_commit(lambda: _schedule_at(pk, due))
    return inbound


def _schedule_at(inbound_id: int, due: Any) -> None:
    from atiende.pipeline.tasks import process_inbound_task

    process_inbound_task.schedule((inbound_id,), eta=due)


def _in_words(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or type(error).__name__


def _log_failure(inbound_id: int, failure: StageFailed, raised: BaseException) -> None:
    """The log keeps the traceback of ``raised`` (the failure, or the error it stands for)."""
    if not isinstance(failure.error, ValidationError | chain.ChainError):
        logger.error(
            "inbound message %s failed in stage %s", inbound_id, failure.stage, exc_info=raised
        )


def process_inbound(inbound_id: int) -> InboundMessage:
    """Run one stored message through its brand's chain; never raises for a stage's failure."""
    try:
        return _run_chain(inbound_id)
    except StageFailed as failure:
        _log_failure(inbound_id, failure, failure)
        return _record_failure(inbound_id, failure)


def _received_ids() -> QuerySet[InboundMessage, int]:
    """Ids of the stored messages waiting for their first processing, oldest first."""
    return (
        InboundMessage.objects.filter(status=InboundStatus.RECEIVED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def process_inbound_and_waiting(inbound_id: int) -> list[InboundMessage]:
    """A worker's task for one stored message: that message and, in the same batch, the oldest
    others still waiting to be processed (up to a batch in all).

    Mail that arrives one message at a time (SMTP, the webhook) queues a task per message. Under a
    burst, taking the waiting messages along processes them at the batch's rate; their own tasks,
    when their turn comes, find them done (one read each). A message waiting for a scheduled
    retry (needs attention) is not taken along: its own task runs it when it is due.
    """
    waiting = _received_ids().exclude(pk=inbound_id)[: BATCH_SIZE - 1]
    return process_inbound_batch([inbound_id, *waiting])


def process_inbound_batch(
    inbound_ids: Iterable[int], *, batch_size: int = BATCH_SIZE
) -> list[InboundMessage]:
    """Run many stored messages through their chains: one transaction per ``batch_size`` rows.

    Precondition: every row was committed by :func:`receive_inbound` before this call (the
    durability rule: a message is stored before anything processes it). Rows already done are
    skipped. A failing message rolls back only its own effects and is recorded as needing
    attention (or rejected), as :func:`process_inbound` records it.
    """
    ordered = sorted(set(inbound_ids))
    size = max(1, batch_size)
    processed: list[InboundMessage] = []
    for start in range(0, len(ordered), size):
        chunk = ordered[start : start + size]
        # The batch's real-time notices go out together once it has committed.
        with collect_notices():
            try:
                processed.extend(_run_batch_with_savepoints_if_needed(chunk))
            except Exception:
                # What the batch writes once for all its messages at its end failed (the rows'
                # "done", the search index), so nothing of the batch was kept. One message at a
                # time instead: each then fails, if it does, on its own row, shown and retried.
                logger.exception("a batch of %d inbound messages failed; one at a time", len(chunk))
                waiting = (
                    InboundMessage.objects.filter(pk__in=chunk)
                    .exclude(status=InboundStatus.DONE)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                processed.extend(process_inbound(inbound_id) for inbound_id in list(waiting))
    return processed


# Runs of a batch that ask for a savepoint only for messages that failed after writing; then
# one for every message (each run after the first repeats the messages before the failing one).
_OPTIMISTIC_RUNS = 3


def _run_batch_with_savepoints_if_needed(inbound_ids: list[int]) -> list[InboundMessage]:
    """The batch without a savepoint per message where the database allows it; when a message
    fails after writing, the batch is rolled back whole and run again with a savepoint for that
    message (see :mod:`atiende.core.batching`)."""
    failed_after_writing: set[Hashable] = set()
    for _run in range(_OPTIMISTIC_RUNS):
        try:
            return _run_batch(inbound_ids, optimistic=True, savepoints_for=failed_after_writing)
        except ItemWroteThenFailed as failure:
            failed_after_writing.add(failure.item)
            logger.info(
                "inbound message %s failed after writing; its batch of %d runs again",
                failure.item,
                len(inbound_ids),
            )
    return _run_batch(inbound_ids, optimistic=False, savepoints_for=set())


@action
def _run_batch(
    inbound_ids: list[int], *, optimistic: bool, savepoints_for: set[Hashable]
) -> list[InboundMessage]:
    with batch(optimistic=optimistic):
        rows = _locked_waiting_rows(inbound_ids)
        _prepare(rows)
        processed = []
        for inbound in rows:
            try:
                # What it wrote, and what it put off to the batch's end (its event rows...), goes
                # if it fails.
                with batch_item(inbound.pk, savepoint=inbound.pk in savepoints_for):
                    processed.append(_process_locked(inbound))
            except ItemWroteThenFailed:
                raise  # only the batch's rollback undoes it: _run_batch_with_savepoints_if_needed
            except Exception as error:
                # Anything else raised while it ran (a database error) is this message's too:
                # the other messages of the batch go on.
                failure = error if isinstance(error, StageFailed) else StageFailed("chain", error)
                # Logged once the batch has committed: a batch rolled back and run again (see
                # _run_batch_with_savepoints_if_needed) would log it once a run.
                transaction.on_commit(functools.partial(_log_failure, inbound.pk, failure, error))
                processed.append(_record_failure(inbound.pk, failure))
    return processed


_INBOUND_FIELDS = tuple(field.attname for field in InboundMessage._meta.concrete_fields)
_BRAND_FIELDS = tuple(field.attname for field in Brand._meta.concrete_fields)


def _waiting_rows_read(inbound_ids: list[int]) -> QuerySet[Any]:
    # Locked in primary-key order, as every writer of these rows locks them (on PostgreSQL;
    # SQLite's transaction holds the database's write lock). Only these rows: their brands are
    # read apart, unlocked, as every other writer reads a brand.
    return (
        InboundMessage.objects.select_for_update()
        .filter(pk__in=inbound_ids)
        .exclude(status=InboundStatus.DONE)
        .order_by("pk")
        .values_list(*_INBOUND_FIELDS)
    )


def _brands_read(brand_ids: list[int]) -> QuerySet[Any]:
    return Brand.objects.filter(pk__in=brand_ids).values_list(*_BRAND_FIELDS)


# Read for every batch: compiled once per length of the list (padded, see PreparedRead), as
# building the queries cost more than answering them.
_WAITING_ROWS = PreparedRead(_waiting_rows_read, inbound_ids=list)
_BRANDS = PreparedRead(_brands_read, brand_ids=list)


def _locked_waiting_rows(inbound_ids: list[int]) -> list[InboundMessage]:
    """The batch's rows not done yet, locked, in primary-key order; the rows of one brand share
    one copy of it."""
    rows = [
        InboundMessage.from_db(DEFAULT_DB_ALIAS, _INBOUND_FIELDS, row)
        for row in _WAITING_ROWS.rows(inbound_ids=inbound_ids)
    ]
    brand_ids = sorted({inbound.brand_id for inbound in rows})
    read = [
        Brand.from_db(DEFAULT_DB_ALIAS, _BRAND_FIELDS, row)
        for row in (_BRANDS.rows(brand_ids=brand_ids) if brand_ids else [])
    ]
    brands = {brand.pk: brand for brand in read}
    for inbound in rows:
        inbound.brand = brands[inbound.brand_id]
    return rows


def _prepare(rows: list[InboundMessage]) -> None:
    """Let each channel read what its stages will ask about the whole batch, in a few queries."""
    by_channel: dict[str, list[InboundMessage]] = {}
    for inbound in rows:
        by_channel.setdefault(inbound.channel, []).append(inbound)
    for channel, channel_rows in by_channel.items():
        preparer = chain.batch_preparer(channel)
        if preparer is None:
            continue
        try:
            # A savepoint: on PostgreSQL a failed statement would otherwise abort the batch.
            with transaction.atomic():
                preparer(channel_rows)
        except Exception:
            # Only lost speed: the stages look each message up on their own.
            logger.exception("preparing a batch of %s messages failed", channel)


def queue_inbound_batch(inbound_ids: Iterable[int]) -> None:
    """After commit, hand stored messages to a worker as batches (for a caller storing many)."""
    ids = sorted(set(inbound_ids))

    def enqueue() -> None:
        from atiende.pipeline.tasks import process_inbound_batch_task

        for start in range(0, len(ids), BATCH_SIZE):
            process_inbound_batch_task(ids[start : start + BATCH_SIZE])

    if ids:
        transaction.on_commit(enqueue)


@action
def replay_inbound(*, inbound: InboundMessage, actor: Actor) -> None:
    """An administrator asks for a message to be processed again now (after fixing the cause)."""
    require(actor, Capability.CONFIGURE_BRAND, inbound.brand_id)
    inbound = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
    if inbound.status == InboundStatus.DONE and inbound.outcome != InboundOutcome.REJECTED:
        raise ValidationError(
            "This message was processed; there is nothing to replay.", code="already_done"
        )
    inbound.status = InboundStatus.RECEIVED
    inbound.outcome = ""
    inbound.next_attempt_at = None
    inbound.save(update_fields=["status", "outcome", "next_attempt_at"])
    pk = inbound.pk
    transaction.on_commit(lambda: _schedule(pk))


@action
def configure_service_chain(
    *, brand: Brand, channel: str, stages: list[str], actor: Actor, **options: Any
) -> ServiceChain:
    """Set a brand's order of stages for a channel; an order that breaks a dependency is refused."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    unknown = set(options) - {"acknowledge_new", "acknowledgement_text"}
    if unknown:
        raise TypeError(f"Unknown chain options: {', '.join(sorted(unknown))}")
    try:
        chain.validate(channel, stages)
    except chain.ChainError as error:
        raise ValidationError(str(error), code="invalid_chain") from None
    configured, _created = ServiceChain.objects.update_or_create(
        brand=brand, channel=channel, defaults={"stages": list(stages), **options}
    )
    return configured


def process_due_inbound(
    limit: int = 200, *, waiting: timedelta = timedelta(minutes=1), batch_size: int = BATCH_SIZE
) -> int:
    """Messages whose task was lost (received over a minute ago) or whose retry is due.

    ``waiting`` is how long a received message must have waited: a younger one normally has its
    task queued still (processing it here as well would be safe, only wasted work).
    """
    now = timezone.now()
    due = list(_received_ids().filter(received_at__lte=now - waiting)[:limit]) + list(
        InboundMessage.objects.filter(
            status=InboundStatus.NEEDS_ATTENTION, next_attempt_at__lte=now
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    process_inbound_batch(due, batch_size=batch_size)
    return len(due)


def process_waiting_inbound(
    *, waiting: timedelta = timedelta(0), batch_size: int = BATCH_SIZE
) -> int:
    """Every stored message that waits (and every retry that is due), batch after batch, until
    none is left; returns how many were processed. It ends: each message leaves the waiting set
    when processed (done, rejected, or a retry set in the future)."""
    total = 0
    while processed := process_due_inbound(
        limit=batch_size, waiting=waiting, batch_size=batch_size
    ):
        total += processed
    return total
