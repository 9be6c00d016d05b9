"""Background work of webhooks: each attempt at a delivery, and a sweep for lost ones."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.webhooks import sending


@db_task()
def send_delivery_task(delivery_id: int) -> None:
    """One attempt; queued after commit, and for each retry at its moment (never raises)."""
    sending.send_delivery(delivery_id)


@db_periodic_task(crontab(minute="*"))
def send_lost_deliveries_task() -> None:
    """Every minute: deliveries whose task was lost, queued again.

    Safe on several machines at once and next to the tasks it stands in for: an attempt starts by
    claiming the delivery, so only one sender posts it.
    """
    for delivery_id in sending.lost_delivery_ids():
        send_delivery_task(delivery_id)
