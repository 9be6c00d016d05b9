"""Requests per token in a fixed window, counted in the cache (local memory, or Redis shared by
every web process when REDIS_URL is set)."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache

from atiende.api.errors import ApiError


def check_rate(token_id: int, *, now: float | None = None) -> None:
    """Count one request of the token; raise a 429 ApiError with Retry-After past the limit.

    ``cache.add`` then ``cache.incr`` is atomic on Redis and under locmem's lock, so concurrent
    requests never lose a count; the key expires with its window.
    """
    limit = settings.ATIENDE_API_RATE_LIMIT
    if limit <= 0:
        return
    window = max(1, settings.ATIENDE_API_RATE_WINDOW)
    moment = time.time() if now is None else now
    started = int(moment // window) * window
    key = f"atiende:api-rate:{token_id}:{started}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add and incr: this request opens the next window.
        cache.add(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        retry_after = max(1, math.ceil(started + window - moment))
        raise ApiError(429, "rate_limited", headers={"Retry-After": str(retry_after)})
