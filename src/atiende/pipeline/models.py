"""The service chain's durable records (PL1).

Every inbound message from any channel is first stored as an :class:`InboundMessage` — the raw
bytes, committed — and only then processed by the brand's chain of stages. Its row says where it
stands (received, done, needs attention), what came of it and how long each stage took.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.core.actions import ActionWrittenModel


class InboundStatus(models.TextChoices):
    RECEIVED = "received", _("Received, waiting to be processed")
    DONE = "done", _("Processed")
    NEEDS_ATTENTION = "needs_attention", _("Needs attention")


class InboundOutcome(models.TextChoices):
    """What processing made of a message (also what ``atiende import-mail --json`` reports)."""

    CREATED = "created", _("Started a conversation")
    APPENDED = "appended", _("Added to a conversation")
    DUPLICATE = "duplicate", _("Duplicate of a message already received")
    AUTO_REPLY = "auto_reply", _("Automatic reply (not answered)")
    BOUNCE = "bounce", _("Delivery failure report")
    REJECTED = "rejected", _("Rejected")


class InboundMessage(ActionWrittenModel):
    # (Indexed by the unique key inbound_once_per_channel_id, which it leads.)
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, related_name="inbound_messages", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=32)
    # Where it came in: "imap:soporte@tiendasol.es", "smtp", "webhook", "import:/path/file.eml".
    source = models.CharField(_("source"), max_length=255, blank=True)
    raw = models.BinaryField(_("raw message"))
    size = models.PositiveIntegerField(_("size in bytes"))
    # The channel's id for the message (an email's Message-ID), or the SHA-256 of the raw bytes
    # when it has none: a second delivery of the same message is recognised by this key.
    dedupe_key = models.CharField(max_length=512)
    status = models.CharField(
        _("status"), max_length=20, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=InboundOutcome.choices, blank=True
    )
    # For "needs attention" and "rejected": which stage failed and why, in words.
    error = models.TextField(_("error"), blank=True)
    # What the chain noticed while processing it, in words (a dropped oversize attachment...).
    notes = models.TextField(_("notes"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    message = models.ForeignKey(
        "conversations.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # {stage name: milliseconds} of the last successful run.
    stage_timings = models.JSONField(
        _("stage timings"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "channel", "dedupe_key"], name="inbound_once_per_channel_id"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="inbound_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.get_status_display()})"


class ServiceChain(models.Model):
    """A brand's order of stages for one channel; without a row, the channel's default order."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="service_chains")
    channel = models.CharField(_("channel"), max_length=32)
    stages = models.JSONField(_("stages, in order"), default=list)
    # Acknowledge a new conversation with an automatic reply (never to automatic mail).
    acknowledge_new = models.BooleanField(_("acknowledge new conversations"), default=False)
    acknowledgement_text = models.TextField(_("acknowledgement text"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service chain")
        verbose_name_plural = _("service chains")
        constraints = [
            models.UniqueConstraint(fields=["brand", "channel"], name="one_chain_per_brand_channel")
        ]

    def __str__(self) -> str:
        return f"{self.brand} · {self.channel}"
