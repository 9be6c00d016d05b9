"""``Idempotency-Key`` on POST: a retried request gets the first reply, never a second object.

The key is claimed by inserting its row in the same transaction as the action it guards, and the
reply is stored in that row before commit. A concurrent twin therefore either waits on the
unique index (PostgreSQL) or on the database write lock (SQLite, IMMEDIATE transactions) until
the first commits, then finds the stored reply; if the first fails, nothing was stored and the
twin runs the request itself. A crash cannot leave a key claimed without its reply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Header, Status
from pydantic import BaseModel

from atiende.api.auth import caller_of
from atiende.api.errors import ApiError
from atiende.api.models import IdempotencyRecord

# A retry comes within minutes; a day covers clients that retry after an outage.
KEPT_FOR = timedelta(hours=24)

IDEMPOTENCY_KEY_HEADER = Header(
    None,
    alias="Idempotency-Key",
    max_length=255,
    description=(
        "Any unique string (a UUID); a retry with the same key within 24 hours returns the "
        "first result."
    ),
)


def _request_hash(request: HttpRequest, payload: Any) -> str:
    plain = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    text = json.dumps(
        [request.method, request.path, plain], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> Status:
    if record.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reused")
    return Status(record.response_status, record.response_body)


def idempotent(
    request: HttpRequest,
    key: str | None,
    payload: Any,
    run: Callable[[], tuple[int, BaseModel]],
) -> Status:
    """Run ``run`` once per (token, key) and answer every repeat with its stored reply.

    ``run`` returns the status and the output schema; what is stored is its JSON form, which
    validates against the same response schema when replayed.
    """
    if not key:
        status, body = run()
        return Status(status, body)
    token = caller_of(request).token
    request_hash = _request_hash(request, payload)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    token=token,
                    key=key,
                    method=request.method or "",
                    path=request.path[:512],
                    request_hash=request_hash,
                    response_status=0,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(token=token, key=key).first()
            if existing is None or existing.response_status == 0:
                raise ApiError(409, "idempotency_in_progress") from None
            return _replay(existing, request_hash)
        status, body = run()
        record.response_status = status
        record.response_body = body.model_dump(mode="json")
        record.save(update_fields=["response_status", "response_body"])
    return Status(status, body)


def forget_old_replies(now: datetime | None = None) -> int:
    """Delete the replies kept longer than ``KEPT_FOR``; their keys may then be used again."""
    cutoff = (now or timezone.now()) - KEPT_FOR
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
