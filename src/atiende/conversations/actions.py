"""Every change to a conversation, its messages and attachments.

Each function is an :func:`~atiende.core.actions.action`: it checks the actor's permission in the
conversation's brand, runs in one transaction, writes exactly one ConversationEvent per
conversation it changes, and pushes real-time notices only after commit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, User
from atiende.accounts.permissions import Actor, actor_fields, can, require
from atiende.accounts.roles import Capability
from atiende.brands.models import Brand
from atiende.channels import registry as channel_registry
from atiende.conversations import lifecycle
from atiende.conversations.attachments import (
    IncomingAttachment,
    check_attachment_size,
    safe_filename,
    sniff_content_type,
)
from atiende.conversations.events import (
    ConversationEventType,
    announce_imported_conversations,
    record_conversation_event,
)
from atiende.conversations.html import preview_line, sanitize_html, text_from_html
from atiende.conversations.models import (
    Attachment,
    AuthorKind,
    Category,
    Conversation,
    ConversationCounter,
    ConversationEvent,
    ConversationTag,
    DeliveryState,
    Direction,
    Message,
    Priority,
    Tag,
)
from atiende.core.actions import action
from atiende.core.prepared import PreparedRead
from atiende.core.realtime import notify_on_commit
from atiende.core.statements import run
from atiende.customers.models import Customer, CustomerIdentity

P = ParamSpec("P")


def _check_channel(code: str) -> None:
    if not channel_registry.is_registered(code):
        raise ValidationError(
            _("%(channel)s is not a channel."), code="unknown_channel", params={"channel": code}
        )


def _next_numbers(brand: Brand, count: int = 1) -> range:
    """Reserve ``count`` consecutive human numbers in ``brand``.

    The counter row is locked until the transaction ends, so two processes numbering at once
    queue here instead of handing out the same number.
    """
    # One statement in the usual case: the UPDATE takes the row lock and says what it wrote
    # (RETURNING: SQLite 3.35+, PostgreSQL). Its SQL is written out because the ORM's update
    # cannot return values.
    table = ConversationCounter._meta.db_table
    ran = run(
        connection,
        f"UPDATE {table} SET last_number = last_number + %s WHERE brand_id = %s "  # noqa: S608
        "RETURNING last_number",
        [count, brand.pk],
        fetch=True,
    )
    if ran.rows:
        return range(ran.rows[0][0] - count + 1, ran.rows[0][0] + 1)
    # The brand's first conversation: its counter row is made here.
    counter, _created = ConversationCounter.objects.select_for_update().get_or_create(brand=brand)
    first = counter.last_number + 1
    counter.last_number += count
    counter.save(update_fields=["last_number"])
    return range(first, first + count)


def _body(body_text: str, body_html: str) -> tuple[str, str]:
    safe_html = sanitize_html(body_html)
    text = body_text.strip() if body_text else text_from_html(safe_html)
    return text, safe_html


def _check_attachments(attachments: Sequence[IncomingAttachment]) -> None:
    limit = settings.ATIENDE_MAX_ATTACHMENT_BYTES
    for attachment in attachments:
        check_attachment_size(attachment, limit)


def _store_attachments(
    message: Message, attachments: Sequence[IncomingAttachment]
) -> list[Attachment]:
    stored = []
    for incoming in attachments:
        filename = safe_filename(incoming.filename)
        attachment = Attachment(
            brand_id=message.brand_id,
            message=message,
            filename=filename,
            content_type=sniff_content_type(
                incoming.content, filename, incoming.declared_content_type
            ),
            declared_content_type=incoming.declared_content_type[:127],
            size=incoming.size,
            sha256=incoming.sha256,
            content_id=incoming.content_id[:255],
        )
        # Storage writes happen inside the transaction; a rollback leaves an orphan file at a
        # content-addressed path, never a row pointing at a missing file.
        _store_content(attachment, incoming)
        attachment.save()
        stored.append(attachment)
    return stored


def _store_content(attachment: Attachment, incoming: IncomingAttachment) -> None:
    """Give ``attachment`` its file: the one already at its content address when the same bytes
    were stored before (a signature's logo in every mail, a document sent again), else a new one.

    The address is the bytes' SHA-256 under the brand, so a file there holds these bytes unless
    its writing was cut short (a crash, a full disk): the storage writes a new file from its
    first byte, so a cut-short one is shorter, and one of another size is never taken. (Files
    are never deleted while a row may name them: nothing deletes attachment files.) Without
    this, the storage saw the name taken and wrote the same bytes again under a random suffix,
    every time they came.
    """
    storage = attachment.file.storage
    address = attachment.file.field.generate_filename(attachment, attachment.filename)
    if storage.exists(address) and storage.size(address) == incoming.size:
        attachment.file.name = address
        return
    attachment.file.save(attachment.filename, ContentFile(incoming.content), save=False)


def require_content(body_text: str, body_html: str, attachments: Sequence[object]) -> None:
    """Refuse a message with neither text nor attachment, as adding it would, before anything
    else is written for it (a channel making an unknown sender's customer)."""
    if not attachments:
        _require_content(_body(body_text, body_html)[0], ())


def _require_content(text: str, attachments: Sequence[IncomingAttachment]) -> None:
    if not text and not attachments:
        raise ValidationError(
            _("A message needs some text or an attachment."), code="empty_message"
        )


def _add_message(
    conversation: Conversation,
    *,
    direction: str,
    author_kind: str,
    actor: Actor,
    channel: str,
    body: tuple[str, str],
    attachments: Sequence[IncomingAttachment],
    external_id: str,
    created_at: datetime,
    quoted_text: str = "",
) -> Message:
    """``body``: the text and the sanitised HTML, as :func:`_body` makes them."""
    text, safe_html = body
    _require_content(text, attachments)
    message = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=direction,
        author_kind=author_kind,
        author_user=actor if isinstance(actor, User) and author_kind == AuthorKind.AGENT else None,
        # By id: the conversation's customer need not be read to be named.
        author_customer_id=conversation.customer_id if author_kind == AuthorKind.CUSTOMER else None,
        channel=channel,
        body_text=text,
        body_html=safe_html,
        quoted_text=quoted_text,
        external_id=external_id[:512],
        created_at=created_at,
    )
    _store_attachments(message, attachments)
    return message


def _touch(conversation: Conversation, message: Message, extra_fields: Iterable[str] = ()) -> None:
    conversation.updated_at = max(conversation.updated_at, message.created_at)
    fields = {"updated_at", *extra_fields}
    if message.direction != Direction.INTERNAL:
        conversation.last_message_at = max(conversation.last_message_at, message.created_at)
        preview = preview_line(message.body_text)
        if not preview:
            # Read only when needed: most messages have text.
            first_attachment = message.attachments.first()
            preview = first_attachment.filename if first_attachment is not None else ""
        conversation.last_message_preview = preview
        fields |= {"last_message_at", "last_message_preview"}
    conversation.save(update_fields=sorted(fields))


def _set_status(conversation: Conversation, target: lifecycle.Status, at: datetime) -> list[str]:
    """Move to ``target`` (already checked) and keep solved_at/closed_at true; returns changed fields."""
    conversation.status = target.value
    fields = ["status"]
    if target is lifecycle.Status.SOLVED:
        conversation.solved_at = at
        fields.append("solved_at")
    elif target is lifecycle.Status.CLOSED:
        conversation.closed_at = at
        fields.append("closed_at")
    elif conversation.solved_at is not None:
        conversation.solved_at = None
        fields.append("solved_at")
    return fields


_CONVERSATION_FIELDS = [field.attname for field in Conversation._meta.concrete_fields]
_BRAND_FIELDS = [field.attname for field in Brand._meta.concrete_fields]


def _locked_read(conversation_id: int) -> QuerySet[Any]:
    # of=("self",): on PostgreSQL a join's rows are locked too, and the brand's row would then
    # queue every write to any conversation of the brand behind one another.
    return (
        Conversation.objects.select_for_update(of=("self",))
        .filter(pk=conversation_id)
        .values_list(*_CONVERSATION_FIELDS, *(f"brand__{name}" for name in _BRAND_FIELDS))
    )


# Every change to a conversation starts here (each customer message, reply, status change):
# compiled once: building the query cost the ORM more than running it (bench/ingest.py --profile).
_LOCKED = PreparedRead(_locked_read, conversation_id=int)


def _locked(conversation: Conversation) -> Conversation:
    """The conversation re-read under a row lock (with its brand): read-modify-write never races
    another writer."""
    rows = _LOCKED.rows(conversation_id=conversation.pk)
    if not rows:
        raise Conversation.DoesNotExist(f"Conversation {conversation.pk} does not exist")
    (row,) = rows
    split = len(_CONVERSATION_FIELDS)
    locked = Conversation.from_db(DEFAULT_DB_ALIAS, _CONVERSATION_FIELDS, row[:split])
    locked.brand = Brand.from_db(DEFAULT_DB_ALIAS, _BRAND_FIELDS, row[split:])
    return locked


# A merge never targets a merged conversation, but the survivor may be merged on later (A→B,
# then B→C); the bound only guards against a loop written by hand in the database.
MAX_MERGE_HOPS = 10


def _holds_write_lock() -> bool:
    """Whether no other connection can write until this transaction ends: on SQLite, whose
    transactions here take the database's write lock at BEGIN (``transaction_mode`` IMMEDIATE
    in the settings), inside one. A row read in such a transaction is then as current as a
    locked re-read would find it, until this transaction writes it."""
    return (
        connection.vendor == "sqlite"
        and connection.in_atomic_block
        and getattr(connection, "transaction_mode", None) in ("IMMEDIATE", "EXCLUSIVE")
    )


def _locked_survivor(conversation: Conversation, *, is_current: bool = False) -> Conversation:
    """The conversation that ``conversation``'s merges, if any, ended in, under a row lock.

    The caller's copy says whether it was merged. Not merged (the usual case, every customer
    reply): it is locked at once, one statement. Merged: the pointers are read before any lock is
    taken, so only the survivor is locked. Either way a merge that lands in between is seen under
    the lock and followed too.

    ``is_current``: the caller read this copy, with its brand, inside the running transaction
    and nothing has written the row since. Where no other writer can change it before the
    transaction ends (:func:`_holds_write_lock`), that copy is the locked row, and reading it
    again only cost a statement and two objects per customer reply (0.7 % of the instructions
    storing and processing the ingest bench's mail, bench/README.md).
    """
    if (
        is_current
        and conversation.merged_into_id is None
        and Conversation.brand.is_cached(conversation)
        and _holds_write_lock()
    ):
        return conversation
    if conversation.merged_into_id is None:
        locked = _locked(conversation)
        if locked.merged_into_id is None:
            return locked
        conversation = Conversation(pk=locked.merged_into_id)
    for _hop in range(MAX_MERGE_HOPS):
        pointer = Conversation.objects.filter(pk=conversation.pk).values_list(
            "merged_into_id", flat=True
        )
        next_id = pointer.first()
        if next_id is None:
            locked = _locked(conversation)
            if locked.merged_into_id is None:
                return locked
            next_id = locked.merged_into_id
        conversation = Conversation(pk=next_id)
    return _locked(conversation)


def _notify(conversation: Conversation, kind: str, **data: Any) -> None:
    notify_on_commit(
        kind,
        {"conversation": conversation.pk, "brand": conversation.brand_id, **data},
        audience=[f"brand.{conversation.brand_id}"],
    )


def _hand_to_channel(message: Message, outbound: channel_registry.OutboundAdapter | None) -> None:
    """Let the channel stamp the message now and send it once the reply is committed."""
    if outbound is None:
        return
    message.delivery_state = DeliveryState.QUEUED
    changed = outbound.prepare(message)
    message.save(update_fields=["delivery_state", *changed])
    message_id = message.pk
    transaction.on_commit(lambda: outbound.deliver_later(message_id))


@action
def start_conversation_with_message(
    *,
    brand: Brand,
    customer: Customer,
    channel: str,
    actor: Actor,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    attachments: Sequence[IncomingAttachment] = (),
    direction: str = Direction.INBOUND,
    priority: str = Priority.NORMAL,
    language: str = "",
    team: Team | None = None,
    external_id: str = "",
    follow_up_of: Conversation | None = None,
    created_at: datetime | None = None,
    quoted_text: str = "",
) -> tuple[Conversation, Message]:
    """Open a new case with its first message; both are returned.

    ``direction`` INBOUND records what the customer sent (by a channel, or logged by an agent,
    e.g. a phone call); OUTBOUND is an agent reaching out first.
    """
    require(actor, Capability.WORK_CONVERSATIONS, brand.pk)
    if customer.brand_id != brand.pk:
        raise ValidationError(_("The customer belongs to another brand."), code="wrong_brand")
    if team is not None and team.brand_id != brand.pk:
        raise ValidationError(_("The team belongs to another brand."), code="wrong_brand")
    if direction not in (Direction.INBOUND, Direction.OUTBOUND):
        raise ValidationError(
            _("A conversation starts with a message to or from the customer."), code="bad_direction"
        )
    _check_channel(channel)
    _check_attachments(attachments)
    body = _body(body_text, body_html)  # (sanitised once, for the preview and the message)
    # Refused before a number is taken or a row written: an empty mail from a new sender is
    # rejected without a case being opened and rolled back.
    _require_content(body[0], attachments)
    at = created_at or timezone.now()
    (number,) = _next_numbers(brand)
    # The first message's preview is known before either row is written: the conversation is
    # inserted with it instead of updated after the message (one statement fewer).
    preview = preview_line(body[0])
    if not preview and attachments:
        preview = safe_filename(attachments[0].filename)
    conversation = Conversation.objects.create(
        brand=brand,
        number=number,
        customer=customer,
        channel=channel,
        subject=subject.strip()[:255],
        priority=Priority(priority),
        language=language or customer.language,
        team=team,
        follow_up_of=follow_up_of,
        created_at=at,
        updated_at=at,
        last_message_at=at,
        last_message_preview=preview,
        status=lifecycle.Status.NEW if direction == Direction.INBOUND else lifecycle.Status.OPEN,
    )
    author_kind = AuthorKind.CUSTOMER if direction == Direction.INBOUND else AuthorKind.AGENT
    if author_kind == AuthorKind.AGENT and not isinstance(actor, User):
        author_kind = AuthorKind.SYSTEM
    message = _add_message(
        conversation,
        direction=direction,
        author_kind=author_kind,
        actor=actor,
        channel=channel,
        body=body,
        attachments=attachments,
        external_id=external_id,
        created_at=at,
        quoted_text=quoted_text,
    )
    payload: dict[str, Any] = {"message": message.pk, "channel": channel}
    if follow_up_of is not None:
        payload["follow_up_of"] = follow_up_of.pk
    record_conversation_event(
        conversation, ConversationEventType.CREATED, actor=actor, payload=payload
    )
    _notify(conversation, "conversation.created", message=message.pk)
    return conversation, message


def _conversation_only(
    start: Callable[P, tuple[Conversation, Message]],
) -> Callable[P, Conversation]:
    @functools.wraps(start)  # (the same arguments; is_action carried over)
    def conversation_only(*args: P.args, **kwargs: P.kwargs) -> Conversation:
        conversation, _message = start(*args, **kwargs)
        return conversation

    return conversation_only


# What most callers want: the new conversation. (A caller that records which message arrived,
# an inbound channel, takes start_conversation_with_message instead of reading it back.)
start_conversation = _conversation_only(start_conversation_with_message)


@action
def receive_customer_message(
    *,
    conversation: Conversation,
    channel: str,
    actor: Actor,
    body_text: str = "",
    body_html: str = "",
    attachments: Sequence[IncomingAttachment] = (),
    external_id: str = "",
    created_at: datetime | None = None,
    quoted_text: str = "",
    conversation_is_current: bool = False,
) -> Message:
    """Add what the customer sent; reopen the case if it was waiting or solved.

    A message to a closed conversation starts a follow-up conversation linked to it; the returned
    message's ``conversation`` is then the follow-up. A message to a conversation merged into
    another goes to the one that survived.

    ``conversation_is_current``: the caller read ``conversation`` (with its brand) inside the
    running transaction, and nothing has written it since; on SQLite it is then not read again
    under a lock (see :func:`_locked_survivor`). Without it, or on PostgreSQL, it is.
    """
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked_survivor(conversation, is_current=conversation_is_current)
    _check_channel(channel)
    _check_attachments(attachments)
    target = lifecycle.status_after_customer_message(conversation.status)
    if target is None:
        _follow_up, first_message = start_conversation_with_message(
            brand=conversation.brand,
            customer=conversation.customer,
            channel=channel,
            actor=actor,
            subject=conversation.subject,
            body_text=body_text,
            body_html=body_html,
            attachments=attachments,
            priority=conversation.priority,
            language=conversation.language,
            team=conversation.team,
            external_id=external_id,
            follow_up_of=conversation,
            created_at=created_at,
            quoted_text=quoted_text,
        )
        return first_message
    at = created_at or timezone.now()
    message = _add_message(
        conversation,
        direction=Direction.INBOUND,
        author_kind=AuthorKind.CUSTOMER,
        actor=actor,
        channel=channel,
        body=_body(body_text, body_html),
        attachments=attachments,
        external_id=external_id,
        created_at=at,
        quoted_text=quoted_text,
    )
    payload: dict[str, Any] = {"message": message.pk, "channel": channel}
    changed: list[str] = []
    if target != conversation.status:
        payload["changes"] = {"status": [conversation.status, target.value]}
        changed = _set_status(conversation, target, at)
    _touch(conversation, message, changed)
    record_conversation_event(
        conversation, ConversationEventType.MESSAGE_RECEIVED, actor=actor, payload=payload
    )
    _notify(conversation, "message.received", message=message.pk)
    return message


@action
def reply_to_conversation(
    *,
    conversation: Conversation,
    actor: Actor,
    body_text: str = "",
    body_html: str = "",
    channel: str | None = None,
    attachments: Sequence[IncomingAttachment] = (),
    status: str | None = None,
) -> Message:
    """An agent's reply to the customer, on the conversation's channel or another one (CV4).

    Delivery itself belongs to the channel plug-in, which picks the message up after commit.
    """
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    channel = channel or conversation.channel
    _check_channel(channel)
    kind = channel_registry.get(channel)
    if not kind.can_reply:
        raise ValidationError(
            _("Replies cannot be sent by %(channel)s."),
            code="channel_cannot_reply",
            params={"channel": kind.label},
        )
    if (
        kind.address_kind is not None
        and not CustomerIdentity.objects.filter(
            customer_id=conversation.customer_id, kind=kind.address_kind
        ).exists()
    ):
        raise ValidationError(
            _(
                "%(customer)s has no address for %(channel)s. Add one to the customer, or reply "
                "on another channel."
            ),
            code="no_address_on_channel",
            params={"customer": conversation.customer.display_name, "channel": kind.label},
        )
    target = lifecycle.status_after_agent_reply(conversation.status, status)
    _check_attachments(attachments)
    at = timezone.now()
    message = _add_message(
        conversation,
        direction=Direction.OUTBOUND,
        author_kind=AuthorKind.AGENT if isinstance(actor, User) else AuthorKind.SYSTEM,
        actor=actor,
        channel=channel,
        body=_body(body_text, body_html),
        attachments=attachments,
        external_id="",
        created_at=at,
    )
    payload: dict[str, Any] = {"message": message.pk, "channel": channel}
    changed: list[str] = []
    if target != conversation.status:
        payload["changes"] = {"status": [conversation.status, target.value]}
        changed = _set_status(conversation, target, at)
    _touch(conversation, message, changed)
    _hand_to_channel(message, channel_registry.get(channel).outbound)
    record_conversation_event(
        conversation, ConversationEventType.MESSAGE_SENT, actor=actor, payload=payload
    )
    _notify(conversation, "message.sent", message=message.pk)
    return message


@action
def record_delivery(*, message: Message, state: str, actor: Actor, detail: str = "") -> Message:
    """What the channel's server answered for an outbound message: sent, retrying or failed.

    Called by channel delivery tasks; a failure is shown to agents on the conversation.
    """
    require(actor, Capability.WORK_CONVERSATIONS, message.brand_id)
    message = Message.objects.select_for_update().select_related("conversation").get(pk=message.pk)
    state = DeliveryState(state)
    if message.direction != Direction.OUTBOUND:
        raise ValidationError(
            _("Only messages to the customer are delivered."), code="not_outbound"
        )
    before = message.delivery_state
    message.delivery_state = state
    message.delivery_detail = detail[:2000]
    fields = ["delivery_state", "delivery_detail"]
    if state == DeliveryState.SENT:
        message.sent_at = timezone.now()
        fields.append("sent_at")
    message.save(update_fields=fields)
    record_conversation_event(
        message.conversation,
        ConversationEventType.DELIVERY_UPDATED,
        actor=actor,
        payload={
            "message": message.pk,
            "changes": {"delivery": [before, state.value]},
            "detail": detail[:500],
        },
    )
    _notify(message.conversation, "message.delivery_updated", message=message.pk, state=state.value)
    return message


@action
def add_internal_note(
    *,
    conversation: Conversation,
    actor: Actor,
    body_text: str = "",
    body_html: str = "",
    attachments: Sequence[IncomingAttachment] = (),
    mentions: Sequence[User] = (),
) -> Message:
    """A note for colleagues; never sent, never changes the status.

    ``mentions`` are colleagues called in by the note (@name): each must be able to read the
    brand's internal notes; they are recorded in the event and told in real time after commit.
    """
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    if conversation.status == lifecycle.Status.CLOSED:
        raise lifecycle.TransitionNotAllowed(conversation.status, conversation.status)
    _check_attachments(attachments)
    mentioned = sorted({user.pk: user for user in mentions}.values(), key=lambda user: user.pk)
    for user in mentioned:
        if not (
            user.is_active and can(user, Capability.VIEW_INTERNAL_NOTES, conversation.brand_id)
        ):
            raise ValidationError(
                _("%(name)s cannot read this brand's internal notes."),
                code="mention_not_allowed",
                params={"name": str(user)},
            )
    message = _add_message(
        conversation,
        direction=Direction.INTERNAL,
        author_kind=AuthorKind.AGENT if isinstance(actor, User) else AuthorKind.SYSTEM,
        actor=actor,
        channel="internal",
        body=_body(body_text, body_html),
        attachments=attachments,
        external_id="",
        created_at=timezone.now(),
    )
    _touch(conversation, message)
    payload: dict[str, Any] = {"message": message.pk}
    if mentioned:
        payload["mentions"] = [user.pk for user in mentioned]
    record_conversation_event(
        conversation, ConversationEventType.NOTE_ADDED, actor=actor, payload=payload
    )
    _notify(conversation, "note.added", message=message.pk)
    if mentioned:
        notify_on_commit(
            "note.mentioned",
            {
                "conversation": conversation.pk,
                "brand": conversation.brand_id,
                "reference": conversation.reference,
                "message": message.pk,
                "by": str(actor),
            },
            audience=[f"user.{user.pk}" for user in mentioned],
        )
    return message


@action
def change_status(*, conversation: Conversation, status: str, actor: Actor) -> Conversation:
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    before = conversation.status
    target = lifecycle.check_transition(before, status)
    now = timezone.now()
    fields = _set_status(conversation, target, now)
    conversation.updated_at = now
    conversation.save(update_fields=[*fields, "updated_at"])
    record_conversation_event(
        conversation,
        ConversationEventType.STATUS_CHANGED,
        actor=actor,
        payload={"changes": {"status": [before, target.value]}},
    )
    _notify(conversation, "conversation.updated")
    return conversation


@action
def change_priority(*, conversation: Conversation, priority: str, actor: Actor) -> Conversation:
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    if priority not in Priority.values:
        raise ValidationError(
            _("%(priority)s is not a priority."),
            code="invalid_priority",
            params={"priority": priority},
        )
    before = conversation.priority
    conversation.priority = priority
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["priority", "updated_at"])
    record_conversation_event(
        conversation,
        ConversationEventType.PRIORITY_CHANGED,
        actor=actor,
        payload={"changes": {"priority": [before, priority]}},
    )
    _notify(conversation, "conversation.updated")
    return conversation


@action
def assign_conversation(
    *, conversation: Conversation, actor: Actor, assignee: User | None, team: Team | None = None
) -> Conversation:
    """Give the case an owner (CV6): an agent of the brand, and optionally a team of the brand."""
    require(actor, Capability.ASSIGN_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    if assignee is not None and not (
        assignee.is_active and can(assignee, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    ):
        raise ValidationError(
            _("%(name)s cannot work on this brand's conversations."),
            code="assignee_not_allowed",
            params={"name": str(assignee)},
        )
    if team is not None and team.brand_id != conversation.brand_id:
        raise ValidationError(_("The team belongs to another brand."), code="wrong_brand")
    before = {"assignee": conversation.assignee_id, "team": conversation.team_id}
    conversation.assignee = assignee
    conversation.team = team if team is not None else conversation.team
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["assignee", "team", "updated_at"])
    changes = {
        field: [before[field], after]
        for field, after in (("assignee", conversation.assignee_id), ("team", conversation.team_id))
        if before[field] != after
    }
    record_conversation_event(
        conversation, ConversationEventType.ASSIGNED, actor=actor, payload={"changes": changes}
    )
    _notify(conversation, "conversation.updated")
    return conversation


@action
def categorize_conversation(
    *, conversation: Conversation, category: Category | None, actor: Actor
) -> Conversation:
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    if category is not None and category.brand_id != conversation.brand_id:
        raise ValidationError(_("The category belongs to another brand."), code="wrong_brand")
    before = conversation.category_id
    conversation.category = category
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["category", "updated_at"])
    record_conversation_event(
        conversation,
        ConversationEventType.CATEGORIZED,
        actor=actor,
        payload={"changes": {"category": [before, conversation.category_id]}},
    )
    _notify(conversation, "conversation.updated")
    return conversation


def _tags_named(brand_id: int, names: Iterable[str]) -> list[Tag]:
    wanted = sorted({name.strip().lower() for name in names if name.strip()})
    for name in wanted:
        if len(name) > 64:
            raise ValidationError(_("A tag has at most 64 characters."), code="tag_too_long")
    existing = {tag.name: tag for tag in Tag.objects.filter(brand_id=brand_id, name__in=wanted)}
    missing = [Tag(brand_id=brand_id, name=name) for name in wanted if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(brand_id=brand_id, name__in=wanted)}
    return [existing[name] for name in wanted]


@action
def set_conversation_tags(
    *, conversation: Conversation, tags: Iterable[str], actor: Actor, keep: bool = False
) -> Conversation:
    """Replace the conversation's tags with ``tags`` (created in the brand when new); with
    ``keep``, add them to those it has, read under the lock (a tag added meanwhile stays)."""
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    conversation = _locked(conversation)
    before = sorted(conversation.tags.values_list("name", flat=True))
    wanted = _tags_named(conversation.brand_id, [*before, *tags] if keep else tags)
    ConversationTag.objects.filter(conversation=conversation).exclude(tag__in=wanted).delete()
    present = set(
        ConversationTag.objects.filter(conversation=conversation).values_list("tag_id", flat=True)
    )
    ConversationTag.objects.bulk_create(
        [
            ConversationTag(conversation=conversation, tag=tag)
            for tag in wanted
            if tag.pk not in present
        ]
    )
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["updated_at"])
    after = [tag.name for tag in wanted]
    record_conversation_event(
        conversation,
        ConversationEventType.TAGGED,
        actor=actor,
        payload={"changes": {"tags": [before, after]}},
    )
    _notify(conversation, "conversation.updated")
    return conversation


@dataclass(frozen=True)
class ImportedMessage:
    direction: str
    channel: str
    created_at: datetime
    body_text: str = ""
    body_html: str = ""
    author_user: User | None = None
    external_id: str = ""


@dataclass(frozen=True)
class ImportedConversation:
    customer: Customer
    channel: str
    subject: str
    messages: Sequence[ImportedMessage]
    status: str = lifecycle.Status.NEW
    priority: str = Priority.NORMAL
    language: str = ""
    category: Category | None = None
    tags: Sequence[str] = ()
    assignee: User | None = None
    team: Team | None = None
    solved_at: datetime | None = None
    closed_at: datetime | None = None


@action
def import_conversations(
    *, brand: Brand, conversations: Sequence[ImportedConversation], actor: Actor
) -> list[Conversation]:
    """Bring in finished or ongoing cases with their history (PF4 imports, the demo seeder).

    Written in bulk — a few queries per batch rather than per message — and still one event per
    conversation (``conversation.imported``), so imported cases have the same audit trail.
    """
    require(actor, Capability.WORK_CONVERSATIONS, brand.pk)
    for item in conversations:
        if item.customer.brand_id != brand.pk:
            raise ValidationError(_("The customer belongs to another brand."), code="wrong_brand")
        if not item.messages:
            raise ValidationError(
                _("An imported conversation needs at least one message."), code="empty_conversation"
            )
        if item.team is not None and item.team.brand_id != brand.pk:
            raise ValidationError(_("The team belongs to another brand."), code="wrong_brand")
        if item.assignee is not None and not can(
            item.assignee, Capability.WORK_CONVERSATIONS, brand.pk
        ):
            raise ValidationError(
                _("%(name)s cannot work on this brand's conversations."),
                code="assignee_not_allowed",
                params={"name": str(item.assignee)},
            )
        lifecycle.Status(item.status)
        Priority(item.priority)
        for code in {item.channel, *(message.channel for message in item.messages)}:
            _check_channel(code)
    numbers = _next_numbers(brand, len(conversations))
    rows = []
    for number, item in zip(numbers, conversations, strict=True):
        ordered = sorted(item.messages, key=lambda message: message.created_at)
        public = [
            message for message in ordered if message.direction != Direction.INTERNAL
        ] or ordered
        rows.append(
            Conversation(
                brand=brand,
                number=number,
                customer=item.customer,
                channel=item.channel,
                subject=item.subject[:255],
                status=item.status,
                priority=item.priority,
                language=item.language or item.customer.language,
                category=item.category,
                assignee=item.assignee,
                team=item.team,
                created_at=ordered[0].created_at,
                updated_at=ordered[-1].created_at,
                last_message_at=public[-1].created_at,
                last_message_preview=preview_line(
                    public[-1].body_text or text_from_html(public[-1].body_html)
                ),
                solved_at=item.solved_at,
                closed_at=item.closed_at,
            )
        )
    created = Conversation.objects.bulk_create(rows)
    messages = []
    for conversation, item in zip(created, conversations, strict=True):
        for imported in item.messages:
            text, safe_html = _body(imported.body_text, imported.body_html)
            author_kind = {
                Direction.INBOUND: AuthorKind.CUSTOMER,
                Direction.OUTBOUND: AuthorKind.AGENT if imported.author_user else AuthorKind.SYSTEM,
                Direction.INTERNAL: AuthorKind.AGENT if imported.author_user else AuthorKind.SYSTEM,
            }[Direction(imported.direction)]
            messages.append(
                Message(
                    brand=brand,
                    conversation=conversation,
                    direction=imported.direction,
                    author_kind=author_kind,
                    author_user=imported.author_user,
                    author_customer=item.customer if author_kind == AuthorKind.CUSTOMER else None,
                    channel=imported.channel,
                    body_text=text,
                    body_html=safe_html,
                    external_id=imported.external_id[:512],
                    created_at=imported.created_at,
                )
            )
    Message.objects.bulk_create(messages, batch_size=500)
    tagged = [
        (conversation, tag)
        for conversation, item in zip(created, conversations, strict=True)
        for tag in _tags_named(brand.pk, item.tags)
    ]
    ConversationTag.objects.bulk_create(
        [ConversationTag(conversation=conversation, tag=tag) for conversation, tag in tagged],
        batch_size=500,
    )
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                brand=brand,
                conversation=conversation,
                type=ConversationEventType.IMPORTED,
                payload={"messages": len(item.messages), "status": item.status},
                **actor_fields(actor),
            )
            for conversation, item in zip(created, conversations, strict=True)
        ],
        batch_size=500,
    )
    announce_imported_conversations(created)
    return created


class MergeNotAllowed(ValidationError):
    """A merge, undo or split that the conversations' present state forbids: a conflict with what
    already happened (merged before, closed), not a mistake in what was asked."""


def _locked_in_order(*conversations: Conversation) -> dict[int, Conversation]:
    """Row locks on several conversations, taken in id order: two merges of the same pair in
    opposite directions would otherwise each hold one lock and wait forever for the other."""
    return {
        conversation.pk: _locked(conversation)
        for conversation in sorted(conversations, key=lambda conversation: conversation.pk)
    }


def _refresh_last_message(conversation: Conversation) -> list[str]:
    """Recompute last_message_at/preview from the messages the conversation holds now, after a
    merge or split moved some; the same values :func:`_touch` leaves message by message."""
    messages = Message.objects.filter(conversation=conversation).order_by("-created_at", "-id")
    latest = messages.exclude(direction=Direction.INTERNAL).first()
    if latest is None:
        # Only internal notes: their time counts, their text never reaches a list row.
        note = messages.first()
        if note is not None:
            conversation.last_message_at = note.created_at
        conversation.last_message_preview = ""
    else:
        conversation.last_message_at = latest.created_at
        preview = preview_line(latest.body_text)
        if not preview:
            first_attachment = latest.attachments.order_by("id").first()
            preview = first_attachment.filename if first_attachment is not None else ""
        conversation.last_message_preview = preview
    return ["last_message_at", "last_message_preview"]


def _move_messages(
    message_ids: Sequence[int], *, into: Conversation, moved_from: Conversation
) -> None:
    # Attachments hang off their message and travel with it untouched.
    Message.objects.filter(pk__in=message_ids).update(conversation=into, moved_from=moved_from)


@action
def merge_conversations(
    *, source: Conversation, target: Conversation, actor: Actor
) -> Conversation:
    """Move every message of ``source`` into ``target``; ``source`` stays closed, pointing at it.

    Both must be of one brand; neither may have been merged away already, and ``target`` may not
    be closed. Returns ``target``. :func:`undo_merge` reverses it exactly: the merge event on
    ``source`` keeps what undo needs (its status before, each message's earlier ``moved_from``,
    the tags it added to ``target``).
    """
    require(actor, Capability.WORK_CONVERSATIONS, source.brand_id)
    if source.brand_id != target.brand_id:
        raise ValidationError(
            _("Only conversations of the same brand can be merged."), code="wrong_brand"
        )
    if source.pk == target.pk:
        raise ValidationError(
            _("A conversation cannot be merged into itself."), code="merge_into_itself"
        )
    locked = _locked_in_order(source, target)
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id is not None:
        raise MergeNotAllowed(
            _("%(reference)s was already merged into another conversation."),
            code="already_merged",
            params={"reference": source.reference},
        )
    if target.merged_into_id is not None:
        raise MergeNotAllowed(
            _("%(reference)s was merged into another conversation; merge into that one."),
            code="target_merged",
            params={"reference": target.reference},
        )
    if target.status == lifecycle.Status.CLOSED:
        raise MergeNotAllowed(
            _("%(reference)s is closed; a closed conversation receives no more messages."),
            code="target_closed",
            params={"reference": target.reference},
        )
    moved = list(
        Message.objects.filter(conversation=source)
        .order_by("created_at", "id")
        .values_list("pk", "moved_from_id")
    )
    message_ids = [pk for pk, _earlier in moved]
    _move_messages(message_ids, into=target, moved_from=source)
    present = set(
        ConversationTag.objects.filter(conversation=target).values_list("tag_id", flat=True)
    )
    added_tags = list(
        Tag.objects.filter(conversationtag__conversation=source)
        .exclude(pk__in=present)
        .order_by("name")
    )
    ConversationTag.objects.bulk_create(
        [ConversationTag(conversation=target, tag=tag) for tag in added_tags]
    )
    now = timezone.now()
    # Times as full ISO strings: the JSON encoder would drop the microseconds, and undo must give
    # back exactly what was there.
    before = {
        "status": source.status,
        "solved_at": source.solved_at.isoformat() if source.solved_at else None,
        "closed_at": source.closed_at.isoformat() if source.closed_at else None,
    }
    # The source keeps its last-message fields: as a pointer it still reads as it did in lists.
    source_fields = _set_status(source, lifecycle.Status.CLOSED, now)
    source.merged_into = target
    source.updated_at = now
    source.save(update_fields=[*source_fields, "merged_into", "updated_at"])
    target.updated_at = now
    target.save(update_fields=[*_refresh_last_message(target), "updated_at"])
    record_conversation_event(
        target,
        ConversationEventType.MERGED,
        actor=actor,
        payload={
            "source": source.pk,
            "source_number": source.number,
            "messages": message_ids,
            "tags_added": [tag.name for tag in added_tags],
        },
    )
    record_conversation_event(
        source,
        ConversationEventType.MERGED_AWAY,
        actor=actor,
        payload={
            "into": target.pk,
            "into_number": target.number,
            "messages": message_ids,
            # Messages an earlier merge or split had brought here: undo gives them that back.
            "moved_from": {str(pk): earlier for pk, earlier in moved if earlier is not None},
            "tags_added": [tag.pk for tag in added_tags],
            "before": before,
            # Not under "changes": a merge is no resolution, and the SLA history (which reads
            # status changes from there) must be as if it never happened once it is undone.
            # While merged, the closed status itself stops the clocks.
            "status": [before["status"], source.status],
        },
    )
    _notify(target, "conversation.updated")
    _notify(source, "conversation.updated")
    return target


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


@action
def undo_merge(*, source: Conversation, actor: Actor) -> Conversation:
    """Give ``source`` back the messages its merge moved away and the status it had before.

    Messages since split off elsewhere stay where they are. If the conversation it was merged
    into was itself merged on, that later merge must be undone first. Returns ``source``.
    """
    require(actor, Capability.WORK_CONVERSATIONS, source.brand_id)
    current = Conversation.objects.only("merged_into_id").get(pk=source.pk)
    if current.merged_into_id is None:
        raise MergeNotAllowed(
            _("This conversation is not merged into another one."), code="not_merged"
        )
    target = Conversation(pk=current.merged_into_id)
    locked = _locked_in_order(source, target)
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id != target.pk:
        # A concurrent undo won the race between our first read and the locks.
        raise MergeNotAllowed(
            _("This conversation is not merged into another one."), code="not_merged"
        )
    if target.merged_into_id is not None:
        raise MergeNotAllowed(
            _("%(reference)s was merged on into another conversation; undo that merge first."),
            code="target_merged",
            params={"reference": target.reference},
        )
    merge = (
        ConversationEvent.objects.filter(
            conversation=source, type=ConversationEventType.MERGED_AWAY
        )
        .order_by("-created_at", "-id")
        .first()
    )
    payload = merge.payload if merge is not None else {}
    earlier_sources: dict[str, int] = payload.get("moved_from", {})
    returning = list(
        Message.objects.filter(
            pk__in=payload.get("messages", []), conversation=target, moved_from=source
        )
        .order_by("id")
        .values_list("pk", flat=True)
    )
    by_earlier_source: dict[int | None, list[int]] = {}
    for pk in returning:
        by_earlier_source.setdefault(earlier_sources.get(str(pk)), []).append(pk)
    for earlier, pks in by_earlier_source.items():
        Message.objects.filter(pk__in=pks).update(conversation=source, moved_from_id=earlier)
    # The tags that came with the merge leave with it; the target's own tags stay.
    ConversationTag.objects.filter(
        conversation=target, tag_id__in=payload.get("tags_added", [])
    ).delete()
    before = payload.get("before", {})
    status = before.get("status", lifecycle.Status.OPEN)
    now = timezone.now()
    source.status = status
    source.solved_at = _moment(before.get("solved_at"))
    source.closed_at = _moment(before.get("closed_at"))
    source.merged_into = None
    source.updated_at = now
    source.save(
        update_fields=[
            "status",
            "solved_at",
            "closed_at",
            "merged_into",
            "updated_at",
            *_refresh_last_message(source),
        ]
    )
    target.updated_at = now
    target.save(update_fields=[*_refresh_last_message(target), "updated_at"])
    common = {"source": source.pk, "target": target.pk, "messages": returning}
    record_conversation_event(
        target, ConversationEventType.MERGE_UNDONE, actor=actor, payload=common
    )
    record_conversation_event(
        source,
        ConversationEventType.MERGE_UNDONE,
        actor=actor,
        payload={**common, "status": [lifecycle.Status.CLOSED.value, status]},
    )
    _notify(target, "conversation.updated")
    _notify(source, "conversation.updated")
    return source


@action
def split_conversation(
    *, conversation: Conversation, message_ids: list[int], actor: Actor, subject: str = ""
) -> Conversation:
    """Start a new conversation of the same customer from some of ``conversation``'s messages.

    At least one message, not all of them, every one of this conversation. The new one takes the
    next number of the brand, the subject given (else the original's), the original's priority,
    team, assignee, category and language. Returns the new conversation.
    """
    require(actor, Capability.WORK_CONVERSATIONS, conversation.brand_id)
    original = _locked(conversation)
    if original.merged_into_id is not None or original.status == lifecycle.Status.CLOSED:
        raise MergeNotAllowed(
            _("%(reference)s is closed; its messages cannot be split off."),
            code="closed",
            params={"reference": original.reference},
        )
    wanted = set(message_ids)
    if not wanted:
        raise ValidationError(_("Choose at least one message to split off."), code="no_messages")
    messages = list(
        Message.objects.filter(conversation=original, pk__in=wanted).order_by("created_at", "id")
    )
    if len(messages) != len(wanted):
        raise ValidationError(
            _("Some of the chosen messages are not in %(reference)s."),
            code="message_not_in_conversation",
            params={"reference": original.reference},
        )
    if not Message.objects.filter(conversation=original).exclude(pk__in=wanted).exists():
        raise ValidationError(
            _("Splitting off every message would leave %(reference)s empty; keep at least one."),
            code="split_all",
            params={"reference": original.reference},
        )
    public = [message for message in messages if message.direction != Direction.INTERNAL]
    # The origin channel is where the customer part of the case began; a note has none.
    channel = public[0].channel if public else original.channel
    answered = any(message.direction == Direction.OUTBOUND for message in messages)
    now = timezone.now()
    (number,) = _next_numbers(original.brand)
    split_off = Conversation.objects.create(
        brand=original.brand,
        number=number,
        customer_id=original.customer_id,
        channel=channel,
        subject=(subject.strip() or original.subject)[:255],
        status=lifecycle.Status.OPEN if answered else lifecycle.Status.NEW,
        priority=original.priority,
        category_id=original.category_id,
        assignee_id=original.assignee_id,
        team_id=original.team_id,
        language=original.language,
        created_at=messages[0].created_at,
        updated_at=now,
        last_message_at=messages[-1].created_at,
    )
    moved_ids = [message.pk for message in messages]
    _move_messages(moved_ids, into=split_off, moved_from=original)
    split_off.save(update_fields=_refresh_last_message(split_off))
    original.updated_at = now
    original.save(update_fields=[*_refresh_last_message(original), "updated_at"])
    record_conversation_event(
        split_off,
        ConversationEventType.CREATED,
        actor=actor,
        payload={
            "message": (public or messages)[0].pk,
            "channel": channel,
            "split_from": original.pk,
            "messages": moved_ids,
        },
    )
    record_conversation_event(
        original,
        ConversationEventType.SPLIT,
        actor=actor,
        payload={"into": split_off.pk, "into_number": split_off.number, "messages": moved_ids},
    )
    _notify(split_off, "conversation.created", message=moved_ids[0])
    _notify(original, "conversation.updated")
    return split_off
