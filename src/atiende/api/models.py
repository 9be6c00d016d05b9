"""API tokens (personal and per-brand integration) and the replies remembered per Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.core.events import EventRecord


class Scope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write")
    ADMIN = "admin", _("Administer")


class ApiToken(models.Model):
    """A bearer token. Only the SHA-256 of its secret is stored; the secret is shown once.

    A personal token (``user`` set) acts as that staff user with their roles; an integration
    token (``brand`` set, no user) acts as the system, limited to that brand. Scopes limit both.
    Issued and revoked only by the actions in ``atiende.api.actions``; ``last_used_at`` is
    bookkeeping written by a plain UPDATE at most once a minute.
    """

    name = models.CharField(_("name"), max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    brand = models.ForeignKey(
        Brand,
        verbose_name=_("brand"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    scopes = models.JSONField(_("scopes"), default=list)
    # The first characters of the token, to recognise it in lists and logs.
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True)
    hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(brand__isnull=False),
                name="api_token_has_user_or_brand",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_integration(self) -> bool:
        return self.user_id is None

    def is_usable(self, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > moment


class ApiTokenEvent(EventRecord):
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="events")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, null=True, related_name="+")

    class Meta(EventRecord.Meta):
        verbose_name = _("API token event")
        verbose_name_plural = _("API token events")


class IdempotencyRecord(models.Model):
    """The first reply to a POST with an Idempotency-Key, returned again to every retry."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_once_per_token")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
