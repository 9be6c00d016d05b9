"""A simple search over conversations: subject, number or reference, customer name or CRN.

For now a case-insensitive substring match (``icontains``) on the rows the caller may see; a
full-text index belongs to the conversations app's search when it comes.
"""

from __future__ import annotations

import re

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema

from atiende.api.auth import caller_of
from atiende.api.errors import COMMON_ERRORS
from atiende.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from atiende.api.schemas import ConversationOut, conversation_out
from atiende.conversations.queries import conversations_visible_to

router = Router(tags=["search"])

NUMBER = re.compile(r"^(?:(?P<prefix>[A-Za-z0-9]+)-)?(?P<number>\d{1,9})$")


class SearchPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


@router.get(
    "/conversations",
    response={200: SearchPage, **COMMON_ERRORS},
    summary="Search conversations by subject, number, customer name or CRN",
)
def search_conversations(
    request: HttpRequest,
    q: str = Query(..., min_length=1, max_length=200),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> SearchPage:
    caller = caller_of(request)
    text = q.strip()
    condition = (
        Q(subject__icontains=text)
        | Q(customer__name__icontains=text)
        | Q(customer__crn__icontains=text.replace("-", "").upper())
    )
    if match := NUMBER.match(text):
        by_number = Q(number=int(match["number"]))
        if match["prefix"]:
            by_number &= Q(brand__number_prefix__iexact=match["prefix"])
        condition |= by_number
    rows = caller.limit(conversations_visible_to(caller.actor)).filter(condition)
    page, next_cursor = paginate(
        rows.prefetch_related("tags"), order="-last_message_at", cursor=cursor, limit=limit
    )
    return SearchPage(items=[conversation_out(row) for row in page], next_cursor=next_cursor)
