"""Output schemas shared by several routers, and the attachment input. Each router keeps its own
input schemas; outputs are built from model rows explicitly, never by exposing a model whole."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from atiende.accounts.models import Team, User
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.models import Attachment, Message
from atiende.customers.models import Customer, CustomerIdentity, Organization

# Ids are 64-bit in the database; anything larger is invalid input, not a database error.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _in_utc(value: datetime) -> datetime:
    """Naive means UTC; an offset is applied here, so the database never sees one it may refuse
    (PostgreSQL accepts offsets up to ±15:59)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


# RFC 3339's date-time (what the document's "format: date-time" promises), with the offset
# optional (naive means UTC) and a space allowed for the "T".
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?"
)


def _date_time_text(value: Any) -> Any:
    """Only a date and time written out: pydantic would also take a number ("0.5", 1700000000)
    as seconds since 1970, which the document does not allow and no client means."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value.strip()):
        raise ValueError("expected a date and time such as 2026-12-02T10:30:00Z")
    return value


# A moment given by a client, e.g. a filter's bound.
Moment = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_in_utc)]


class Output(BaseModel):
    """A response body. The routers build every one explicitly from the rows they read, so
    plain pydantic rather than ninja's ``Schema``, whose validator wraps every value for
    reading model attributes: building a page of 25 conversations spent over half its time
    there, and ninja then validated the result a second time (an instance of a plain model is
    taken as it is)."""


class InputBody(Schema):
    """A request body: a JSON object with the documented fields and no others. A field the API
    does not know is a client's mistake (a misspelt ``asignee_id`` would otherwise be ignored in
    silence), and a body that is not an object — ``[null, null]`` — is refused instead of being
    read as an object with every field left out."""

    model_config = ConfigDict(extra="forbid")


class Ref(Output):
    id: int
    name: str


class AgentRef(Output):
    id: int
    full_name: str
    email: str


class CustomerRef(Output):
    id: int
    crn: str
    name: str


class ConversationLink(Output):
    id: int
    reference: str


class ConversationOut(Output):
    id: int
    brand: str
    number: int
    reference: str
    subject: str
    status: str
    priority: str
    channel: str
    language: str
    customer: CustomerRef
    assignee: AgentRef | None
    team: Ref | None
    category: Ref | None
    tags: list[str]
    follow_up_of_id: int | None
    merged_into: ConversationLink | None = Field(
        ..., description="The conversation this one was merged into; null unless merged."
    )
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    last_message_preview: str
    solved_at: datetime | None
    closed_at: datetime | None


class AttachmentOut(Output):
    id: int
    message_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    download_url: str
    created_at: datetime


class MessageOut(Output):
    id: int
    conversation_id: int
    direction: str
    author_kind: str
    author: AgentRef | None
    author_customer_id: int | None
    channel: str
    body_text: str
    body_html: str
    delivery_state: str
    sent_at: datetime | None
    created_at: datetime
    attachments: list[AttachmentOut]


class IdentityOut(Output):
    id: int
    kind: str
    network: str
    value: str
    is_primary: bool
    failing_since: datetime | None


class CustomerOut(Output):
    id: int
    brand: str
    crn: str
    name: str
    organization: Ref | None
    language: str
    address_line: str
    city: str
    region: str
    postal_code: str
    country: str
    consent_email: bool
    consent_phone: bool
    consent_marketing: bool
    custom_attributes: dict[str, Any]
    identities: list[IdentityOut]
    merged_into_id: int | None = Field(
        ..., description="The customer this duplicate was merged into; null unless merged."
    )
    created_at: datetime
    updated_at: datetime


class AttachmentIn(InputBody):
    filename: str = Field(..., min_length=1, max_length=255)
    content_type: str = Field("", max_length=127)
    content_base64: str = Field(..., description="The file's bytes, base64-encoded.")


def incoming_attachments(attachments: list[AttachmentIn]) -> list[IncomingAttachment]:
    decoded = []
    for index, attachment in enumerate(attachments):
        try:
            content = base64.b64decode(attachment.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                {
                    f"attachments.{index}.content_base64": ValidationError(
                        _("This is not base64."), code="invalid_base64"
                    )
                }
            ) from None
        decoded.append(
            IncomingAttachment(
                filename=attachment.filename,
                content=content,
                declared_content_type=attachment.content_type,
            )
        )
    return decoded


def _ref(row: Team | Organization | Any | None) -> Ref | None:
    return None if row is None else Ref(id=row.pk, name=row.name)


def agent_ref(user: User | None) -> AgentRef | None:
    return (
        None if user is None else AgentRef(id=user.pk, full_name=user.full_name, email=user.email)
    )


def attachment_out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.pk,
        message_id=attachment.message_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        download_url=f"/api/v1/attachments/{attachment.pk}/content",
        created_at=attachment.created_at,
    )


def message_out(message: Message) -> MessageOut:
    """Needs author_user selected and attachments prefetched (or few)."""
    return MessageOut(
        id=message.pk,
        conversation_id=message.conversation_id,
        direction=message.direction,
        author_kind=message.author_kind,
        author=agent_ref(message.author_user),
        author_customer_id=message.author_customer_id,
        channel=message.channel,
        body_text=message.body_text,
        body_html=message.body_html,
        delivery_state=message.delivery_state,
        sent_at=message.sent_at,
        created_at=message.created_at,
        attachments=[attachment_out(attachment) for attachment in message.attachments.all()],
    )


def identity_out(identity: CustomerIdentity) -> IdentityOut:
    return IdentityOut(
        id=identity.pk,
        kind=identity.kind,
        network=identity.network,
        value=identity.value,
        is_primary=identity.is_primary,
        failing_since=identity.failing_since,
    )


def customer_out(customer: Customer) -> CustomerOut:
    """Needs brand and organization selected and identities prefetched."""
    return CustomerOut(
        id=customer.pk,
        brand=customer.brand.slug,
        crn=customer.crn_display,
        name=customer.name,
        organization=_ref(customer.organization),
        language=customer.language,
        address_line=customer.address_line,
        city=customer.city,
        region=customer.region,
        postal_code=customer.postal_code,
        country=customer.country,
        consent_email=customer.consent_email,
        consent_phone=customer.consent_phone,
        consent_marketing=customer.consent_marketing,
        custom_attributes=dict(customer.custom_attributes or {}),
        identities=[identity_out(identity) for identity in customer.identities.all()],
        merged_into_id=customer.merged_into_id,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )
