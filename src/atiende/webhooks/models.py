"""Webhook subscriptions of a brand and the deliveries made to them."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.core.actions import ActionWrittenModel


class WebhookSubscription(ActionWrittenModel):
    """An HTTPS endpoint of a brand that receives the event types it asked for, signed.

    ``secret`` is stored as it is, not hashed: every delivery is signed with it (HMAC-SHA256), so
    Atiende must be able to read it back. It is shown to the administrator once, when it is made.
    """

    brand = models.ForeignKey(
        Brand, verbose_name=_("brand"), on_delete=models.PROTECT, related_name="+"
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list)
    secret = models.CharField(_("signing secret"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    # Set when deliveries keep failing (or by an administrator); deliveries wait until resumed.
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    pause_reason = models.CharField(_("reason for the pause"), max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["brand", "url", "id"]
        indexes = [models.Index(fields=["brand", "is_active"], name="webhook_subscription_brand")]

    def __str__(self) -> str:
        return self.url

    @property
    def receives(self) -> bool:
        """Whether deliveries are made to it now (neither switched off nor paused)."""
        return self.is_active and self.paused_at is None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(ActionWrittenModel):
    """One event for one subscription: the payload as it will be sent, and how sending went.

    ``delivery_id`` is in the payload and the ``Atiende-Webhook-Id`` header and stays the same
    through retries and redeliveries, so a receiver recognises a repeat.
    """

    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # The subscription's brand, repeated so that scoping the delivery log needs no join.
    brand = models.ForeignKey(
        Brand, verbose_name=_("brand"), on_delete=models.PROTECT, related_name="+"
    )
    event_type = models.CharField(_("event type"), max_length=64)
    # Where the event is recorded, e.g. "conversation_event:42", "sla_event:7".
    event_id = models.CharField(_("event"), max_length=64)
    delivery_id = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True)
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Attempts in the current round: a redelivery starts a new round of retries.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # While pending: when the next attempt is due (a sender holding it pushes it on meanwhile).
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id", "event_type"],
                name="webhook_delivery_once_per_event",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.delivery_id}"
