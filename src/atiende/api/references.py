"""Finding the objects a request names, as the caller may see them.

Reads go through each app's ``queries.py`` with the caller's actor, then are limited to the
token's brand for integration tokens: what the caller may not see is not found (404). Objects
named inside a body (a team, an assignee) must belong to the brand of the object being changed;
otherwise the input is invalid (422).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, User
from atiende.accounts.permissions import brand_ids_with
from atiende.api.auth import Caller
from atiende.api.schemas import (
    AgentRef,
    ConversationLink,
    ConversationOut,
    CustomerRef,
    Ref,
)
from atiende.brands.models import Brand
from atiende.conversations.models import Category, Conversation, ConversationTag
from atiende.conversations.queries import conversations_visible_to, visible_brand_ids
from atiende.core.prepared import PreparedRead
from atiende.customers import crn as crn_scheme
from atiende.customers.models import Customer, Organization
from atiende.customers.queries import customers_visible_to, organizations_visible_to


def brand_for(caller: Caller, slug: str, capability: str) -> Brand:
    """A brand where the caller holds ``capability``; ``Brand.DoesNotExist`` otherwise."""
    brands = caller.limit(Brand.objects.filter(slug=slug, is_active=True), "id")
    allowed = brand_ids_with(caller.actor, capability)
    if allowed is not None:
        brands = brands.filter(pk__in=allowed)
    return brands.get()


def conversation_for(caller: Caller, conversation_id: int) -> Conversation:
    return (
        caller.limit(conversations_visible_to(caller.actor))
        .select_related("merged_into")
        .prefetch_related("tags")
        .get(pk=conversation_id)
    )


# What ConversationOut shows, read as plain values (see conversation_outs).
_OUT_COLUMNS = (
    "id",
    "brand__slug",
    "brand__number_prefix",
    "number",
    "subject",
    "status",
    "priority",
    "channel",
    "language",
    "customer_id",
    "customer__crn",
    "customer__name",
    "assignee_id",
    "assignee__full_name",
    "assignee__email",
    "team_id",
    "team__name",
    "category_id",
    "category__name",
    "follow_up_of_id",
    "merged_into_id",
    "merged_into__number",
    "created_at",
    "updated_at",
    "last_message_at",
    "last_message_preview",
    "solved_at",
    "closed_at",
)


def conversation_outs(conversations: QuerySet[Conversation]) -> list[ConversationOut]:
    """The output of every conversation of ``conversations`` (scoped by the caller), in the
    queryset's order: two queries, the columns shown and the tags' names.

    Not model objects: the API's most frequent request spent about half its time building the
    six models a select_related read makes (bench/README.md, API under load)."""
    rows = list(conversations.values_list(*_OUT_COLUMNS))
    tags: dict[int, list[str]] = {}
    for conversation_id, name in ConversationTag.objects.filter(
        conversation_id__in=[row[0] for row in rows]
    ).values_list("conversation_id", "tag__name"):
        tags.setdefault(conversation_id, []).append(name)
    return _outputs(rows, tags)


def one_conversation_read(
    conversation_id: int, brand_ids: list[int] | None = None
) -> QuerySet[Any]:
    """One conversation's columns (within ``brand_ids`` unless ``None``), a row per tag."""
    conversations = Conversation.objects.filter(pk=conversation_id)
    if brand_ids is not None:
        conversations = conversations.filter(brand_id__in=brand_ids)
    return conversations.order_by().values_list(*_OUT_COLUMNS, "tags__name")


# The GET of one conversation, the API's most frequent request, as one statement compiled once
# (core/prepared.py), in the brands the caller may see or, for who may see every brand, in any.
_ONE_IN_BRANDS = PreparedRead(one_conversation_read, conversation_id=int, brand_ids=list)
_ONE_IN_ANY_BRAND = PreparedRead(one_conversation_read, conversation_id=int)


def conversation_output(caller: Caller, conversation_id: int) -> ConversationOut:
    """What the API shows of a conversation the caller may see; ``Conversation.DoesNotExist``
    otherwise. The scope of ``conversations_visible_to``, limited by the caller's token."""
    brand_ids = caller.narrow(visible_brand_ids(caller.actor))
    if brand_ids is None:
        rows = _ONE_IN_ANY_BRAND.rows(conversation_id=conversation_id)
    elif brand_ids:
        rows = _ONE_IN_BRANDS.rows(conversation_id=conversation_id, brand_ids=sorted(brand_ids))
    else:
        rows = []
    if not rows:
        raise Conversation.DoesNotExist
    tags = [row[-1] for row in rows if row[-1] is not None]
    return _outputs([rows[0][:-1]], {conversation_id: tags})[0]


def _outputs(rows: list[tuple[Any, ...]], tags: dict[int, list[str]]) -> list[ConversationOut]:
    return [
        ConversationOut(
            id=pk,
            brand=brand_slug,
            number=number,
            reference=f"{prefix}-{number}",
            subject=subject,
            status=status,
            priority=priority,
            channel=channel,
            language=language,
            customer=CustomerRef(
                id=customer_id, crn=crn_scheme.display(customer_crn), name=customer_name
            ),
            assignee=None
            if assignee_id is None
            else AgentRef(id=assignee_id, full_name=assignee_name, email=assignee_email),
            team=None if team_id is None else Ref(id=team_id, name=team_name),
            category=None if category_id is None else Ref(id=category_id, name=category_name),
            tags=sorted(tags.get(pk, ())),
            follow_up_of_id=follow_up_of_id,
            # Merges stay within a brand: the prefix is this conversation's own.
            merged_into=None
            if merged_into_id is None
            else ConversationLink(id=merged_into_id, reference=f"{prefix}-{merged_number}"),
            created_at=created_at,
            updated_at=updated_at,
            last_message_at=last_message_at,
            last_message_preview=last_message_preview,
            solved_at=solved_at,
            closed_at=closed_at,
        )
        for (
            pk,
            brand_slug,
            prefix,
            number,
            subject,
            status,
            priority,
            channel,
            language,
            customer_id,
            customer_crn,
            customer_name,
            assignee_id,
            assignee_name,
            assignee_email,
            team_id,
            team_name,
            category_id,
            category_name,
            follow_up_of_id,
            merged_into_id,
            merged_number,
            created_at,
            updated_at,
            last_message_at,
            last_message_preview,
            solved_at,
            closed_at,
        ) in rows
    ]


def conversation_outputs_in_order(ids: list[int]) -> list[ConversationOut]:
    """What the API shows of conversations ``ids``, in that order; the ids must come from a read
    already scoped to the caller (a page of a list, search hits)."""
    by_id = {
        output.id: output
        for output in conversation_outs(Conversation.objects.filter(pk__in=ids).order_by())
    }
    return [by_id[pk] for pk in ids if pk in by_id]


def conversation_to_act_on(caller: Caller, conversation_id: int) -> Conversation:
    """A conversation the caller may see, as the row alone: for an action, which re-reads it under
    a lock, or a read of what lies beneath it (its messages). Without the related rows and tags
    that only :func:`conversation_for`'s output needs: one query fewer and a smaller join."""
    return (
        caller.limit(conversations_visible_to(caller.actor))
        .select_related(None)
        .get(pk=conversation_id)
    )


def customer_for(caller: Caller, customer_id: int) -> Customer:
    return (
        caller.limit(customers_visible_to(caller.actor))
        .prefetch_related("identities")
        .get(pk=customer_id)
    )


def organization_for(caller: Caller, organization_id: int) -> Organization:
    return caller.limit(organizations_visible_to(caller.actor)).get(pk=organization_id)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code="unknown_reference")})


def team_in_brand(brand_id: int, team_id: int) -> Team:
    team = Team.objects.filter(pk=team_id, brand_id=brand_id).first()
    if team is None:
        raise _invalid("team_id", _("There is no such team in this brand."))
    return team


def agent_in_brand(brand_id: int, user_id: int) -> User:
    user = (
        User.objects.filter(pk=user_id, is_active=True, memberships__brand_id=brand_id)
        .distinct()
        .first()
    )
    if user is None:
        raise _invalid("assignee_id", _("There is no such agent in this brand."))
    return user


def category_in_brand(brand_id: int, category_id: int) -> Category:
    category = Category.objects.filter(pk=category_id, brand_id=brand_id).first()
    if category is None:
        raise _invalid("category_id", _("There is no such category in this brand."))
    return category


def organization_in_brand(brand_id: int, organization_id: int) -> Organization:
    organization = Organization.objects.filter(pk=organization_id, brand_id=brand_id).first()
    if organization is None:
        raise _invalid("organization_id", _("There is no such organization in this brand."))
    return organization
