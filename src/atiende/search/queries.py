"""One search box over conversations, messages and customers, scoped to the person asking.

A search first looks up exactly what the text is shaped like — a conversation reference
(``SOL-1042``), a CRN, an email address, a phone number — then matches its words in the full-text
index. Matches are grouped by conversation (its best match wins) and ranked: exact lookups first,
then by relevance, where a match in the subject or the customer's details outweighs one in a
message body.

A common word could match millions of messages. Each index is therefore asked for the newest
``CANDIDATES`` matches only (walking it in id order, newest first, which stops early), and only
those are ranked: a search costs a bounded amount whatever it matches, and what it can miss is
old material that a more specific word would find.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.brands.models import Brand
from atiende.conversations.models import Conversation, Direction
from atiende.conversations.queries import conversations_visible_to
from atiende.customers.identities import normalize_phone
from atiende.customers.models import Customer, CustomerIdentity, IdentityKind
from atiende.search import index
from atiende.search.highlighting import highlight
from atiende.search.parsing import ParsedQuery, fold, parse_query

CANDIDATES = 1_000
# A page never holds more than one index's candidates.
MAX_LIMIT = CANDIDATES


class InvalidCursor(ValueError):
    """An ``after`` value that no search page handed out."""


HIT_KINDS = {
    "reference": _("Reference"),
    "customer": _("Customer"),
    "subject": _("Subject"),
    "message": _("Message"),
    "note": _("Internal note"),
}


@dataclass(frozen=True)
class SearchHit:
    conversation: Conversation
    # One of HIT_KINDS: what matched.
    kind: str
    # Safe HTML: the matched text, escaped, with the matched words in <mark>.
    snippet: SafeString
    score: float
    message_id: int | None = None

    @property
    def kind_label(self) -> str:
        return str(HIT_KINDS[self.kind])


@dataclass
class SearchPage:
    query: ParsedQuery
    hits: list[SearchHit] = field(default_factory=list)
    # Customers found by their CRN, email address or phone number (shown even with no case).
    customers: list[Customer] = field(default_factory=list)
    # How many conversations matched, counting only the candidates looked at.
    total: int = 0
    # True when an index had more matches than were ranked (a very common word).
    capped: bool = False
    next_after: str | None = None


def _encode_after(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _decode_after(after: str | None) -> int:
    if not after:
        return 0
    try:
        raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        if not raw.startswith("o") or not raw[1:].isdigit():
            raise ValueError(raw)
        return int(raw[1:])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor(after) from None


def _narrow(allowed: set[int] | None, wanted: set[int] | None) -> set[int] | None:
    if wanted is None:
        return allowed
    return set(wanted) if allowed is None else allowed & wanted


@dataclass(frozen=True)
class _Ranked:
    conversation_id: int
    kind: str | None  # set for exact lookups; decided from the text otherwise
    score: float
    message_id: int | None = None


def _filtered(conversations: Any, scope: index.Scope) -> Any:
    if scope.brand_ids is not None:
        conversations = conversations.filter(brand_id__in=scope.brand_ids)
    if scope.statuses:
        conversations = conversations.filter(status__in=scope.statuses)
    if scope.channel:
        conversations = conversations.filter(channel=scope.channel)
    return conversations


def _phone_values(text: str, brand_ids: set[int] | None) -> set[str]:
    brands = Brand.objects.all() if brand_ids is None else Brand.objects.filter(id__in=brand_ids)
    values = set()
    for country in {*brands.values_list("country", flat=True), ""}:
        try:
            values.add(normalize_phone(text, country))
        except ValidationError:
            continue
    return values


def _exact_customers(parsed: ParsedQuery, brand_ids: set[int] | None) -> list[Customer]:
    condition = Q()
    if parsed.crn:
        condition |= Q(crn=parsed.crn)
    addresses = Q()
    if parsed.email:
        addresses |= Q(kind=IdentityKind.EMAIL, value=parsed.email)
    if parsed.phone and (phones := _phone_values(parsed.phone, brand_ids)):
        addresses |= Q(kind=IdentityKind.PHONE, value__in=phones)
    if addresses:
        condition |= Q(id__in=CustomerIdentity.objects.filter(addresses).values("customer_id"))
    if not condition:
        return []
    customers = Customer.objects.filter(condition).select_related("brand", "merged_into__brand")
    if brand_ids is not None:
        customers = customers.filter(brand_id__in=brand_ids)
    # A duplicate merged away keeps its CRN, which leads to the customer it became.
    found = [
        customer.merged_into or customer for customer in customers.order_by("-created_at")[:20]
    ]
    return list({customer.pk: customer for customer in found}.values())


def _exact_matches(
    parsed: ParsedQuery, scope: index.Scope, customers: Sequence[Customer]
) -> list[_Ranked]:
    found: list[_Ranked] = []
    if parsed.reference is not None:
        by_number = Conversation.objects.filter(number=parsed.reference.number)
        if parsed.reference.prefix:
            by_number = by_number.filter(brand__number_prefix__iexact=parsed.reference.prefix)
        found += [
            _Ranked(pk, "reference", float("inf"))
            for pk in _filtered(by_number, scope)
            .order_by("-last_message_at")
            .values_list("pk", flat=True)[:CANDIDATES]
        ]
    if customers:
        of_customers = Conversation.objects.filter(customer__in=[c.pk for c in customers])
        found += [
            _Ranked(pk, "customer", float("inf"))
            for pk in _filtered(of_customers, scope)
            .order_by("-last_message_at", "-id")
            .values_list("pk", flat=True)[:CANDIDATES]
        ]
    return found


def _full_text_matches(
    parsed: ParsedQuery, scope: index.Scope, searchable: set[int] | None, limited: set[int]
) -> tuple[list[index.Candidate], bool]:
    """Index matches: conversations' own documents, then messages, and whether a list was cut."""
    query = index.text_query(parsed.terms)
    candidates: list[index.Candidate] = []
    if searchable is None or searchable:
        candidates += index.conversation_candidates(
            query, replace(scope, brand_ids=searchable), limit=CANDIDATES
        )
    capped = len(candidates) == CANDIDATES
    if limited:
        # Brands whose customer records this user may not see: subject and reference only.
        candidates += index.conversation_candidates(
            query, replace(scope, brand_ids=limited), limit=CANDIDATES, customer_fields=False
        )
    messages = index.message_candidates(query, scope, limit=CANDIDATES)
    return [*candidates, *messages], capped or len(messages) == CANDIDATES


def _ranked(exact: list[_Ranked], candidates: Iterable[index.Candidate]) -> list[_Ranked]:
    best: dict[int, _Ranked] = {}
    for hit in exact:
        best.setdefault(hit.conversation_id, hit)
    for candidate in candidates:
        current = best.get(candidate.conversation_id)
        if current is None or (current.kind is None and candidate.score > current.score):
            best[candidate.conversation_id] = _Ranked(
                candidate.conversation_id, None, candidate.score, candidate.message_id
            )
    exact_order = {hit.conversation_id: position for position, hit in enumerate(exact)}
    return sorted(
        best.values(),
        key=lambda hit: (
            exact_order.get(hit.conversation_id, len(exact_order)),
            -hit.score,
            -hit.conversation_id,
        ),
    )


def _customer_line(conversation: Conversation, indexed: str) -> str:
    customer = conversation.customer
    addresses = [word for word in indexed.split() if "@" in word or word.startswith("+")]
    return " · ".join([customer.display_name, customer.crn_display, *dict.fromkeys(addresses)])


def _hit(
    ranked: _Ranked,
    conversation: Conversation,
    terms: tuple[str, ...],
    texts: dict[int, index.ConversationText],
    messages: dict[int, tuple[str, str]],
) -> SearchHit:
    text = texts.get(conversation.pk)
    subject = text.subject if text else conversation.subject
    customer = _customer_line(conversation, text.customer if text else "")
    kind, snippet_text = ranked.kind, subject
    if ranked.message_id is not None and ranked.message_id in messages:
        direction, body = messages[ranked.message_id]
        kind = "note" if direction == Direction.INTERNAL else "message"
        snippet_text = body
    elif kind == "reference":
        snippet_text = f"{conversation.reference} · {subject}"
    elif kind == "customer":
        snippet_text = customer
    else:
        subject_words = {fold(word) for word in subject.split()}
        if any(any(word.startswith(term) for word in subject_words) for term in terms):
            kind = "subject"
        elif any(term in fold(customer) for term in terms):
            kind, snippet_text = "customer", customer
        else:
            kind = "subject"
    return SearchHit(
        conversation=conversation,
        kind=kind,
        snippet=highlight(snippet_text, terms),
        score=ranked.score,
        message_id=ranked.message_id,
    )


def search_for(
    user: Any,
    text: str,
    *,
    brand_ids: Iterable[int] | None = None,
    status: str | Sequence[str] | None = None,
    channel: str | None = None,
    limit: int = 20,
    after: str | None = None,
) -> SearchPage:
    """A page of conversations matching ``text`` that ``user`` may see, best first.

    ``brand_ids``, ``status`` and ``channel`` narrow it as the inbox's filters do; ``after`` is
    the ``next_after`` of the previous page (``InvalidCursor`` if it is not one). Costs a
    constant number of queries, whatever the page size. Never raises for what was typed.
    """
    parsed = parse_query(text)
    offset = _decode_after(after)
    limit = max(1, min(limit, MAX_LIMIT))
    page = SearchPage(query=parsed)
    wanted = set(brand_ids) if brand_ids is not None else None
    visible = _narrow(brand_ids_with(user, Capability.VIEW_CONVERSATIONS), wanted)
    if parsed.is_empty or (visible is not None and not visible):
        return page
    customer_brands = brand_ids_with(user, Capability.VIEW_CUSTOMERS)
    statuses = (status,) if isinstance(status, str) else tuple(status or ())
    scope = index.Scope(
        brand_ids=visible,
        customer_brand_ids=customer_brands,
        note_brand_ids=brand_ids_with(user, Capability.VIEW_INTERNAL_NOTES),
        statuses=tuple(value for value in statuses if value),
        channel=channel or None,
    )
    searchable = _narrow(customer_brands, visible)
    limited = set() if visible is None or searchable is None else visible - searchable
    customers = _exact_customers(parsed, searchable)
    page.customers = customers
    exact = _exact_matches(parsed, scope, customers)
    candidates: list[index.Candidate] = []
    if parsed.terms:
        candidates, page.capped = _full_text_matches(parsed, scope, searchable, limited)
    ordered = _ranked(exact, candidates)
    page.total = len(ordered)
    chosen = ordered[offset : offset + limit]
    if len(ordered) > offset + limit:
        page.next_after = _encode_after(offset + limit)
    if not chosen:
        return page
    conversations = {
        conversation.pk: conversation
        for conversation in conversations_visible_to(user)
        .filter(pk__in=[hit.conversation_id for hit in chosen])
        .select_related("merged_into")
        .prefetch_related("tags")
        # Put in rank order below; a sort here could make the database walk a date index.
        .order_by()
    }
    texts = index.conversation_texts(list(conversations))
    messages = index.message_texts([hit.message_id for hit in chosen if hit.message_id])
    terms = parsed.terms
    if parsed.crn:
        terms += (parsed.crn[:3].lower(), parsed.crn[3:].lower())
    page.hits = [
        _hit(hit, conversations[hit.conversation_id], terms, texts, messages)
        for hit in chosen
        if hit.conversation_id in conversations
    ]
    return page
