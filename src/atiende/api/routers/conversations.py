"""Conversations and their messages: the inbox as a program sees it; merge and split (CV5)."""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from atiende.api.auth import Caller, caller_of
from atiende.api.errors import COMMON_ERRORS, WRITE_ERRORS
from atiende.api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from atiende.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from atiende.api.references import (
    agent_in_brand,
    category_in_brand,
    conversation_output,
    conversation_outputs_in_order,
    conversation_to_act_on,
    customer_for,
    team_in_brand,
)
from atiende.api.schemas import (
    MAX_ID,
    AttachmentIn,
    ConversationOut,
    Id,
    InputBody,
    MessageOut,
    Moment,
    Output,
    incoming_attachments,
    message_out,
)
from atiende.conversations import actions
from atiende.conversations.models import Conversation, Direction
from atiende.conversations.queries import conversations_visible_to, messages_of

router = Router(tags=["conversations"])

StatusValue = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
PriorityValue = Literal["low", "normal", "high", "urgent"]


class ConversationFilters(Schema):
    brand: str | None = Field(None, description="A brand's slug.")
    status: list[StatusValue] | None = None
    priority: list[PriorityValue] | None = None
    channel: str | None = None
    team: Id | None = Field(None, description="A team's id.")
    assignee: Id | None = Field(None, description="An agent's id.")
    unassigned: bool = False
    tag: str | None = None
    created_after: Moment | None = None
    created_before: Moment | None = None
    updated_after: Moment | None = None
    updated_before: Moment | None = None
    order: Literal["-last_message_at", "-updated_at", "-created_at"] = "-last_message_at"
    cursor: str | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class ConversationPage(Output):
    items: list[ConversationOut]
    next_cursor: str | None


class ConversationIn(InputBody):
    customer_id: Id
    channel: str = Field("api", max_length=32)
    subject: str = Field("", max_length=255)
    body_text: str = ""
    body_html: str = ""
    direction: Literal["inbound", "outbound"] = "inbound"
    priority: PriorityValue = "normal"
    team_id: Id | None = None
    attachments: list[AttachmentIn] = []


class ConversationPatch(InputBody):
    status: StatusValue | None = None
    priority: PriorityValue | None = None
    assignee_id: Id | None = Field(None, description="null unassigns.")
    team_id: Id | None = None
    category_id: Id | None = Field(None, description="null removes the category.")
    tags: list[str] | None = Field(None, description="Replaces the tags.")


class MessagePage(Output):
    items: list[MessageOut]
    next_cursor: str | None


class ReplyIn(InputBody):
    body_text: str = ""
    body_html: str = ""
    channel: str | None = Field(None, description="Defaults to the conversation's channel.")
    status: StatusValue | None = Field(None, description="The status after the reply.")
    attachments: list[AttachmentIn] = []


class NoteIn(InputBody):
    body_text: str = ""
    body_html: str = ""
    attachments: list[AttachmentIn] = []


class MergeIn(InputBody):
    # Any int or short text: what names no conversation of the brand is answered on "into".
    into: int | str = Field(
        ...,
        description="The conversation that survives, of the same brand: its id or its "
        "reference (SOL-1042).",
    )


class SplitIn(InputBody):
    message_ids: list[Id] = Field(
        ...,
        max_length=1000,
        description="Messages of this conversation to move to the new one: some, not all.",
    )
    subject: str = Field("", max_length=255, description="Empty: the original's subject.")


def _merge_target(caller: Caller, source: Conversation, into: int | str) -> Conversation:
    """The conversation ``into`` names, among those of the source's brand the caller may see;
    any other is unknown input (422), never a hint that it exists elsewhere."""
    candidates = (
        caller.limit(conversations_visible_to(caller.actor))
        .select_related(None)
        .filter(brand_id=source.brand_id)
    )
    text = str(into).strip().upper()[:40]
    prefix, _dash, number = text.rpartition("-")
    found = None
    if text.isdigit() and int(text) <= MAX_ID:
        found = candidates.filter(pk=int(text)).first()
    elif prefix and number.isdigit() and len(number) <= 10:
        found = candidates.filter(brand__number_prefix=prefix, number=int(number)).first()
    if found is None:
        raise ValidationError(
            {
                "into": ValidationError(
                    _("There is no such conversation in this brand."), code="unknown_reference"
                )
            }
        )
    return found


@router.get("", response={200: ConversationPage, **COMMON_ERRORS}, summary="List conversations")
def list_conversations(
    request: HttpRequest, filters: Query[ConversationFilters]
) -> ConversationPage:
    caller = caller_of(request)
    rows = caller.limit(conversations_visible_to(caller.actor))
    if filters.brand:
        rows = rows.filter(brand__slug=filters.brand)
    if filters.status:
        rows = rows.filter(status__in=filters.status)
    if filters.priority:
        rows = rows.filter(priority__in=filters.priority)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.team is not None:
        rows = rows.filter(team_id=filters.team)
    if filters.assignee is not None:
        rows = rows.filter(assignee_id=filters.assignee)
    if filters.unassigned:
        rows = rows.filter(assignee__isnull=True)
    if filters.tag:
        rows = rows.filter(tags__name=filters.tag.strip().lower())
    for field, lookup, value in (
        ("created_at", "gte", filters.created_after),
        ("created_at", "lt", filters.created_before),
        ("updated_at", "gte", filters.updated_after),
        ("updated_at", "lt", filters.updated_before),
    ):
        if value is not None:
            rows = rows.filter(**{f"{field}__{lookup}": value})
    # The page is read as the sort key and id only; its rows' output then in two queries.
    page, next_cursor = paginate(
        rows.select_related(None).only("id", filters.order.lstrip("-")),
        order=filters.order,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return ConversationPage(
        items=conversation_outputs_in_order([row.pk for row in page]), next_cursor=next_cursor
    )


@router.post(
    "",
    response={201: ConversationOut, **WRITE_ERRORS},
    summary="Start a conversation on behalf of a customer",
)
def create_conversation(
    request: HttpRequest,
    payload: ConversationIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, ConversationOut]:
        customer = customer_for(caller, payload.customer_id)
        conversation = actions.start_conversation(
            brand=customer.brand,
            customer=customer,
            channel=payload.channel,
            actor=caller.actor,
            subject=payload.subject,
            body_text=payload.body_text,
            body_html=payload.body_html,
            attachments=incoming_attachments(payload.attachments),
            direction=Direction(payload.direction),
            priority=payload.priority,
            team=team_in_brand(customer.brand_id, payload.team_id)
            if payload.team_id is not None
            else None,
        )
        return 201, conversation_output(caller, conversation.pk)

    return idempotent(request, idempotency_key, payload, run)


@router.get(
    "/{conversation_id}",
    response={200: ConversationOut, **COMMON_ERRORS},
    summary="Get a conversation",
)
def get_conversation(request: HttpRequest, conversation_id: Id) -> ConversationOut:
    return conversation_output(caller_of(request), conversation_id)


@router.patch(
    "/{conversation_id}",
    response={200: ConversationOut, **WRITE_ERRORS},
    summary="Change a conversation's status, priority, assignee, team, category or tags",
)
def update_conversation(
    request: HttpRequest, conversation_id: Id, payload: ConversationPatch
) -> ConversationOut:
    caller = caller_of(request)
    actor = caller.actor
    given = payload.model_fields_set
    with transaction.atomic():
        conversation = conversation_to_act_on(caller, conversation_id)
        brand_id = conversation.brand_id
        if "category_id" in given:
            conversation = actions.categorize_conversation(
                conversation=conversation,
                category=category_in_brand(brand_id, payload.category_id)
                if payload.category_id is not None
                else None,
                actor=actor,
            )
        if payload.tags is not None:
            conversation = actions.set_conversation_tags(
                conversation=conversation, tags=payload.tags, actor=actor
            )
        if "assignee_id" in given or payload.team_id is not None:
            assignee = conversation.assignee
            if "assignee_id" in given:
                assignee = (
                    agent_in_brand(brand_id, payload.assignee_id)
                    if payload.assignee_id is not None
                    else None
                )
            conversation = actions.assign_conversation(
                conversation=conversation,
                actor=actor,
                assignee=assignee,
                team=team_in_brand(brand_id, payload.team_id)
                if payload.team_id is not None
                else None,
            )
        if payload.priority is not None:
            conversation = actions.change_priority(
                conversation=conversation, priority=payload.priority, actor=actor
            )
        if payload.status is not None and payload.status != conversation.status:
            conversation = actions.change_status(
                conversation=conversation, status=payload.status, actor=actor
            )
    return conversation_output(caller, conversation_id)


@router.get(
    "/{conversation_id}/messages",
    response={200: MessagePage, **COMMON_ERRORS},
    summary="List a conversation's messages, oldest first",
)
def list_messages(
    request: HttpRequest,
    conversation_id: Id,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> MessagePage:
    caller = caller_of(request)
    conversation = conversation_to_act_on(caller, conversation_id)
    page, next_cursor = paginate(
        messages_of(conversation, viewer=caller.actor),
        order="created_at",
        cursor=cursor,
        limit=limit,
    )
    return MessagePage(items=[message_out(message) for message in page], next_cursor=next_cursor)


@router.post(
    "/{conversation_id}/messages",
    response={201: MessageOut, **WRITE_ERRORS},
    summary="Reply to the customer, on the conversation's channel or another one",
)
def reply(
    request: HttpRequest,
    conversation_id: Id,
    payload: ReplyIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, MessageOut]:
        conversation = conversation_to_act_on(caller, conversation_id)
        message = actions.reply_to_conversation(
            conversation=conversation,
            actor=caller.actor,
            body_text=payload.body_text,
            body_html=payload.body_html,
            channel=payload.channel,
            attachments=incoming_attachments(payload.attachments),
            status=payload.status,
        )
        return 201, message_out(message)

    return idempotent(request, idempotency_key, payload, run)


@router.post(
    "/{conversation_id}/notes",
    response={201: MessageOut, **WRITE_ERRORS},
    summary="Add an internal note for colleagues",
)
def add_note(
    request: HttpRequest,
    conversation_id: Id,
    payload: NoteIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, MessageOut]:
        conversation = conversation_to_act_on(caller, conversation_id)
        message = actions.add_internal_note(
            conversation=conversation,
            actor=caller.actor,
            body_text=payload.body_text,
            body_html=payload.body_html,
            attachments=incoming_attachments(payload.attachments),
        )
        return 201, message_out(message)

    return idempotent(request, idempotency_key, payload, run)


@router.post(
    "/{conversation_id}/merge",
    response={200: ConversationOut, **WRITE_ERRORS},
    summary="Merge this conversation into another; answers the one that survives",
    description="Every message moves to the conversation named by `into`; this one is closed "
    "and points at it (`merged_into`). 409 `merge_not_allowed` when either was merged already "
    "or the survivor is closed. Undo with `/unmerge`.",
)
def merge(
    request: HttpRequest,
    conversation_id: Id,
    payload: MergeIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, ConversationOut]:
        source = conversation_to_act_on(caller, conversation_id)
        target = actions.merge_conversations(
            source=source, target=_merge_target(caller, source, payload.into), actor=caller.actor
        )
        return 200, conversation_output(caller, target.pk)

    return idempotent(request, idempotency_key, payload, run)


@router.post(
    "/{conversation_id}/unmerge",
    response={200: ConversationOut, **WRITE_ERRORS},
    summary="Undo the merge of this conversation; answers it, restored",
)
def unmerge(
    request: HttpRequest,
    conversation_id: Id,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, ConversationOut]:
        source = actions.undo_merge(
            source=conversation_to_act_on(caller, conversation_id), actor=caller.actor
        )
        return 200, conversation_output(caller, source.pk)

    return idempotent(request, idempotency_key, None, run)


@router.post(
    "/{conversation_id}/split",
    response={201: ConversationOut, **WRITE_ERRORS},
    summary="Split some messages off into a new conversation of the same customer",
)
def split(
    request: HttpRequest,
    conversation_id: Id,
    payload: SplitIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY_HEADER,
) -> Status:
    caller = caller_of(request)

    def run() -> tuple[int, ConversationOut]:
        split_off = actions.split_conversation(
            conversation=conversation_to_act_on(caller, conversation_id),
            message_ids=payload.message_ids,
            actor=caller.actor,
            subject=payload.subject,
        )
        return 201, conversation_output(caller, split_off.pk)

    return idempotent(request, idempotency_key, payload, run)
