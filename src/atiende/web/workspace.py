"""What the conversation page offers the agent beside the timeline: the channels a reply can go
out on, the colleagues a note can call in, the choices of each property, the customer panel, and
the collision check before a reply leaves.

Reads only, each scoped to the person asking through the apps' queries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, User
from atiende.accounts.permissions import can
from atiende.accounts.queries import colleagues_visible_to, teams_visible_to
from atiende.accounts.roles import ROLE_CAPABILITIES, Capability
from atiende.channels import registry as channel_registry
from atiende.conversations import lifecycle
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.models import (
    Category,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
)
from atiende.conversations.queries import conversations_visible_to, messages_of
from atiende.customers.models import CustomerIdentity, Order
from atiende.customers.queries import identities_of, orders_of

# Never a reply channel, whatever the registry says: a note is not sent.
_NOT_FOR_REPLIES = {"internal"}
RECENT_CONVERSATIONS = 10
ORDERS_SHOWN = 5


@dataclass(frozen=True)
class ReplyChannel:
    code: str
    label: str
    # Where the reply will go (an address), or "" for a session channel.
    address: str = ""


def reply_channels(
    identities: Sequence[CustomerIdentity], channels_used: Iterable[str]
) -> list[ReplyChannel]:
    """The channels an agent may answer this customer on, in the registry's order."""
    used = set(channels_used)
    offered = []
    for kind in channel_registry.all_kinds():
        if not kind.can_reply or kind.code in _NOT_FOR_REPLIES:
            continue
        # Session channels (no address kind) answer within a session the customer opened, so
        # they are offered once the customer has used them here.
        if kind.address_kind is None:
            if kind.code in used:
                offered.append(ReplyChannel(kind.code, str(kind.label)))
            continue
        address = next((i for i in identities if i.kind == kind.address_kind), None)
        if address is not None:
            offered.append(ReplyChannel(kind.code, str(kind.label), address.display_value))
    return offered


def default_reply_channel(
    conversation: Conversation, messages: Sequence[Message], offered: Sequence[ReplyChannel]
) -> str:
    """The channel the customer last wrote on, else the one the case came in by, if we can answer
    there; else the first we can."""
    codes = [channel.code for channel in offered]
    inbound = [message.channel for message in messages if message.direction == Direction.INBOUND]
    for code in [*reversed(inbound), conversation.channel]:
        if code in codes:
            return code
    return codes[0] if codes else ""


def newer_reply(conversation: Conversation, *, seen: int, viewer: Any) -> Message | None:
    """The latest message to or from the customer after message ``seen`` that ``viewer`` did not
    write: someone answered (or the customer wrote again) while the reply was being typed (CV6)."""
    return (
        messages_of(conversation, viewer=viewer)
        .filter(pk__gt=seen, direction__in=[Direction.INBOUND, Direction.OUTBOUND])
        .exclude(author_user_id=viewer.pk)
        .prefetch_related(None)
        .order_by("-created_at", "-id")
        .first()
    )


def _roles_with(capability: str) -> list[str]:
    return [role for role, capabilities in ROLE_CAPABILITIES.items() if capability in capabilities]


def colleagues_in_brand(viewer: Any, brand_id: int, capability: str) -> QuerySet[User]:
    """Active staff ``viewer`` may see who hold ``capability`` in the brand."""
    return colleagues_visible_to(viewer).filter(
        memberships__brand_id=brand_id, memberships__role__in=_roles_with(capability)
    )


def mentionable_colleagues(viewer: Any, brand_id: int) -> QuerySet[User]:
    """Who a note of the brand can call in: whoever can read the brand's internal notes."""
    return colleagues_in_brand(viewer, brand_id, Capability.VIEW_INTERNAL_NOTES)


def mentioned_in(text: str, colleagues: Iterable[User]) -> list[User]:
    """The colleagues ``text`` names as ``@Full Name`` or ``@email`` (any case), each once.

    A name counts only as a whole: "@Ana" does not mention "Ana María", and "@Ana María" does not
    also mention "Ana" — the longer name is matched first and its words are used up.
    """
    remaining = text.casefold()
    found: dict[int, User] = {}
    handles = [
        (handle.casefold(), user)
        for user in colleagues
        for handle in (user.full_name.strip(), user.email)
        if handle
    ]
    for handle, user in sorted(handles, key=lambda item: -len(item[0])):
        pattern = re.compile("@" + re.escape(handle) + r"(?![\w@.-]*\w)")
        if pattern.search(remaining):
            found.setdefault(user.pk, user)
            remaining = pattern.sub(" ", remaining)
    return list(found.values())


def assignable_agents(viewer: Any, brand_id: int) -> QuerySet[User]:
    return colleagues_in_brand(viewer, brand_id, Capability.WORK_CONVERSATIONS)


def brand_teams(viewer: Any, brand_id: int) -> QuerySet[Team]:
    return teams_visible_to(viewer).filter(brand_id=brand_id, is_active=True).order_by("name")


def brand_categories(brand_id: int) -> QuerySet[Category]:
    # Categories are the brand's configuration, as visible as the conversation that has one.
    return Category.objects.filter(brand_id=brand_id, is_active=True).order_by("name")


def status_choices(current: str) -> list[tuple[str, str]]:
    """The present status and those the lifecycle allows from it, in the lifecycle's order."""
    allowed = lifecycle.ALLOWED_TRANSITIONS[lifecycle.Status(current)] | {lifecycle.Status(current)}
    return [(value, str(label)) for value, label in ConversationStatus.choices if value in allowed]


def reply_status_choices(current: str) -> list[tuple[str, str]]:
    """Statuses a reply may move the conversation to ("Send and set …"), other than the present."""
    return [(value, label) for value, label in status_choices(current) if value != current]


def incoming_uploads(files: Sequence[UploadedFile]) -> list[IncomingAttachment]:
    """The composer's uploaded files as the actions take them, refused one by one if too large
    (checked before the file is read into memory)."""
    limit = settings.ATIENDE_MAX_ATTACHMENT_BYTES
    attachments = []
    for upload in files:
        if (upload.size or 0) > limit:
            raise ValidationError(
                _("%(name)s is too large; attachments may be at most %(limit)s."),
                code="attachment_too_large",
                params={"name": upload.name, "limit": _megabytes(limit)},
            )
        attachments.append(
            IncomingAttachment(
                filename=upload.name or "",
                content=upload.read(),
                declared_content_type=upload.content_type or "",
            )
        )
    return attachments


def _megabytes(size: int) -> str:
    return str(filesizeformat(size))


@dataclass(frozen=True)
class CustomerPanel:
    identities: list[CustomerIdentity]
    recent: list[Conversation]
    orders: list[Order]


def customer_panel(conversation: Conversation, *, viewer: Any) -> CustomerPanel:
    """The customer beside the conversation, in three queries whatever their history."""
    customer = conversation.customer
    recent = list(
        conversations_visible_to(viewer)
        .filter(customer_id=customer.pk)
        .exclude(pk=conversation.pk)
        # What the panel shows of each: its reference, channel, status and subject. Joining
        # the customer, assignee, team and category too cost PostgreSQL more to plan than the
        # whole page's other reads took to run.
        .select_related(None)
        .select_related("brand")
        .only(
            "brand__slug", "brand__number_prefix", "number", "channel", "status", "subject",
            "last_message_at",
        )
        .order_by("-last_message_at", "-id")[:RECENT_CONVERSATIONS]
    )  # fmt: skip
    orders: list[Order] = []
    if can(viewer, Capability.VIEW_CUSTOMERS, conversation.brand_id):
        orders = list(orders_of(customer)[:ORDERS_SHOWN])
    return CustomerPanel(identities=list(identities_of(customer)), recent=recent, orders=orders)
