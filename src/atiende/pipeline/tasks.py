"""Background work of the service chain: process what arrived, retry what failed, sweep up."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.pipeline.actions import process_due_inbound, process_inbound


@db_task()
def process_inbound_task(inbound_id: int) -> None:
    process_inbound(inbound_id)


@db_periodic_task(crontab(minute="*"))
def process_due_inbound_task() -> None:
    """Every minute: messages whose processing task was lost, and retries that are due.

    Safe on several machines at once: each message is processed under a row lock and a finished
    one is skipped.
    """
    process_due_inbound()
