"""Search over conversations: the same full-text search as the web's search box.

Words match subjects, messages (internal notes only for callers who may read them) and the
customer's name, CRN, email addresses and phone numbers; a reference (``SOL-1042``), a CRN, an
email address or a phone number is looked up exactly first. Results are ranked by relevance;
the cursor pages through that ranking.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from atiende.api.auth import caller_of
from atiende.api.errors import COMMON_ERRORS, ApiError
from atiende.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from atiende.api.references import conversation_outputs_in_order
from atiende.api.schemas import ConversationOut, Output
from atiende.search.queries import InvalidCursor, search_for

router = Router(tags=["search"])


class SearchPage(Output):
    items: list[ConversationOut]
    next_cursor: str | None


@router.get(
    "/conversations",
    response={200: SearchPage, **COMMON_ERRORS},
    summary="Search conversations by words, reference, customer name, CRN, email or phone",
)
def search_conversations(
    request: HttpRequest,
    q: str = Query(..., min_length=1, max_length=200),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    status: str | None = Query(None, max_length=16),
    channel: str | None = Query(None, max_length=32),
) -> SearchPage:
    caller = caller_of(request)
    try:
        page = search_for(
            caller.actor,
            q,
            brand_ids=[caller.brand_id] if caller.brand_id is not None else None,
            status=status,
            channel=channel,
            limit=limit,
            after=cursor,
        )
    except InvalidCursor:
        raise ApiError(422, "invalid_cursor") from None
    return SearchPage(
        items=conversation_outputs_in_order([hit.conversation.pk for hit in page.hits]),
        next_cursor=page.next_after,
    )
