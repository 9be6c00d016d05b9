"""Cursor pagination: keyset over (sort key, id), never OFFSET.

The cursor is opaque to clients: URL-safe base64 of the last row's sort value and id. A page
costs the same whether it is the first or the thousandth, and rows inserted meanwhile neither
repeat nor shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from atiende.api.errors import ApiError

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _encode(value: Any, pk: int) -> str:
    plain = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([plain, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, *, is_datetime: bool) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError(pk)
        if is_datetime:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(value)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor") from None
    return value, pk


def paginate(
    queryset: QuerySet[M], *, order: str, cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """One page of ``queryset`` sorted by ``order`` ("-updated_at", "id"...) then id in the same
    direction, and the cursor of the next page (None on the last one)."""
    descending = order.startswith("-")
    field = order.lstrip("-")
    is_datetime = field != "id"
    if cursor:
        value, pk = _decode(cursor, is_datetime=is_datetime)
        after = "lt" if descending else "gt"
        if field == "id":
            queryset = queryset.filter(**{f"id__{after}": pk})
        else:
            queryset = queryset.filter(
                Q(**{f"{field}__{after}": value}) | Q(**{field: value, f"id__{after}": pk})
            )
    sign = "-" if descending else ""
    rows = list(queryset.order_by(f"{sign}{field}", f"{sign}id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, _encode(getattr(last, field), last.pk)
