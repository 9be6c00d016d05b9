"""Receiving inbound messages and running them through the service chain.

The order of events for one message, and why:

1. :func:`receive_inbound` commits the raw bytes (and nothing else) before any stage runs, so a
   crash at any later point loses nothing. A second delivery with the same channel id finds the
   first row and stops there: one message, however often it is delivered.
2. :func:`process_inbound` runs the brand's chain in ONE transaction, under a lock on the inbound
   row, and marks the row done in that same transaction. Either every effect of every stage is
   committed together with "done", or none is: a crash or a failing stage leaves no half-made
   customer or conversation behind, and running the message again cannot duplicate anything.
3. A failure is recorded in a second, separate transaction: the row shows "needs attention", the
   stage and the error in words, and when it will be retried (with back-off). Invalid input that no
   retry can fix (a ValidationError) is "rejected" at once, with the reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.models import Brand
from atiende.core.actions import action
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


@action
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

    ``process=False`` leaves queuing to the caller (a bulk import processes in-line).
    """
    require(actor, Capability.WORK_CONVERSATIONS, brand.pk)
    key = dedupe_key[:512]
    existing = InboundMessage.objects.filter(brand=brand, channel=channel, dedupe_key=key).first()
    if existing is not None:
        return Receipt(existing, created=False)
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                brand=brand,
                channel=channel,
                source=source[:255],
                raw=raw,
                size=len(raw),
                dedupe_key=key,
            )
    except IntegrityError:
        # The same message arriving twice at the same moment (IMAP and a webhook, say).
        return Receipt(
            InboundMessage.objects.get(brand=brand, channel=channel, dedupe_key=key), False
        )
    if process:
        inbound_id = inbound.pk
        transaction.on_commit(lambda: _schedule(inbound_id))
    return Receipt(inbound, created=True)


def stages_for(brand: Brand, channel: str) -> list[chain.Stage]:
    configured = (
        ServiceChain.objects.filter(brand=brand, channel=channel)
        .values_list("stages", flat=True)
        .first()
    )
    return chain.validate(channel, configured or chain.default_order(channel))


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
    inbound = InboundMessage.objects.select_for_update().select_related("brand").get(pk=inbound_id)
    if inbound.status == InboundStatus.DONE:
        return inbound  # a late or repeated task: already processed, nothing to do
    context = chain.InboundContext(
        inbound=inbound, raw=bytes(inbound.raw), brand=inbound.brand, channel=inbound.channel
    )
    timings = _run_stages(stages_for(inbound.brand, inbound.channel), context)
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
    inbound.save(
        update_fields=[
            "status", "outcome", "error", "notes", "conversation", "message", "stage_timings",
            "processed_at", "next_attempt_at",
        ]
    )  # fmt: skip
    return inbound


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


def process_inbound(inbound_id: int) -> InboundMessage:
    """Run one stored message through its brand's chain; never raises for a stage's failure."""
    try:
        return _run_chain(inbound_id)
    except StageFailed as failure:
        if not isinstance(failure.error, ValidationError | chain.ChainError):
            logger.exception("inbound message %s failed in stage %s", inbound_id, failure.stage)
        return _record_failure(inbound_id, failure)


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


def process_due_inbound(limit: int = 200) -> int:
    """Messages whose task was lost (received over a minute ago) or whose retry is due."""
    now = timezone.now()
    due = list(
        InboundMessage.objects.filter(
            status=InboundStatus.RECEIVED, received_at__lte=now - timedelta(minutes=1)
        ).values_list("pk", flat=True)[:limit]
    ) + list(
        InboundMessage.objects.filter(
            status=InboundStatus.NEEDS_ATTENTION, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    for inbound_id in due:
        process_inbound(inbound_id)
    return len(due)
