"""Every read of the inbox, scoped to the person asking, in a constant number of queries.

Each view and sort is read as one or a few index range scans with a LIMIT (the indexes are
declared in ``conversations.models.INBOX_INDEXES``), never as a sort of a brand's
conversations, so a page costs the same with a thousand conversations or a million:

* A view has a *leading column*: the assignee for "mine", the team for "my teams", the brand
  for "all" and "unassigned". A view over several brands or teams reads each one by its own
  index scan and merges them here: an ``IN (...)`` list on an index's first column cannot
  come back in the order of its later columns on either database.
* A sort is a list of *segments*, each served by one index in one order: by SLA deadline,
  the conversations with a deadline and then those without one (NULLs sort differently on
  SQLite and PostgreSQL, so they get their own segment); by priority, urgent to low, each by
  deadline. A page reads segments in turn until it is full.
* The cursor is the last row's segment and sort values (keyset pagination): the next page
  starts there, never with an OFFSET, and rows with the same sort value are told apart by id.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core import signing
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, User
from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import ROLE_CAPABILITIES, Capability
from atiende.brands.models import Brand
from atiende.conversations.models import Conversation, ConversationTag
from atiende.conversations.queries import conversations_visible_to
from atiende.core import prepared
from atiende.customers import crn as crn_scheme
from atiende.inbox.filters import OPEN_WORK as FILTER_OPEN_WORK
from atiende.inbox.filters import PRIORITIES, STATUSES, VIEWS, InboxFilter
from atiende.inbox.models import ConversationRead, SavedView
from atiende.sla.queries import Deadline, next_deadlines_for

PAGE_SIZE = 50
# Counts stop here: counting a view's open work reads at most this many index entries however
# large the backlog ("1,000+"), so the counts can be exact and current on every page load
# without a cache that would lag behind the rows listed under them (after a bulk assignment,
# say). Measured on 200,000 conversations, a cap of 10,000 cost ten times as much per view for a
# number nobody acts on: an agent works the top of the list, and backlog sizes belong to the
# reports, which read pre-aggregated tables.
COUNT_CAP = 1_000
# Exactly the condition of the partial indexes (same values, same order): SQLite uses a partial
# index only when the query repeats its WHERE term.
OPEN_WORK_STATUSES = sorted(FILTER_OPEN_WORK)
assert all(status.isidentifier() for status in OPEN_WORK_STATUSES)
# The same condition written into the SQL as literals, not as bound parameters: SQLite uses a
# partial index only when it can prove that the query implies the index's WHERE, and it cannot
# see through a bound parameter, so ``status IN (?, ?, ?, ?)`` fell back to a full index and
# read every conversation of a team or brand to find its open ones (0.3–0.4 s per count at a
# million conversations; under 1 ms with literals). The values are the lifecycle's constants.
OPEN_WORK = RawSQL(  # noqa: S611 (constants of the lifecycle, checked above; no input)
    f'"{Conversation._meta.db_table}"."status" IN ('
    + ", ".join(f"'{status}'" for status in OPEN_WORK_STATUSES)
    + ")",
    [],
    output_field=BooleanField(),
)
SOON = timedelta(hours=1)
_CURSOR_SALT = "atiende.inbox.cursor"


@dataclass(frozen=True)
class Segment:
    """Rows of one index order: ``condition`` selects them, ``order`` follows the index after
    its leading column, ``keyset`` are the values the cursor compares (id last)."""

    condition: Q
    order: tuple[str, ...]
    keyset: tuple[str, ...]
    descending: bool = False


def segments_for(sort: str) -> list[Segment]:
    if sort == "due":
        return _by_deadline(Q(), ())
    if sort == "priority":
        return [
            segment
            for priority in PRIORITIES
            for segment in _by_deadline(Q(priority=priority), ("priority",))
        ]
    field = "created_at" if sort == "created" else "updated_at"
    return [Segment(Q(), (field, "id"), (field, "id"), descending=True)]


def _by_deadline(condition: Q, before: tuple[str, ...]) -> list[Segment]:
    order = (*before, "sla_due_at", "id")
    return [
        Segment(condition & Q(sla_due_at__isnull=False), order, ("sla_due_at", "id")),
        # Ordered by the (null) deadline too, so both databases see the index's own order.
        Segment(condition & Q(sla_due_at__isnull=True), order, ("id",)),
    ]


# --- the cursor --------------------------------------------------------------------------


def encode_cursor(sort: str, segment: int, values: Sequence[Any]) -> str:
    data = [sort, segment, [v.isoformat() if isinstance(v, datetime) else v for v in values]]
    return signing.dumps(data, salt=_CURSOR_SALT, compress=True)


def decode_cursor(cursor: str | None, sort: str) -> tuple[int, list[Any]] | None:
    """(segment, values) of a cursor made for ``sort``; None (the first page) for anything else:
    a cursor tampered with, made for another sort, or simply old."""
    if not cursor:
        return None
    try:
        data = signing.loads(cursor, salt=_CURSOR_SALT)
        made_for, segment, raw = data
        keyset = segments_for(sort)[segment].keyset
        if made_for != sort or len(raw) != len(keyset):
            return None
        values: list[Any] = []
        for name, value in zip(keyset, raw, strict=True):
            if name == "id":
                if not isinstance(value, int) or isinstance(value, bool):
                    return None
                values.append(value)
            else:
                moment = parse_datetime(value) if isinstance(value, str) else None
                if moment is None:
                    return None
                values.append(moment)
        return segment, values
    except (signing.BadSignature, ValueError, TypeError, IndexError):
        return None


def _after(segment: Segment, values: Sequence[Any]) -> Q:
    """Rows after ``values`` in the segment's order. The first field is also a plain range
    condition, so each database starts its index scan there instead of at the beginning."""
    *firsts, last = segment.keyset
    more, less = ("lt", "lte") if segment.descending else ("gt", "gte")
    if not firsts:
        return Q(**{f"{last}__{more}": values[0]})
    (first,) = firsts
    return Q(**{f"{first}__{less}": values[0]}) & (
        Q(**{f"{first}__{more}": values[0]}) | Q(**{f"{last}__{more}": values[1]})
    )


# --- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a user may see in the inbox: brands (id → brand) and their own teams there."""

    brands: dict[int, Brand]
    team_ids: tuple[int, ...]
    default_view: str


def scope_for(user: Any) -> Scope:
    visible = brand_ids_with(user, Capability.VIEW_CONVERSATIONS)
    brands = Brand.objects.filter(is_active=True).order_by("name")
    if visible is not None:
        brands = brands.filter(pk__in=visible)
    by_id = {brand.pk: brand for brand in brands}
    team_ids = tuple(
        Team.objects.filter(
            memberships__user=user, brand_id__in=list(by_id), is_active=True
        ).values_list("pk", flat=True)
    )
    workable = brand_ids_with(user, Capability.WORK_CONVERSATIONS)
    # People who work cases start on their own; readers (client viewers) and installation
    # administrators, who are rarely assigned anything, start on everything they may see.
    default_view = "mine" if workable else "all"
    return Scope(by_id, team_ids, default_view)


def _brand_ids(scope: Scope, inbox_filter: InboxFilter) -> list[int]:
    if not inbox_filter.brands:
        return list(scope.brands)
    return [pk for pk, brand in scope.brands.items() if brand.slug in inbox_filter.brands]


def _leads(user: Any, view: str, scope: Scope, brand_ids: list[int]) -> list[Q]:
    """One condition per index scan: the view's leading column and its value."""
    if view == "mine":
        return [Q(assignee_id=user.pk)] if getattr(user, "pk", None) else []
    if view == "teams":
        return [Q(team_id=team_id) for team_id in scope.team_ids]
    if view == "unassigned":
        return [Q(brand_id=brand_id, assignee__isnull=True) for brand_id in brand_ids]
    return [Q(brand_id=brand_id) for brand_id in brand_ids]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _conditions(user: Any, inbox_filter: InboxFilter, brand_ids: list[int]) -> Q:
    """Every condition of the filter except the view's leading column and the sort."""
    condition = Q(brand_id__in=brand_ids)
    statuses = inbox_filter.status_set
    if inbox_filter.open_work_only:
        condition &= Q(OPEN_WORK)
    if statuses != FILTER_OPEN_WORK and statuses != frozenset(STATUSES):
        condition &= Q(status__in=sorted(statuses))
    if inbox_filter.priorities:
        condition &= Q(priority__in=inbox_filter.priorities)
    if inbox_filter.channels:
        condition &= Q(channel__in=inbox_filter.channels)
    if inbox_filter.teams:
        condition &= Q(team_id__in=inbox_filter.teams)
    if inbox_filter.languages:
        condition &= Q(language__in=inbox_filter.languages)
    if inbox_filter.assignees:
        ids = [
            user.pk if value == "me" else int(value)
            for value in inbox_filter.assignees
            if value != "none"
        ]
        who = Q(assignee_id__in=ids)
        if "none" in inbox_filter.assignees:
            who |= Q(assignee__isnull=True)
        condition &= who
    if inbox_filter.tags:
        condition &= Q(
            Exists(
                ConversationTag.objects.filter(
                    conversation_id=OuterRef("pk"), tag__name__in=inbox_filter.tags
                )
            )
        )
    if inbox_filter.sla:
        now = timezone.now()
        states = {
            "overdue": Q(sla_due_at__lte=now),
            "soon": Q(sla_due_at__gt=now, sla_due_at__lte=now + SOON),
            "later": Q(sla_due_at__gt=now + SOON),
            "none": Q(sla_due_at__isnull=True),
        }
        either = Q()
        for state in inbox_filter.sla:
            either |= states[state]
        condition &= either
    for field, start, end in (
        ("created_at", inbox_filter.created_from, inbox_filter.created_to),
        ("updated_at", inbox_filter.updated_from, inbox_filter.updated_to),
    ):
        if start is not None:
            condition &= Q(**{f"{field}__gte": _day_start(start)})
        if end is not None:
            condition &= Q(**{f"{field}__lt": _day_start(end + timedelta(days=1))})
    return condition


# --- pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowConversation:
    """What an inbox row shows of a conversation, read as plain values.

    Not a model: turning a row's conversation, brand, customer, assignee and team into five
    model objects cost several times the query itself (``bench/workspace.py --timers "/"``
    times ``rows_for``; ``--diagnose`` the statement).
    """

    pk: int
    brand_slug: str
    number_prefix: str
    number: int
    customer_name: str
    customer_crn: str
    subject: str
    last_message_preview: str
    channel: str
    status: str
    priority: str
    assignee_name: str
    team_name: str
    last_message_at: datetime

    @property
    def reference(self) -> str:
        return f"{self.number_prefix}-{self.number}"

    @property
    def crn_display(self) -> str:
        return crn_scheme.display(self.customer_crn)


@dataclass
class InboxRow:
    conversation: RowConversation
    unread: bool
    sla_timer: Deadline | None
    # Tag names, alphabetical.
    tags: list[str]


@dataclass
class InboxPage:
    view: str
    filter: InboxFilter
    sort: str
    rows: list[InboxRow]
    next_cursor: str | None
    is_first: bool


def _read_keys(
    user: Any,
    view: str,
    inbox_filter: InboxFilter,
    scope: Scope,
    after: str | None,
    limit: int,
) -> tuple[list[tuple[int, int, tuple[Any, ...]]], bool]:
    """Up to ``limit`` + 1 rows as (segment, id, sort values), in order."""
    sort = inbox_filter.effective_sort
    segments = segments_for(sort)
    brand_ids = _brand_ids(scope, inbox_filter)
    leads = _leads(user, view, scope, brand_ids)
    if not leads or not brand_ids:
        return [], True
    base = Conversation.objects.filter(_conditions(user, inbox_filter, brand_ids))
    start = decode_cursor(after, sort)
    first_segment, values = start if start is not None else (0, None)
    found: list[tuple[int, int, tuple[Any, ...]]] = []
    for index in range(first_segment, len(segments)):
        segment = segments[index]
        wanted = limit + 1 - len(found)
        rows = base.filter(segment.condition)
        if index == first_segment and values is not None:
            rows = rows.filter(_after(segment, values))
        order = [f"-{name}" if segment.descending else name for name in segment.order]
        per_lead = [
            list(rows.filter(lead).order_by(*order).values_list(*segment.keyset)[:wanted])
            for lead in leads
        ]
        merged = heapq.merge(*per_lead, reverse=segment.descending)
        for keys in list(merged)[:wanted]:
            found.append((index, keys[-1], tuple(keys)))
        if len(found) > limit:
            break
    return found, start is None


def inbox_page(
    user: Any,
    view: str,
    inbox_filter: InboxFilter,
    *,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    scope: Scope | None = None,
) -> InboxPage:
    """One page of a view: the rows with everything a row shows, and the next page's cursor.

    Costs one query per index scan (one per brand or team of the view, per sort segment read),
    one for the rows, one for their tags, one for read markers and one for SLA badges,
    whatever the number of rows.
    """
    scope = scope or scope_for(user)
    view = view if view in VIEWS else scope.default_view
    sort = inbox_filter.effective_sort
    keys, is_first = _read_keys(user, view, inbox_filter, scope, after, limit)
    next_cursor = None
    if len(keys) > limit:
        segment, _id, values = keys[limit - 1]
        next_cursor = encode_cursor(sort, segment, values)
        keys = keys[:limit]
    ids = [pk for _segment, pk, _values in keys]
    return InboxPage(view, inbox_filter, sort, rows_for(user, ids), next_cursor, is_first)


_ROW_COLUMNS = (
    "id",
    "brand__slug",
    "brand__number_prefix",
    "number",
    "customer__name",
    "customer__crn",
    "subject",
    "last_message_preview",
    "channel",
    "status",
    "priority",
    "assignee__full_name",
    "assignee__email",
    "team__name",
    "last_message_at",
)


def rows_for(user: Any, ids: list[int]) -> list[InboxRow]:
    """The rows of conversations ``ids`` (already scoped), in that order: four queries."""
    if not ids:
        return []
    unnamed = str(_("Customer without a name"))
    conversations = {}
    for (
        pk,
        brand_slug,
        number_prefix,
        number,
        customer_name,
        customer_crn,
        subject,
        preview,
        channel,
        status,
        priority,
        assignee_name,
        assignee_email,
        team_name,
        last_message_at,
    ) in Conversation.objects.filter(pk__in=ids).order_by().values_list(*_ROW_COLUMNS):
        # (No ORDER BY: the rows are put in the page's order below; the model's default
        # ordering only added a sort.)
        conversations[pk] = RowConversation(
            pk=pk,
            brand_slug=brand_slug,
            number_prefix=number_prefix,
            number=number,
            customer_name=customer_name or unnamed,
            customer_crn=customer_crn,
            subject=subject,
            last_message_preview=preview,
            channel=channel,
            status=status,
            priority=priority,
            # As User.__str__ says it; empty when nobody is assigned.
            assignee_name=assignee_name or assignee_email or "",
            team_name=team_name or "",
            last_message_at=last_message_at,
        )
    tags: dict[int, list[str]] = {}
    for conversation_id, name in (
        ConversationTag.objects.filter(conversation_id__in=ids)
        .order_by("tag__name")
        .values_list("conversation_id", "tag__name")
    ):
        tags.setdefault(conversation_id, []).append(name)
    read = dict(
        ConversationRead.objects.filter(user_id=user.pk, conversation_id__in=ids).values_list(
            "conversation_id", "read_at"
        )
    )
    deadlines = next_deadlines_for(ids, viewer=user)
    rows = []
    for pk in ids:
        conversation = conversations.get(pk)
        if conversation is None:
            continue
        read_at = read.get(pk)
        rows.append(
            InboxRow(
                conversation,
                unread=read_at is None or conversation.last_message_at > read_at,
                sla_timer=deadlines.get(pk),
                tags=tags.get(pk, []),
            )
        )
    return rows


def row_for(
    user: Any, view: str, inbox_filter: InboxFilter, conversation_id: int
) -> InboxRow | None:
    """The row of one conversation if it belongs in the view as filtered, else None.

    ``Conversation.DoesNotExist`` when the user may not see it at all (the caller answers 404).
    """
    scope = scope_for(user)
    if not Conversation.objects.filter(
        pk=conversation_id, brand_id__in=list(scope.brands)
    ).exists():
        raise Conversation.DoesNotExist("No such conversation")
    view = view if view in VIEWS else scope.default_view
    brand_ids = _brand_ids(scope, inbox_filter)
    leads = _leads(user, view, scope, brand_ids)
    if not leads or not brand_ids:
        return None
    either = Q()
    for lead in leads:
        either |= lead
    matches = (
        Conversation.objects.filter(_conditions(user, inbox_filter, brand_ids))
        .filter(either, pk=conversation_id)
        .exists()
    )
    if not matches:
        return None
    rows = rows_for(user, [conversation_id])
    return rows[0] if rows else None


# --- counts, saved views, people -----------------------------------------------------------


@dataclass(frozen=True)
class ViewCount:
    view: str
    count: int
    capped: bool


def _count_scans(
    user: Any, view: str, scope: Scope, brand_ids: list[int]
) -> list[tuple[str, list[Any]]]:
    """The index scans of a view's count as SQL conditions, as :func:`_leads` reads its rows."""
    if view == "mine":
        user_id = getattr(user, "pk", None)
        if user_id is None or not brand_ids:
            return []
        brands = ", ".join(["%s"] * len(brand_ids))
        return [(f"assignee_id = %s AND brand_id IN ({brands})", [user_id, *brand_ids])]
    if view == "teams":
        # The scope lists only teams of brands the user sees, and a conversation's team is of
        # its own brand (the actions refuse another's), so the team's index answers alone;
        # with a brand term every entry would mean reading its conversation.
        return [("team_id = %s", [team_id]) for team_id in scope.team_ids]
    if view == "unassigned":
        return [("brand_id = %s AND assignee_id IS NULL", [brand_id]) for brand_id in brand_ids]
    return [("brand_id = %s", [brand_id]) for brand_id in brand_ids]


def view_counts(user: Any, *, scope: Scope | None = None) -> dict[str, ViewCount]:
    """Open work in each view, counted up to :data:`COUNT_CAP`, in one statement."""
    scope = scope or scope_for(user)
    brand_ids = sorted(scope.brands)
    if connection.vendor == "postgresql":
        totals = _counted_on_postgresql(user, scope, brand_ids)
    else:
        totals = _counted_by_index_scans(user, scope, brand_ids)
    return {
        view: ViewCount(view, min(total, COUNT_CAP), total > COUNT_CAP)
        for view, total in totals.items()
    }


def _counted_by_index_scans(user: Any, scope: Scope, brand_ids: list[int]) -> dict[str, int]:
    """SQLite's counts: each index scan one capped count (a view over two brands or teams, two),
    all of them subqueries of a single SELECT: built by the ORM they were one query each, and
    compiling them cost more than reading the indexes. Each is in deadline order although a count
    needs none: that is the order of the view's partial index, which SQLite then reads (a few
    hundred entries), where its statistics would otherwise pick the (brand, status) index and
    read every open case of the brand.
    """
    table = Conversation._meta.db_table
    columns: list[str] = []
    params: list[Any] = []
    owners: list[str] = []
    for view in VIEWS:
        for condition, values in _count_scans(user, view, scope, brand_ids):
            columns.append(
                # Table, conditions and cap are this module's constants; values are parameters.
                f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {OPEN_WORK.sql}"  # noqa: S608
                f" AND {condition} ORDER BY sla_due_at, id LIMIT {COUNT_CAP + 1})"
                f" AS scan{len(columns)})"
            )
            params.extend(values)
            owners.append(view)
    totals = dict.fromkeys(VIEWS, 0)
    if columns:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)}", params)
            for view, count in zip(owners, cursor.fetchone(), strict=True):
                totals[view] += count
    return totals


# PostgreSQL's counts: one statement for every user, its lists as arrays, prepared on each
# connection and planned once (core/prepared.py; planning the index scans one by one had cost
# several times running them). PostgreSQL reads each view's partial index for a list of brands
# or teams without being told the index's order, so each view is one scan.
_POSTGRESQL_COUNT_SCANS = {
    "mine": "assignee_id = %s AND brand_id = ANY(%s::bigint[])",
    "unassigned": "assignee_id IS NULL AND brand_id = ANY(%s::bigint[])",
    # The scope lists only teams of brands the user sees (see _count_scans).
    "teams": "team_id = ANY(%s::bigint[])",
    "all": "brand_id = ANY(%s::bigint[])",
}
# This module's constants; the values are parameters.
_POSTGRESQL_COUNTS = "SELECT " + ", ".join(  # noqa: S608
    f"(SELECT COUNT(*) FROM (SELECT 1 FROM {Conversation._meta.db_table}"  # noqa: S608
    f" WHERE {OPEN_WORK.sql} AND {condition} LIMIT {COUNT_CAP + 1}) AS {view}_scan)"
    for view, condition in _POSTGRESQL_COUNT_SCANS.items()
)


def _counted_on_postgresql(user: Any, scope: Scope, brand_ids: list[int]) -> dict[str, int]:
    # Every number as a bigint: psycopg sends each int as the smallest type that holds it and
    # prepares a statement per set of types, so small and large ids would not share one.
    from psycopg.types.numeric import Int8

    user_id = getattr(user, "pk", None)
    brands = [Int8(brand_id) for brand_id in brand_ids]
    parameters: dict[str, list[Any]] = {
        # An anonymous actor owns nothing: -1 is no user's id.
        "mine": [Int8(-1 if user_id is None else user_id), brands],
        "unassigned": [brands],
        "teams": [[Int8(team_id) for team_id in sorted(scope.team_ids)]],
        "all": [brands],
    }
    (row,) = prepared.fetch_all(
        connection,
        _POSTGRESQL_COUNTS,
        [value for view in _POSTGRESQL_COUNT_SCANS for value in parameters[view]],
    )
    return dict(zip(_POSTGRESQL_COUNT_SCANS, row, strict=True))


def saved_views_for(user: Any, *, scope: Scope | None = None) -> QuerySet[SavedView]:
    """The user's own views and those shared with their teams."""
    scope = scope or scope_for(user)
    return (
        SavedView.objects.filter(Q(owner_id=user.pk) | Q(team_id__in=scope.team_ids))
        .select_related("team", "owner")
        .order_by("position", "name", "id")
    )


def saved_view_for(user: Any, saved_view_id: int) -> SavedView:
    """One saved view the user may see; ``SavedView.DoesNotExist`` otherwise."""
    return saved_views_for(user).get(pk=saved_view_id)


def teams_for(user: Any, *, scope: Scope | None = None) -> QuerySet[Team]:
    """The teams of the brands the user may see (for the filter and for bulk assignment)."""
    scope = scope or scope_for(user)
    return Team.objects.filter(brand_id__in=list(scope.brands), is_active=True).order_by(
        "brand__name", "name"
    )


def assignable_people_for(user: Any, *, scope: Scope | None = None) -> QuerySet[User]:
    """Staff who work conversations in the brands the user may see."""
    scope = scope or scope_for(user)
    roles = [
        role
        for role, capabilities in ROLE_CAPABILITIES.items()
        if Capability.WORK_CONVERSATIONS in capabilities
    ]
    return (
        User.objects.filter(
            is_active=True,
            memberships__brand_id__in=list(scope.brands),
            memberships__role__in=roles,
        )
        .distinct()
        .order_by("full_name", "email")
    )


def conversations_for_bulk(user: Any, ids: Iterable[int]) -> list[Conversation]:
    """The selected conversations the user may see, in the order selected; others are dropped."""
    wanted = list(dict.fromkeys(ids))
    found = {
        conversation.pk: conversation
        for conversation in conversations_visible_to(user).filter(pk__in=wanted)
    }
    return [found[pk] for pk in wanted if pk in found]
