"""Housekeeping of the API's own rows."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from atiende.api.idempotency import forget_old_replies


@db_periodic_task(crontab(minute="23"))
def forget_old_replies_task() -> None:
    """Hourly, idempotent: drop Idempotency-Key replies older than a day."""
    forget_old_replies()
