"""How a delivery is signed, and how a receiver checks it (see docs/webhooks.md).

The signature is ``v1=`` followed by the hex HMAC-SHA256, keyed with the subscription's secret, of
the text ``"{timestamp}.{body}"``: the Unix time in the ``Atiende-Webhook-Timestamp`` header, a
dot, and the request body exactly as received. Signing the timestamp with the body lets a
receiver refuse an old request replayed by someone who captured it. Plain Python, no Django.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

ID_HEADER = "Atiende-Webhook-Id"
TIMESTAMP_HEADER = "Atiende-Webhook-Timestamp"
SIGNATURE_HEADER = "Atiende-Webhook-Signature"
SIGNATURE_VERSION = "v1"
# What a receiver should accept between our clock and theirs, and for a slow network.
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, prefixed so that it is recognisable in a vault."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Atiende-Webhook-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def headers(
    secret: str, delivery_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Every header a delivery carries besides the content type."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    body: bytes,
    timestamp_header: str,
    signature_header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a request is ours and recent: what a receiver does (and what our tests do).

    The header may carry several comma-separated signatures (during a change of scheme); one
    valid ``v1`` is enough. The comparison takes constant time.
    """
    try:
        timestamp = int(timestamp_header)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(
        hmac.compare_digest(candidate.strip(), expected)
        for candidate in signature_header.split(",")
    )
