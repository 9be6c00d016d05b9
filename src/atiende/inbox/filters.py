"""The inbox's filter, read from and written back to a query string. Plain Python, no Django.

A bad value (an unknown status, a date that is not one) is dropped and reported as a notice the
page shows; it never fails the request. The same dictionary form is what a saved view stores, so
a saved view, a link and the page's own form all describe a filter the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from atiende.conversations.lifecycle import UNSOLVED, Status

VIEWS = ("mine", "unassigned", "teams", "all")
SORTS = ("due", "updated", "created", "priority")
# The lifecycle's own (plain Python, like this module): the inbox's statuses cannot drift from
# the partial indexes built from the same constants.
OPEN_WORK = frozenset(status.value for status in UNSOLVED)
STATUSES = tuple(status.value for status in Status)
# "any" in the address: every status, closed ones too. No status at all means open work.
ANY_STATUS = "any"
PRIORITIES = ("urgent", "high", "normal", "low")
SLA_STATES = ("overdue", "soon", "later", "none")
# Sorting by deadline or priority only means something for open work, where clocks run.
OPEN_WORK_SORTS = frozenset({"due", "priority"})
MULTI_KEYS = (
    "brand",
    "status",
    "priority",
    "channel",
    "team",
    "assignee",
    "tag",
    "language",
    "sla",
)
DATE_KEYS = ("created_from", "created_to", "updated_from", "updated_to")
MAX_VALUES = 50


@dataclass(frozen=True)
class Notice:
    """A part of the address that was ignored, and why (shown to the user, translated there)."""

    key: str
    value: str
    reason: str  # "unknown" | "invalid" | "sort_needs_open_work" | "too_many"


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows. Empty tuples mean "no condition"; ``statuses`` empty means open work.

    ``assignees`` holds user ids as text, or "none" (unassigned); "me" is resolved by the query.
    """

    brands: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    teams: tuple[int, ...] = ()
    assignees: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sla: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    sort: str = ""

    @property
    def status_set(self) -> frozenset[str]:
        """The statuses shown: open work by default, every status for "any"."""
        if not self.statuses:
            return OPEN_WORK
        if ANY_STATUS in self.statuses:
            return frozenset(STATUSES)
        return frozenset(self.statuses)

    @property
    def open_work_only(self) -> bool:
        return self.status_set <= OPEN_WORK

    @property
    def effective_sort(self) -> str:
        """The sort chosen, else the SLA deadline for open work and latest update otherwise."""
        if self.sort:
            return self.sort
        return "due" if self.open_work_only else "updated"

    @property
    def is_default(self) -> bool:
        return self == InboxFilter()


@dataclass
class ParsedQuery:
    view: str
    filter: InboxFilter
    notices: list[Notice] = field(default_factory=list)


def _values(params: Mapping[str, Any], key: str) -> list[str]:
    """Every value of ``key``: a QueryDict's list, a plain dict's value or list; commas split."""
    getlist = getattr(params, "getlist", None)
    raw = getlist(key) if getlist is not None else params.get(key, [])
    if isinstance(raw, str):
        raw = [raw]
    found: list[str] = []
    for item in raw or []:
        found.extend(part.strip() for part in str(item).split(",") if part.strip())
    return found


def _choose(
    key: str, values: Iterable[str], allowed: Iterable[str], notices: list[Notice]
) -> tuple[str, ...]:
    allowed = tuple(allowed)
    chosen: list[str] = []
    for value in values:
        if value not in allowed:
            notices.append(Notice(key, value, "unknown"))
        elif value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def _free_text(
    key: str, values: list[str], notices: list[Notice], *, limit: int
) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in values:
        if len(value) > limit:
            notices.append(Notice(key, value[:limit], "invalid"))
        elif value.lower() not in chosen:
            chosen.append(value.lower())
    return tuple(chosen)


def _integers(key: str, values: list[str], notices: list[Notice]) -> tuple[int, ...]:
    chosen: list[int] = []
    for value in values:
        if value.isdigit() and 0 < int(value) < 2**63:
            if int(value) not in chosen:
                chosen.append(int(value))
        else:
            notices.append(Notice(key, value, "invalid"))
    return tuple(chosen)


def _assignees(values: list[str], notices: list[Notice]) -> tuple[str, ...]:
    chosen: list[str] = []
    for value in values:
        normal = value.lower()
        if normal in ("me", "none") or (normal.isdigit() and 0 < int(normal) < 2**63):
            if normal not in chosen:
                chosen.append(normal)
        else:
            notices.append(Notice("assignee", value, "invalid"))
    return tuple(chosen)


def _date(key: str, params: Mapping[str, Any], notices: list[Notice]) -> date | None:
    values = _values(params, key)
    if not values:
        return None
    try:
        return date.fromisoformat(values[-1])
    except ValueError:
        notices.append(Notice(key, values[-1], "invalid"))
        return None


def parse_query(params: Mapping[str, Any], *, default_view: str = "mine") -> ParsedQuery:
    """Read ``view``, ``sort`` and the filter from a query string (a QueryDict or a dict)."""
    notices: list[Notice] = []
    for key in MULTI_KEYS:
        if len(_values(params, key)) > MAX_VALUES:
            notices.append(Notice(key, "", "too_many"))
    limited = {key: _values(params, key)[:MAX_VALUES] for key in MULTI_KEYS}
    view_values = _values(params, "view")
    view = default_view
    if view_values:
        if view_values[-1] in VIEWS:
            view = view_values[-1]
        else:
            notices.append(Notice("view", view_values[-1], "unknown"))
    sort_values = _values(params, "sort")
    sort = ""
    if sort_values:
        if sort_values[-1] in SORTS:
            sort = sort_values[-1]
        else:
            notices.append(Notice("sort", sort_values[-1], "unknown"))
    statuses = _choose("status", limited["status"], (*STATUSES, ANY_STATUS), notices)
    if ANY_STATUS in statuses:
        statuses = (ANY_STATUS,)
    inbox_filter = InboxFilter(
        brands=_free_text("brand", limited["brand"], notices, limit=50),
        statuses=statuses,
        priorities=_choose("priority", limited["priority"], PRIORITIES, notices),
        channels=_free_text("channel", limited["channel"], notices, limit=32),
        teams=_integers("team", limited["team"], notices),
        assignees=_assignees(limited["assignee"], notices),
        tags=_free_text("tag", limited["tag"], notices, limit=64),
        languages=_free_text("language", limited["language"], notices, limit=8),
        sla=_choose("sla", limited["sla"], SLA_STATES, notices),
        created_from=_date("created_from", params, notices),
        created_to=_date("created_to", params, notices),
        updated_from=_date("updated_from", params, notices),
        updated_to=_date("updated_to", params, notices),
        sort=sort,
    )
    if sort in OPEN_WORK_SORTS and not inbox_filter.open_work_only:
        notices.append(Notice("sort", sort, "sort_needs_open_work"))
        inbox_filter = replace(inbox_filter, sort="")
    return ParsedQuery(view, inbox_filter, notices)


def filter_to_dict(inbox_filter: InboxFilter) -> dict[str, Any]:
    """The filter as JSON-ready data (what a saved view stores); empty conditions left out."""
    data: dict[str, Any] = {}
    for key, name in (
        ("brand", "brands"),
        ("status", "statuses"),
        ("priority", "priorities"),
        ("channel", "channels"),
        ("team", "teams"),
        ("assignee", "assignees"),
        ("tag", "tags"),
        ("language", "languages"),
        ("sla", "sla"),
    ):
        values = getattr(inbox_filter, name)
        if values:
            data[key] = [str(value) for value in values]
    for key in DATE_KEYS:
        value = getattr(inbox_filter, key)
        if value is not None:
            data[key] = value.isoformat()
    if inbox_filter.sort:
        data["sort"] = inbox_filter.sort
    return data


def filter_from_dict(data: Mapping[str, Any]) -> InboxFilter:
    """A stored filter read back; whatever no longer parses is dropped."""
    return parse_query(data).filter


def query_items(view: str, inbox_filter: InboxFilter) -> list[tuple[str, str]]:
    """(key, value) pairs for an address: the view first, then the filter's conditions."""
    items = [("view", view)]
    for key, value in filter_to_dict(inbox_filter).items():
        if isinstance(value, list):
            items.extend((key, item) for item in value)
        else:
            items.append((key, value))
    return items
