"""The append-only event row that every aggregate's history is made of.

Each aggregate has its own table (``ConversationEvent``, ``CustomerEvent``...) derived from
:class:`EventRecord`. Rows are only ever inserted, by actions; they feed the timeline, the audit
log, outbound webhooks and analytics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from atiende.core.actions import ActionWrittenQuerySet, ensure_in_action, insert_each
from atiende.core.batching import write_at_batch_end
from atiende.core.construction import FastKeywordInit


class AppendOnlyViolation(RuntimeError):
    """An event row was about to be changed or deleted."""


class EventQuerySet(ActionWrittenQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only")


class RecordedAtField(models.DateTimeField):
    """``auto_now_add`` that keeps a time already set on the row.

    An event recorded inside a batch of inbound messages is inserted with the batch's other
    events at its end (:func:`record_event`); it must still say when it happened, which the SLA
    clocks and the timeline read, not when it was inserted. Stored and migrated exactly as a
    ``DateTimeField``: only what Python does before an insert differs.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        if add and getattr(model_instance, self.attname) is None:
            setattr(model_instance, self.attname, timezone.now())
        return getattr(model_instance, self.attname)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class EventRecord(FastKeywordInit):
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
    created_at = RecordedAtField(_("created at"), auto_now_add=True, db_index=True)

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


E = TypeVar("E", bound=EventRecord)
# Work waiting for an event row's id (an instance attribute: a row without an id is unhashable).
_WHEN_INSERTED = "_atiende_when_inserted"


def record_event(event: E) -> E:
    """Insert ``event``: now, or, inside a batch of inbound messages (``atiende.core.batching``),
    with the batch's other events of its kind at the batch's end, one INSERT for all (a row per
    event cost a tenth of a batch's processing, ``bench/ingest.py --profile``).

    Until then the event has its time (``created_at``, set here) and no id; what needs the id
    waits for it with :func:`when_inserted`. Rows are inserted as ``bulk_create`` would
    (``core.actions.insert_each``) even one at a time, so no event row sends ``post_save``: the
    recording app's listeners are the hook.
    """
    event.created_at = timezone.now()
    write_at_batch_end(("events", type(event).__name__), _insert_events, [event])
    return event


def when_inserted(event: E, then: Callable[[E], None]) -> None:
    """``then(event)`` once the event row has its id: now if it has, else right after the
    batch's insert of it (nothing, if the message that recorded it rolls back)."""
    if event.pk is not None:
        then(event)
    else:
        event.__dict__.setdefault(_WHEN_INSERTED, []).append(then)


def _insert_events(events: list[E]) -> None:
    insert_each(events)
    for event in events:
        for then in event.__dict__.pop(_WHEN_INSERTED, []):
            then(event)
