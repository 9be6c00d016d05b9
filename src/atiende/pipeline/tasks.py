"""Background work of the service chain: process what arrived, retry what failed, sweep up."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.pipeline.actions import (
    process_due_inbound,
    process_inbound_and_waiting,
    process_inbound_batch,
    process_waiting_inbound,
)


@db_task()
def process_inbound_task(inbound_id: int) -> None:
    """One stored message, and the messages waiting beside it (see process_inbound_and_waiting)."""
    process_inbound_and_waiting(inbound_id)


@db_task()
def process_inbound_batch_task(inbound_ids: list[int]) -> None:
    """Many stored messages in one worker call (see process_inbound_batch); queued after commit."""
    process_inbound_batch(inbound_ids)


@db_periodic_task(crontab(minute="*"))
def process_due_inbound_task() -> None:
    """Every minute: messages whose processing task was lost, and retries that are due.

    Safe on several machines at once: each message is processed under a row lock and a finished
    one is skipped.
    """
    process_due_inbound()


@db_task()
def recover_inbound_task() -> None:
    """Queued by every worker as it starts: what a stopped or killed worker left received is
    processed now, not at the next minute's sweep. Safe beside other workers: a message being
    processed elsewhere is locked, then found done and skipped."""
    process_waiting_inbound()
