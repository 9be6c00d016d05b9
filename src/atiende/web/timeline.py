"""A conversation's timeline as the agent reads it: messages and what happened, in order.

SLA warnings, breaches and escalations are told there too, as they happened.

An event that only records a message arriving or being sent is left out, since the message itself
is on the timeline; an event that also changed something (a customer reply that reopened the case)
is kept for that change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet, TextChoices
from django.templatetags.static import static
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from atiende.accounts.queries import colleagues_visible_to, teams_visible_to
from atiende.conversations.events import ConversationEventType
from atiende.conversations.html import html_for_display
from atiende.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
    Priority,
)
from atiende.conversations.queries import events_of, messages_of
from atiende.sla.models import Metric, SlaEvent
from atiende.sla.queries import sla_events_of

_MESSAGE_EVENT_TYPES = {
    ConversationEventType.CREATED,
    ConversationEventType.MESSAGE_RECEIVED,
    ConversationEventType.MESSAGE_SENT,
    ConversationEventType.NOTE_ADDED,
}
_CHOICE_FIELDS: dict[str, type[TextChoices]] = {
    "status": ConversationStatus,
    "priority": Priority,
}
# Changes shown with their values; a category change is told by the event's title alone.
_SHOWN_FIELDS = ("status", "priority", "assignee", "team", "tags")
_UNKNOWN = "—"
_MESSAGE_FIELDS = tuple(field.name for field in Message._meta.concrete_fields)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class EventSummary:
    event: ConversationEvent
    title: str
    actor: str
    changes: list[Change] = field(default_factory=list)
    # The other conversation of a merge or split, by its number in the same brand.
    related_number: int | None = None


@dataclass(frozen=True)
class SlaEventSummary:
    event: SlaEvent
    # warning, breached or escalated: the entry's style.
    kind: str
    title: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    message: Message | None = None
    event: EventSummary | None = None
    sla: SlaEventSummary | None = None
    # A message's HTML as shown: remote images held back unless asked for, inline ones mapped.
    html: str = ""
    remote_images_blocked: int = 0
    remote_images_shown: bool = False
    # The colleagues an internal note called in (@name), those the viewer may see, by name.
    mentions: tuple[str, ...] = ()

    @property
    def dom_id(self) -> str:
        """A stable id per entry, so that live updates can tell what the page already shows."""
        if self.message is not None:
            return f"message-{self.message.pk}"
        if self.event is not None:
            return f"event-{self.event.event.pk}"
        assert self.sla is not None
        return f"sla-{self.sla.event.pk}"


def timeline_for(
    conversation: Conversation,
    *,
    viewer: Any,
    remote_images_for: Collection[int] = (),
    after: Message | None = None,
) -> list[TimelineEntry]:
    """The timeline of a conversation ``viewer`` may see, in a fixed number of queries.

    People and teams that events mention by id are named if ``viewer`` may see them. Remote
    images load only in the messages whose ids are in ``remote_images_for``. With ``after`` (a
    message of this timeline), only what comes after that message in it.
    """
    # The authors' names only: a customer's other details (custom attributes are JSON to
    # decode) and a staff user's account fields were read and built for every message.
    messages = messages_of(conversation, viewer=viewer).only(
        *_MESSAGE_FIELDS,
        "author_customer__name",
        "author_customer__crn",
        "author_user__full_name",
        "author_user__email",
    )
    events_query = events_of(conversation, viewer=viewer)
    sla_query = sla_events_of(conversation, viewer=viewer)
    if after is not None:
        messages = messages.filter(
            Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
        )
        events_query = events_query.filter(created_at__gte=after.created_at)
        sla_query = sla_query.filter(created_at__gte=after.created_at)
    events = list(events_query)
    mentioned = _mentioned_ids(events)
    # One query names the people of both the assignments and the notes' mentions.
    people = _names(
        colleagues_visible_to(viewer),
        _referenced_ids(events, "assignee").union(*mentioned.values()),
    )
    teams = _names(teams_visible_to(viewer), _referenced_ids(events, "team"))
    entries = timeline_of(
        [*([after] if after is not None else []), *messages],
        events,
        people=people,
        teams=teams,
        sla_events=sla_query,
        mentions=mentioned,
    )
    if after is not None:
        # The anchor was put in only to order what shares its instant; what precedes it goes too.
        position = next(i for i, entry in enumerate(entries) if entry.message is after)
        entries = entries[position + 1 :]
    return [_displayed(entry, remote_images_for) for entry in entries]


def _displayed(entry: TimelineEntry, remote_images_for: Collection[int]) -> TimelineEntry:
    message = entry.message
    if message is None or not message.body_html:
        return entry
    inline_images = {
        attachment.content_id.strip("<>"): reverse("web:attachment_preview", args=[attachment.pk])
        for attachment in message.attachments.all()
        if attachment.content_id
    }
    shown = message.pk in remote_images_for
    html, blocked = html_for_display(
        message.body_html,
        inline_images=inline_images,
        load_remote_images=shown,
        placeholder=static("web/remote-image.svg"),
    )
    return replace(entry, html=html, remote_images_blocked=blocked, remote_images_shown=shown)


def _referenced_ids(events: Iterable[ConversationEvent], changed_field: str) -> set[int]:
    """Ids that the events' ``changes`` of ``changed_field`` mention (people or teams to name)."""
    ids: set[int] = set()
    for event in events:
        values = _changes(event).get(changed_field)
        if isinstance(values, list):
            ids.update(value for value in values if isinstance(value, int))
    return ids


def _mentioned_ids(events: Iterable[ConversationEvent]) -> dict[int, list[int]]:
    """The ids of the people each note called in, by the note's message id (its NOTE_ADDED
    event's payload: ``{"message": id, "mentions": [ids]}``)."""
    mentioned: dict[int, list[int]] = {}
    for event in events:
        if event.type != ConversationEventType.NOTE_ADDED or not isinstance(event.payload, dict):
            continue
        message_id = event.payload.get("message")
        ids = event.payload.get("mentions")
        if isinstance(message_id, int) and isinstance(ids, list):
            mentioned.setdefault(message_id, []).extend(
                value for value in ids if isinstance(value, int)
            )
    return mentioned


def _mention_names(ids: Iterable[int], people: Mapping[int, str]) -> tuple[str, ...]:
    """The names of those ``people`` (whom the viewer may see) among ``ids``, by name."""
    names = [people[pk] for pk in dict.fromkeys(ids) if pk in people]
    return tuple(sorted(names, key=str.casefold))


def timeline_of(
    messages: Iterable[Message],
    events: Iterable[ConversationEvent],
    *,
    people: Mapping[int, str],
    teams: Mapping[int, str],
    sla_events: Iterable[SlaEvent] = (),
    mentions: Mapping[int, Iterable[int]] | None = None,
) -> list[TimelineEntry]:
    """Messages, meaningful events and SLA events by time; a message comes before its own event.

    ``mentions`` holds, by message id, the ids of the people a note called in; those named in
    ``people`` are shown on the note.
    """
    mentions = mentions or {}
    entries = [
        (
            message.created_at,
            0,
            TimelineEntry(
                at=message.created_at,
                message=message,
                mentions=_mention_names(mentions.get(message.pk, ()), people),
            ),
        )
        for message in messages
    ]
    for event in events:
        summary = _summary(event, people=people, teams=teams)
        if summary is not None:
            entries.append((event.created_at, 1, TimelineEntry(at=event.created_at, event=summary)))
    for sla_event in sla_events:
        sla = _sla_summary(sla_event)
        if sla is not None:
            entries.append(
                (sla_event.created_at, 2, TimelineEntry(at=sla_event.created_at, sla=sla))
            )
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _at, _order, entry in entries]


def _sla_summary(event: SlaEvent) -> SlaEventSummary | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    try:
        metric = str(Metric(str(payload.get("metric"))).label)
    except ValueError:
        metric = str(payload.get("metric") or _UNKNOWN)
    titles = {
        "sla.warning": _("SLA at risk: %(metric)s"),
        "sla.breached": _("SLA breached: %(metric)s"),
        "sla.escalated": _("Escalated after the SLA breach: %(metric)s"),
    }
    title = titles.get(event.type)
    if title is None:
        return None
    return SlaEventSummary(
        event=event, kind=event.type.removeprefix("sla."), title=title % {"metric": metric}
    )


def _names(candidates: QuerySet[Any], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row.pk: str(row) for row in candidates.filter(pk__in=ids)}


def _changes(event: ConversationEvent) -> dict[str, Any]:
    changes = event.payload.get("changes") if isinstance(event.payload, dict) else None
    return changes if isinstance(changes, dict) else {}


def _summary(
    event: ConversationEvent, *, people: Mapping[int, str], teams: Mapping[int, str]
) -> EventSummary | None:
    changes = _changes(event)
    if event.type in _MESSAGE_EVENT_TYPES and not changes:
        return None
    lines = []
    for name in _SHOWN_FIELDS:
        values = changes.get(name)
        if isinstance(values, list) and len(values) == 2:
            before, after = values
            lines.append(
                Change(
                    field=_field_label(name),
                    before=_value_label(name, before, people=people, teams=teams),
                    after=_value_label(name, after, people=people, teams=teams),
                )
            )
    payload = event.payload if isinstance(event.payload, dict) else {}
    related = payload.get("source_number") or payload.get("into_number")
    return EventSummary(
        event=event,
        title=_event_title(event.type),
        actor=_actor_name(event),
        changes=lines,
        related_number=related if isinstance(related, int) else None,
    )


def _event_title(event_type: str) -> str:
    try:
        return str(ConversationEventType(event_type).label)
    except ValueError:
        return event_type


def _actor_name(event: ConversationEvent) -> str:
    if event.actor is not None:
        return str(event.actor)
    return _("System")


def _field_label(name: str) -> str:
    model_field = Conversation._meta.get_field(name)
    return str(capfirst(getattr(model_field, "verbose_name", name)))


def _value_label(
    name: str, value: Any, *, people: Mapping[int, str], teams: Mapping[int, str]
) -> str:
    if name in _CHOICE_FIELDS:
        try:
            return str(_CHOICE_FIELDS[name](value).label)
        except ValueError:
            return str(value)
    if name == "tags":
        return ", ".join(str(tag) for tag in value) if value else _("no tags")
    if name == "assignee":
        return _("nobody") if value is None else people.get(value, _UNKNOWN)
    if name == "team":
        return _("no team") if value is None else teams.get(value, _UNKNOWN)
    return _UNKNOWN
