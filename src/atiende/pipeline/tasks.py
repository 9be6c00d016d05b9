"""Background work of the service chain: process what arrived, retry what failed, sweep up."""

from __future__ import annotations

from datetime import timedelta

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.pipeline.actions import process_due_inbound, process_inbound, process_inbound_batch


@db_task()
def process_inbound_task(inbound_id: int) -> None:
    process_inbound(inbound_id)


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


# Each round takes up to this many messages; enough rounds for any backlog a crash leaves.
_RECOVERY_LIMIT = 200
_RECOVERY_ROUNDS = 1000


@db_task()
def recover_inbound_task() -> None:
    """Queued by every worker as it starts: what a stopped or killed worker left received is
    processed now, not at the next minute's sweep. Safe beside other workers: a message being
    processed elsewhere is locked, then found done and skipped."""
    for _round in range(_RECOVERY_ROUNDS):
        if process_due_inbound(limit=_RECOVERY_LIMIT, waiting=timedelta(0)) < _RECOVERY_LIMIT:
            return
