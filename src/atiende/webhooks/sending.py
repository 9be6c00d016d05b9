"""Posting deliveries to their endpoints: one attempt at a time, never raising.

``send_delivery`` is what the task queued after commit (and each retry, scheduled for its
moment) runs; ``send_due_deliveries`` sends whatever is due by a given time, which is how the
periodic sweep recovers lost tasks and how tests run "the retries due by tomorrow" at once.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from atiende.webhooks import actions, signing
from atiende.webhooks.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
USER_AGENT = "Atiende-Webhooks/1"
# Of an endpoint's answer, only the start is kept, to say what went wrong.
_KEPT_RESPONSE_BYTES = 500


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx, hence a failed attempt: the signed request is
    posted to the URL the administrator gave and nowhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST ``body``; the HTTP status (None if no answer came) and, unless 2xx, the error."""
    if not url.startswith(("https://", "http://")):
        return None, f"not an http(s) URL: {url}"
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked just above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(_KEPT_RESPONSE_BYTES)
            return response.status, ""
    except urllib.error.HTTPError as failure:
        answer = failure.read(_KEPT_RESPONSE_BYTES).decode("utf-8", errors="replace").strip()
        return failure.code, f"HTTP {failure.code} {failure.reason}: {answer}".strip(": ")
    except urllib.error.URLError as failure:
        return None, str(failure.reason) or type(failure.reason).__name__
    except (OSError, ValueError) as failure:  # timeouts, resets, a URL urllib cannot use
        return None, str(failure) or type(failure).__name__


def send_delivery(delivery_id: int, *, due_by: datetime | None = None) -> str | None:
    """Make one attempt at a delivery if it is due; its status afterwards (None: not sent now).

    Never raises: a failure of our own is logged, and the claim lapses so the sweep retries.
    """
    try:
        delivery = actions.claim_delivery(
            delivery_id=delivery_id,
            due_by=due_by or timezone.now(),
            actor=actions.WEBHOOKS_ACTOR,
        )
        if delivery is None:
            return None
        status_code, error = _attempt(delivery)
        recorded = actions.record_attempt(
            delivery_id=delivery_id,
            status_code=status_code,
            error=error,
            actor=actions.WEBHOOKS_ACTOR,
        )
    except Exception:
        logger.exception("webhook delivery %s could not be sent", delivery_id)
        return None
    if recorded.status != DeliveryStatus.DELIVERED:
        logger.info(
            "webhook delivery %s attempt %s failed: %s",
            delivery_id,
            recorded.attempts,
            recorded.last_error,
        )
    return recorded.status


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = encode_payload(delivery.payload)
    headers = signing.headers(delivery.subscription.secret, str(delivery.delivery_id), body)
    return post(delivery.subscription.url, body, headers)


def due_delivery_ids(due_by: datetime, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=due_by,
            subscription__is_active=True,
            subscription__paused_at__isnull=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def send_due_deliveries(*, due_by: datetime | None = None, limit: int = 500) -> int:
    """Attempt, here and now, every delivery due by ``due_by``; how many were attempted."""
    due_by = due_by or timezone.now()
    return sum(
        send_delivery(delivery_id, due_by=due_by) is not None
        for delivery_id in due_delivery_ids(due_by, limit)
    )


def lost_delivery_ids(limit: int = 500) -> list[int]:
    """Due for over a minute: their task was lost (a worker restart) or their claim lapsed. A
    younger one normally has its task queued still."""
    return due_delivery_ids(timezone.now() - timedelta(minutes=1), limit)
