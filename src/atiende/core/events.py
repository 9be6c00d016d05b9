"""The append-only event row that every aggregate's history is made of.

Each aggregate has its own table (``ConversationEvent``, ``CustomerEvent``...) derived from
:class:`EventRecord`. Rows are only ever inserted, by actions; they feed the timeline, the audit
log, outbound webhooks and analytics.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.core.actions import ActionWrittenQuerySet, ensure_in_action


class AppendOnlyViolation(RuntimeError):
    """An event row was about to be changed or deleted."""


class EventQuerySet(ActionWrittenQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")


class EventRecord(models.Model):
    """One thing that happened to an aggregate: what, to whom, by whom, when, with which data."""

    type = models.CharField(_("type"), max_length=64, db_index=True)
    payload = models.JSONField(_("payload"), default=dict, encoder=DjangoJSONEncoder)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who acted when it was not a staff user: "system", "customer", "channel:email"...
    actor_label = models.CharField(_("actor label"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation(f"{type(self).__name__} rows are append-only")
        ensure_in_action(type(self).__name__)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation(f"{type(self).__name__} rows are append-only")
