"""The inbox: the agent's first screen, its rows for live updates, bulk actions, saved views.

Views read through ``inbox.queries`` and write through actions (``inbox.actions``,
``inbox.bulk``); what a user may not see answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from atiende.accounts.models import User
from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.channels import registry as channel_registry
from atiende.conversations.models import Conversation, ConversationStatus, Priority
from atiende.inbox import bulk
from atiende.inbox.actions import delete_view, may_delete_view, save_view
from atiende.inbox.filters import (
    ANY_STATUS,
    SLA_STATES,
    SORTS,
    VIEWS,
    InboxFilter,
    Notice,
    ParsedQuery,
    filter_to_dict,
    parse_query,
    query_items,
)
from atiende.inbox.models import SavedView
from atiende.inbox.queries import (
    Scope,
    assignable_people_for,
    conversations_for_bulk,
    inbox_page,
    row_for,
    saved_view_for,
    saved_views_for,
    scope_for,
    teams_for,
    view_counts,
)
from atiende.inbox.rows import render_rows
from atiende.sla.queries import Deadline
from atiende.web.csv_export import csv_download
from atiende.web.templatetags.sla_badges import badge_for

VIEW_LABELS = {
    "mine": pgettext_lazy("inbox view", "Mine"),
    "unassigned": pgettext_lazy("inbox view", "Unassigned"),
    "teams": pgettext_lazy("inbox view", "My teams"),
    "all": pgettext_lazy("inbox view", "All"),
}
SORT_LABELS = {
    "due": gettext_lazy("SLA due"),
    "updated": gettext_lazy("Recently updated"),
    "created": gettext_lazy("Newest"),
    "priority": gettext_lazy("Priority"),
}
SLA_LABELS = {
    "overdue": gettext_lazy("Overdue"),
    "soon": gettext_lazy("Due within an hour"),
    "later": gettext_lazy("Due later"),
    "none": gettext_lazy("No deadline"),
}
# A download reads the view page by page (each page an index scan) up to this many rows.
CSV_ROW_LIMIT = 10_000
CSV_PAGE = 500


class AuthenticatedRequest(HttpRequest):
    user: User


def _notice_text(notice: Notice) -> str:
    if notice.reason == "sort_needs_open_work":
        return _(
            "Sorting by SLA deadline or priority applies to open work only; "
            "the list is sorted by latest update instead."
        )
    if notice.reason == "too_many":
        return _("Too many values for “%(key)s”; only the first ones were used.") % {
            "key": notice.key
        }
    return _("“%(value)s” is not a valid value for “%(key)s” and was ignored.") % {
        "value": notice.value,
        "key": notice.key,
    }


def _query_string(view: str, inbox_filter: InboxFilter) -> str:
    return urlencode(query_items(view, inbox_filter))


def _parsed(request: AuthenticatedRequest, scope: Scope) -> tuple[ParsedQuery, SavedView | None]:
    """The view and filter asked for: a saved view's (``?saved=<id>``), else the address's."""
    saved_id = request.GET.get("saved", "")
    if saved_id:
        try:
            saved = saved_view_for(request.user, int(saved_id))
        except (ValueError, SavedView.DoesNotExist):
            parsed = parse_query(request.GET, default_view=scope.default_view)
            parsed.notices.append(Notice("saved", saved_id, "unknown"))
            return parsed, None
        data = QueryDict(mutable=True)
        for key, value in saved.filter.items():
            if isinstance(value, list):
                data.setlist(key, [str(item) for item in value])
            else:
                data[key] = str(value)
        data["view"] = saved.view
        if saved.sort:
            data["sort"] = saved.sort
        return parse_query(data, default_view=scope.default_view), saved
    return parse_query(request.GET, default_view=scope.default_view), None


@login_required
@require_GET
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    scope = scope_for(request.user)
    parsed, saved = _parsed(request, scope)
    if request.GET.get("format") == "csv":
        return _csv(request, scope, parsed)
    page = inbox_page(
        request.user,
        parsed.view,
        parsed.filter,
        after=request.GET.get("cursor") or None,
        scope=scope,
    )
    query = _query_string(page.view, parsed.filter)
    counts = view_counts(request.user, scope=scope)
    workable = brand_ids_with(request.user, Capability.WORK_CONVERSATIONS)
    may_work = workable is None or bool(workable)
    teams = list(teams_for(request.user, scope=scope).select_related("brand"))
    people = list(assignable_people_for(request.user, scope=scope))
    current = {
        key: value[0] if isinstance(value, list) else value
        for key, value in filter_to_dict(parsed.filter).items()
    }
    context: dict[str, Any] = {
        "page": page,
        "saved": saved,
        "notices": [_notice_text(notice) for notice in parsed.notices],
        "query": query,
        "views": [
            {
                "code": code,
                "label": VIEW_LABELS[code],
                "count": counts[code],
                "current": saved is None and code == page.view,
            }
            for code in VIEWS
        ],
        "saved_views": [
            {"view": view, "deletable": may_delete_view(request.user, view)}
            for view in saved_views_for(request.user, scope=scope)
        ],
        "scope": scope,
        "brands": list(scope.brands.values()),
        "my_teams": [team for team in teams if team.pk in scope.team_ids],
        "filter": parsed.filter,
        # The first value of each condition, for the form's single-choice fields.
        "current": current,
        "options": _options(scope, teams, people, current, parsed.filter.sort),
        "any_status": ANY_STATUS,
        "may_work": may_work,
        "rows_html": render_rows(page.rows, may_work=may_work),
        "has_brands": bool(scope.brands),
    }
    return render(request, "inbox/inbox.html", context)


def _option_tags(choices: Iterable[tuple[Any, Any]], selected: Any = None) -> SafeString:
    """``<option>`` elements of (value, label) pairs, ``selected`` marked; values and labels
    escaped. Written here rather than as template loops: the filter form's eleven lists were
    most of the template's time on every inbox page (``bench/workspace.py --profile "/"``)."""
    chosen = "" if selected is None else str(selected)
    html = "".join(
        f'<option value="{escape(str(value))}"'
        f"{' selected' if str(value) == chosen else ''}>{escape(str(label))}</option>"
        for value, label in choices
    )
    return mark_safe(html)  # noqa: S308 - every value and label is escaped


def _options(
    scope: Scope, teams: list[Any], people: list[User], current: dict[str, Any], sort: str
) -> dict[str, SafeString]:
    """The option lists of the filter and bulk forms, the current filter's values selected."""
    several_brands = len(scope.brands) > 1
    team_label = _("Team")
    return {
        "brand": _option_tags(
            ((brand.slug, brand.name) for brand in scope.brands.values()), current.get("brand")
        ),
        "status": _option_tags(ConversationStatus.choices, current.get("status")),
        "priority": _option_tags(Priority.choices, current.get("priority")),
        "channel": _option_tags(channel_registry.choices(), current.get("channel")),
        "team": _option_tags(
            (
                (team.pk, f"{team.brand.name} · {team.name}" if several_brands else team.name)
                for team in teams
            ),
            current.get("team"),
        ),
        "assignee": _option_tags(
            ((person.pk, person) for person in people), current.get("assignee")
        ),
        "sla": _option_tags(((code, SLA_LABELS[code]) for code in SLA_STATES), current.get("sla")),
        "sort": _option_tags(((code, SORT_LABELS[code]) for code in SORTS), sort),
        "bulk_people": _option_tags((f"user:{person.pk}", person) for person in people),
        "bulk_teams": _option_tags(
            (f"team:{team.pk}", f"{team_label}: {team.name}") for team in teams
        ),
        "bulk_status": _option_tags(ConversationStatus.choices),
    }


def _csv(request: AuthenticatedRequest, scope: Scope, parsed: ParsedQuery) -> HttpResponse:
    """The current view as CSV, every row up to :data:`CSV_ROW_LIMIT` (the home table's columns)."""
    header = [
        _("Reference"),
        _("Customer"),
        _("CRN"),
        _("Subject"),
        _("Last message"),
        _("Channel"),
        _("Status"),
        _("Priority"),
        _("Assignee"),
        _("Team"),
        _("Tags"),
        _("Last activity"),
        _("SLA"),
        _("SLA due"),
    ]
    rows: list[list[Any]] = []
    statuses = {code: str(label) for code, label in ConversationStatus.choices}
    priorities = {code: str(label) for code, label in Priority.choices}
    cursor: str | None = None
    while len(rows) < CSV_ROW_LIMIT:
        page = inbox_page(
            request.user, parsed.view, parsed.filter, after=cursor, limit=CSV_PAGE, scope=scope
        )
        for row in page.rows:
            conversation = row.conversation
            rows.append(
                [
                    conversation.reference,
                    conversation.customer_name,
                    conversation.crn_display,
                    conversation.subject,
                    conversation.last_message_preview,
                    _channel_label(conversation.channel),
                    statuses.get(conversation.status, conversation.status),
                    priorities.get(conversation.priority, conversation.priority),
                    conversation.assignee_name,
                    conversation.team_name,
                    ", ".join(row.tags),
                    timezone.localtime(conversation.last_message_at).isoformat(timespec="minutes"),
                    *_sla_cells(row.sla_timer),
                ]
            )
        cursor = page.next_cursor
        if cursor is None:
            break
    # Translators: part of a downloaded file's name; keep it lower case, ASCII, without spaces.
    name = _("conversations")
    return csv_download(
        f"atiende-{name}-{parsed.view}-{timezone.localdate():%Y-%m-%d}.csv",
        header,
        rows[:CSV_ROW_LIMIT],
    )


def _sla_cells(timer: Deadline | None) -> list[str]:
    """The badge as two cells: "First response: 2 h 13 min left" and the due instant."""
    if timer is None:
        return ["", ""]
    badge = badge_for(timer)
    due = timezone.localtime(timer.due_at).isoformat(timespec="minutes") if timer.due_at else ""
    return [f"{badge.metric}: {badge.text}" if badge.metric else badge.text, due]


def _channel_label(code: str) -> str:
    try:
        return str(channel_registry.get(code).label)
    except LookupError:
        return code


@login_required
@require_GET
def inbox_row(request: AuthenticatedRequest, conversation_id: int) -> HttpResponse:
    """One ``<tr>`` for a conversation that changed, if it belongs in the filtered view (204 if
    not, 404 if the user may not see it). The live inbox calls it with the page's own query."""
    scope = scope_for(request.user)
    parsed = parse_query(request.GET, default_view=scope.default_view)
    try:
        row = row_for(request.user, parsed.view, parsed.filter, conversation_id)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None
    if row is None:
        return HttpResponse(status=204)
    workable = brand_ids_with(request.user, Capability.WORK_CONVERSATIONS)
    return HttpResponse(render_rows([row], may_work=workable is None or bool(workable)))


def _back(request: AuthenticatedRequest) -> HttpResponse:
    """Back to the inbox as it was (the query it was posted from), never to another site."""
    # Re-encoded, so that whatever was posted can only ever be a query string of this page.
    query = urlencode(parse_qsl(request.POST.get("return_query", ""), keep_blank_values=True))
    target = reverse("web:home") + (f"?{query}" if query else "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("web:home")
    return redirect(target)


def _report(request: AuthenticatedRequest, result: bulk.BulkResult) -> None:
    if result.done:
        messages.success(
            request,
            _("Done for %(count)s conversations: %(references)s.")
            % {"count": len(result.done), "references": ", ".join(result.done)},
        )
    for reference, reason in result.failed:
        messages.error(
            request,
            _("%(reference)s was not changed: %(reason)s.")
            % {"reference": reference, "reason": reason},
        )


@login_required
@require_POST
def bulk_action(request: AuthenticatedRequest) -> HttpResponse:
    """Apply one operation to the selected conversations, each through its own action.

    Ids of conversations the user may not see are dropped, as if they did not exist.
    """
    ids = [int(value) for value in request.POST.getlist("conversation") if value.isdigit()]
    selected = conversations_for_bulk(request.user, ids)
    operation = request.POST.get("operation", "")
    if not selected:
        messages.error(request, _("Select at least one conversation first."))
        return _back(request)
    user = request.user
    if operation == "assign":
        target = request.POST.get("assign_to", "")
        if target.startswith("team:"):
            team = _pick(teams_for(user), target.removeprefix("team:"))
            if team is None:
                messages.error(request, _("Choose a team to assign to."))
                return _back(request)
            result = bulk.assign_all(selected, actor=user, team=team)
        elif target in ("me", "nobody"):
            result = bulk.assign_all(
                selected, actor=user, assignee=user if target == "me" else None
            )
        else:
            person = _pick(assignable_people_for(user), target.removeprefix("user:"))
            if person is None:
                messages.error(request, _("Choose someone to assign to."))
                return _back(request)
            result = bulk.assign_all(selected, actor=user, assignee=person)
    elif operation == "status":
        status = request.POST.get("status", "")
        if status not in ConversationStatus.values:
            messages.error(request, _("Choose a status."))
            return _back(request)
        result = bulk.change_status_of_all(selected, actor=user, status=status)
    elif operation == "tag":
        tag = request.POST.get("tag", "").strip()
        if not tag:
            messages.error(request, _("Write the tag to add."))
            return _back(request)
        result = bulk.tag_all(selected, actor=user, tag=tag)
    elif operation == "merge":
        result = bulk.merge_all(selected, actor=user)
    else:
        messages.error(request, _("Choose what to do with the selected conversations."))
        return _back(request)
    _report(request, result)
    return _back(request)


def _pick(rows: Any, value: str) -> Any:
    return rows.filter(pk=int(value)).first() if value.isdigit() else None


@login_required
@require_POST
def save_current_view(request: AuthenticatedRequest) -> HttpResponse:
    """Save the filter the inbox shows (``return_query``) under a name, maybe for a team."""
    scope = scope_for(request.user)
    parsed = parse_query(
        QueryDict(request.POST.get("return_query", "")), default_view=scope.default_view
    )
    team = None
    team_value = request.POST.get("team", "")
    if team_value:
        team = _pick(teams_for(request.user, scope=scope), team_value)
        if team is None or team.pk not in scope.team_ids:
            messages.error(request, _("You can share a view only with a team you belong to."))
            return _back(request)
    try:
        saved = save_view(
            owner=request.user,
            actor=request.user,
            name=request.POST.get("name", ""),
            view=parsed.view,
            inbox_filter=parsed.filter,
            team=team,
        )
    except (ValidationError, PermissionDenied) as error:
        text = (
            " ".join(error.messages)
            if isinstance(error, ValidationError)
            else _("You can share a view only with a team you belong to.")
        )
        messages.error(request, text)
        return _back(request)
    messages.success(request, _("View “%(name)s” saved.") % {"name": saved.name})
    return redirect(f"{reverse('web:home')}?saved={saved.pk}")


@login_required
@require_POST
def delete_saved_view(request: AuthenticatedRequest, saved_view_id: int) -> HttpResponse:
    try:
        saved = saved_view_for(request.user, saved_view_id)
    except SavedView.DoesNotExist:
        raise Http404("No such view") from None
    try:
        delete_view(saved_view=saved, actor=request.user)
    except PermissionDenied:
        messages.error(request, _("Only the person who saved a view can delete it."))
        return redirect("web:home")
    messages.success(request, _("View “%(name)s” deleted.") % {"name": saved.name})
    return redirect("web:home")
