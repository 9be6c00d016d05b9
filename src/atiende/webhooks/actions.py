"""Configuring a brand's webhook subscriptions, and the bookkeeping of their deliveries.

Configuration actions (create, update, pause, resume, rotate the secret, redeliver) check
``brand.configure`` and record one brand event each. The sender's actions (enqueue, claim,
record an attempt) run as the system: the delivery row is their record — a brand event per
attempt would bury the brand's history — and only an automatic pause is written as a brand event.

Sending happens outside any transaction (an HTTP request must never hold a database lock): a
sender first *claims* a due delivery by pushing its ``next_attempt_at`` past the time a send can
take, in one conditional UPDATE, so two senders (the task queued after commit and the periodic
sweep) never post the same attempt; a sender that dies while holding one lets the claim lapse,
and the sweep sends it again. Delivery is therefore at least once, and the delivery id lets
receivers drop a repeat.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.events import record_brand_event
from atiende.brands.models import Brand
from atiende.core.actions import action
from atiende.core.actors import system_actor
from atiende.webhooks import registry, signing
from atiende.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

WEBHOOKS_ACTOR = system_actor("webhooks")

# Waits after each failed attempt: eight attempts over about 21 hours, then "failed".
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=8),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Failed attempts in a row (over all its deliveries) after which a subscription is paused.
PAUSE_AFTER_FAILURES = 20
# How long a claimed delivery is left to its sender (a request times out after 10 s).
CLAIM_LEASE = timedelta(minutes=5)

EDITABLE_FIELDS = frozenset({"url", "event_types", "description", "is_active"})
# Plain http is refused except to this machine, for development and tests.
_LOOPBACK_NAMES = {"localhost"}


def check_url(url: str) -> str:
    """``url`` stripped, if Atiende may post to it: https, or http to this machine only."""
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError(_("Enter a valid URL."), code="invalid_url") from None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError(
            _("Do not put a user name or password in the URL; deliveries are signed instead."),
            code="credentials_in_url",
        )
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise ValidationError(
            _("Use an https:// URL (plain http is only allowed to localhost, for testing)."),
            code="https_required",
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_event_types(event_types: Iterable[str]) -> list[str]:
    """The event types, without repeats and sorted, if every one is known."""
    wanted = sorted({str(code).strip() for code in event_types})
    if not wanted:
        raise ValidationError(_("Choose at least one event type."), code="no_event_types")
    unknown = [code for code in wanted if not registry.is_registered(code)]
    if unknown:
        raise ValidationError(
            _("Unknown event type: %(types)s."),
            code="unknown_event_type",
            params={"types": ", ".join(unknown)},
        )
    return wanted


@action
def create_subscription(
    *,
    brand: Brand,
    url: str,
    event_types: Sequence[str],
    actor: Actor,
    description: str = "",
    is_active: bool = True,
) -> tuple[WebhookSubscription, str]:
    """A new endpoint for the brand's events, and its signing secret (show it to the admin once)."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    subscription = WebhookSubscription.objects.create(
        brand=brand,
        url=check_url(url),
        event_types=check_event_types(event_types),
        description=description.strip()[:200],
        secret=signing.new_secret(),
        is_active=is_active,
    )
    record_brand_event(
        brand,
        "webhook.subscription_created",
        actor=actor,
        payload={
            "subscription": subscription.pk,
            "url": subscription.url,
            "event_types": subscription.event_types,
        },
    )
    return subscription, subscription.secret


def _locked(subscription: WebhookSubscription) -> WebhookSubscription:
    return (
        WebhookSubscription.objects.select_for_update()
        .select_related("brand")
        .get(pk=subscription.pk)
    )


@action
def update_subscription(
    *, subscription: WebhookSubscription, actor: Actor, **changes: Any
) -> WebhookSubscription:
    """Change the URL, the event types, the description or whether it is switched on.

    Switching a subscription back on sends the deliveries that waited meanwhile.
    """
    require(actor, Capability.CONFIGURE_BRAND, subscription.brand_id)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"Unknown webhook subscription fields: {', '.join(sorted(unknown))}")
    if "url" in changes:
        changes["url"] = check_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = check_event_types(changes["event_types"])
    if "description" in changes:
        changes["description"] = changes["description"].strip()[:200]
    current = _locked(subscription)
    changed = sorted(name for name, value in changes.items() if getattr(current, name) != value)
    if not changed:
        return current
    was_receiving = current.receives
    for name in changed:
        setattr(current, name, changes[name])
    current.save(update_fields=[*changed, "updated_at"])
    if current.receives and not was_receiving:
        _release_waiting(current)
    record_brand_event(
        current.brand,
        "webhook.subscription_updated",
        actor=actor,
        payload={"subscription": current.pk, "changed": changed},
    )
    return current


@action
def pause_subscription(
    *, subscription: WebhookSubscription, actor: Actor, reason: str = ""
) -> WebhookSubscription:
    """Hold deliveries to the endpoint (they wait, and are sent on resume)."""
    require(actor, Capability.CONFIGURE_BRAND, subscription.brand_id)
    current = _locked(subscription)
    if current.paused_at is not None:
        return current
    current.paused_at = timezone.now()
    current.pause_reason = (reason.strip() or _("Paused by an administrator."))[:300]
    current.save(update_fields=["paused_at", "pause_reason", "updated_at"])
    record_brand_event(
        current.brand,
        "webhook.subscription_paused",
        actor=actor,
        payload={"subscription": current.pk, "reason": current.pause_reason},
    )
    return current


@action
def resume_subscription(*, subscription: WebhookSubscription, actor: Actor) -> WebhookSubscription:
    """Deliver again: the failure count starts over and deliveries that waited are sent now."""
    require(actor, Capability.CONFIGURE_BRAND, subscription.brand_id)
    current = _locked(subscription)
    if current.paused_at is None:
        return current
    current.paused_at = None
    current.pause_reason = ""
    current.consecutive_failures = 0
    current.save(update_fields=["paused_at", "pause_reason", "consecutive_failures", "updated_at"])
    if current.receives:
        _release_waiting(current)
    record_brand_event(
        current.brand,
        "webhook.subscription_resumed",
        actor=actor,
        payload={"subscription": current.pk},
    )
    return current


@action
def rotate_secret(*, subscription: WebhookSubscription, actor: Actor) -> str:
    """A new signing secret, used from the next attempt on; the old one stops at once."""
    require(actor, Capability.CONFIGURE_BRAND, subscription.brand_id)
    current = _locked(subscription)
    current.secret = signing.new_secret()
    current.save(update_fields=["secret", "updated_at"])
    record_brand_event(
        current.brand,
        "webhook.secret_rotated",
        actor=actor,
        payload={"subscription": current.pk},
    )
    return current.secret


@action
def redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivered or failed delivery again, with the same delivery id and payload.

    It starts a new round of retries. A receiver that already processed it recognises the id.
    """
    require(actor, Capability.CONFIGURE_BRAND, delivery.brand_id)
    current = (
        WebhookDelivery.objects.select_for_update()
        .select_related("subscription__brand")
        .get(pk=delivery.pk)
    )
    if current.status == DeliveryStatus.PENDING:
        raise ValidationError(
            _("This delivery is still waiting to be sent."), code="delivery_pending"
        )
    current.status = DeliveryStatus.PENDING
    current.attempts = 0
    current.next_attempt_at = timezone.now()
    current.delivered_at = None
    current.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    delivery_id = current.pk
    if current.subscription.receives:
        transaction.on_commit(lambda: _send_later([delivery_id]), robust=True)
    record_brand_event(
        current.subscription.brand,
        "webhook.redelivery_requested",
        actor=actor,
        payload={
            "subscription": current.subscription_id,
            "delivery": str(current.delivery_id),
            "event_type": current.event_type,
        },
    )
    return current


def _release_waiting(subscription: WebhookSubscription) -> None:
    """Pending deliveries held while the subscription was paused or off: due now."""
    waiting = WebhookDelivery.objects.filter(
        subscription=subscription, status=DeliveryStatus.PENDING
    )
    ids = list(waiting.values_list("pk", flat=True))
    if ids:
        waiting.update(next_attempt_at=timezone.now())
        transaction.on_commit(lambda: _send_later(ids), robust=True)


@action
def enqueue_deliveries(
    *,
    brand: Brand,
    event_type: str,
    event_id: str,
    occurred_at: datetime,
    data: dict[str, Any],
    subscriptions: Sequence[WebhookSubscription],
    actor: Actor,
) -> list[WebhookDelivery]:
    """One delivery per subscription for an event, in the event's transaction; sent after commit.

    Runs inside the action that recorded the event, so a change that is rolled back leaves no
    delivery, and nothing is sent before the change is committed.
    """
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    now = timezone.now()
    deliveries = []
    for subscription in subscriptions:
        if subscription.brand_id != brand.pk:
            raise ValueError("A subscription of another brand cannot receive this event")
        delivery_id = uuid.uuid4()
        deliveries.append(
            WebhookDelivery(
                subscription=subscription,
                brand=brand,
                event_type=event_type,
                event_id=event_id,
                delivery_id=delivery_id,
                payload={
                    "id": str(delivery_id),
                    "type": event_type,
                    "created_at": occurred_at.isoformat(),
                    "brand": brand.slug,
                    "data": data,
                },
                next_attempt_at=now,
            )
        )
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [delivery.pk for delivery in created]
    transaction.on_commit(lambda: _send_later(ids), robust=True)
    return created


def _send_later(delivery_ids: list[int]) -> None:
    """After commit (robustly: a queue that fails to take the task is logged, and the per-minute
    sweep sends the delivery; the committed change is not reported as failed)."""
    from atiende.webhooks.tasks import send_delivery_task

    for delivery_id in delivery_ids:
        send_delivery_task(delivery_id)


@action
def claim_delivery(*, delivery_id: int, due_by: datetime, actor: Actor) -> WebhookDelivery | None:
    """Take a pending delivery due by ``due_by`` for one attempt; None if it is not to be sent
    now (already delivered or failed, not yet due, held by another sender, or its subscription
    is paused or switched off)."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=due_by,
        subscription__is_active=True,
        subscription__paused_at__isnull=True,
    ).update(next_attempt_at=timezone.now() + CLAIM_LEASE)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    require(actor, Capability.CONFIGURE_BRAND, delivery.brand_id)
    return delivery


@action
def record_attempt(
    *, delivery_id: int, status_code: int | None, error: str, actor: Actor
) -> WebhookDelivery:
    """What the endpoint answered: a 2xx delivers; anything else is retried later or, after the
    last attempt, fails. Failures in a row pause the subscription; a success resets the count."""
    subscription_id = WebhookDelivery.objects.values_list("subscription_id", flat=True).get(
        pk=delivery_id
    )
    # Subscription before delivery, as everywhere: two senders never wait on each other in turn.
    subscription = (
        WebhookSubscription.objects.select_for_update()
        .select_related("brand")
        .get(pk=subscription_id)
    )
    require(actor, Capability.CONFIGURE_BRAND, subscription.brand_id)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING:
        # Another sender finished it after this one's claim lapsed: its outcome stands.
        return delivery
    now = timezone.now()
    delivered = status_code is not None and 200 <= status_code < 300
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = status_code
    delivery.last_error = "" if delivered else error[:2000]
    if delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
    delivery.save(
        update_fields=[
            "attempts", "last_attempt_at", "last_status_code", "last_error", "status",
            "delivered_at", "next_attempt_at",
        ]
    )  # fmt: skip
    if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
        pk, due = delivery.pk, delivery.next_attempt_at
        transaction.on_commit(lambda: _retry_at(pk, due), robust=True)
    _count_outcome(subscription, delivered, error, actor)
    return delivery


def _count_outcome(
    subscription: WebhookSubscription, delivered: bool, error: str, actor: Actor
) -> None:
    if delivered:
        if subscription.consecutive_failures:
            subscription.consecutive_failures = 0
            subscription.save(update_fields=["consecutive_failures", "updated_at"])
        return
    subscription.consecutive_failures += 1
    fields = ["consecutive_failures", "updated_at"]
    pausing = (
        subscription.consecutive_failures >= PAUSE_AFTER_FAILURES and subscription.paused_at is None
    )
    if pausing:
        subscription.paused_at = timezone.now()
        subscription.pause_reason = (
            _("Paused after %(count)d failed attempts in a row. Last error: %(error)s")
            % {"count": subscription.consecutive_failures, "error": error[:150]}
        )[:300]
        fields += ["paused_at", "pause_reason"]
    subscription.save(update_fields=fields)
    if pausing:
        logger.warning(
            "webhook subscription %s paused after %s failures",
            subscription.pk,
            subscription.consecutive_failures,
        )
        record_brand_event(
            subscription.brand,
            "webhook.subscription_paused",
            actor=actor,
            payload={"subscription": subscription.pk, "reason": subscription.pause_reason},
        )


def _retry_at(delivery_id: int, due: datetime) -> None:
    from atiende.webhooks.tasks import send_delivery_task

    send_delivery_task.schedule((delivery_id,), eta=due)
