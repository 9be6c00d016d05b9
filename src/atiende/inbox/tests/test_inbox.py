"""The inbox at /: views, filters, sorts, keyset pages, counts, the live row, scoping, cost."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atiende.accounts.actions import add_team_member
from atiende.conversations.actions import receive_customer_message, start_conversation
from atiende.core.testing import query_plan
from atiende.inbox import queries
from atiende.inbox.actions import mark_read
from atiende.inbox.filters import InboxFilter, parse_query
from atiende.inbox.models import ConversationRead
from atiende.inbox.queries import encode_cursor, inbox_page, view_counts
from atiende.inbox.tests.helpers import imported, set_fields

pytestmark = pytest.mark.django_db


def _refs(page):
    return [row.conversation.reference for row in page.rows]


def _page(user, address, **kwargs):
    parsed = parse_query(QueryDict(address), default_view=queries.scope_for(user).default_view)
    return inbox_page(user, parsed.view, parsed.filter, **kwargs)


@pytest.fixture
def world(brand, customer, system, agent, supervisor, team):
    """SOL-1 mine, SOL-2 unassigned, SOL-3 my team's (a colleague's), SOL-4 mine but closed."""
    add_team_member(team=team, user=agent, actor=system)
    return imported(
        brand,
        customer,
        system,
        {"assignee": agent, "priority": "high", "channel": "email", "tags": ["vip"]},
        {"channel": "chat", "language": "en", "priority": "urgent"},
        {"assignee": supervisor, "team": team, "channel": "phone", "status": "pending"},
        {"assignee": agent, "status": "closed"},
    )


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/"


def test_agent_starts_on_their_own_work_and_is_offered_the_next_unassigned(sign_in, agent):
    response = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.context["page"].view == "mine"
    assert "Nothing assigned to you" in page
    assert 'href="/?view=unassigned"' in page
    assert "Take the next unassigned conversation →" in page


def test_client_viewer_starts_on_everything_they_may_read(sign_in, client_viewer, world):
    response = sign_in(client_viewer).get("/")
    assert response.context["page"].view == "all"
    assert _refs(response.context["page"]) == ["SOL-1", "SOL-2", "SOL-3"]
    # Reading only: no selection boxes, no bulk form.
    assert 'name="conversation"' not in response.content.decode()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("view=mine", {"SOL-1"}),
        ("view=unassigned", {"SOL-2"}),
        ("view=teams", {"SOL-3"}),
        ("view=all", {"SOL-1", "SOL-2", "SOL-3"}),
        ("view=mine&status=any", {"SOL-1", "SOL-4"}),
        ("view=mine&status=closed", {"SOL-4"}),
        ("view=all&status=pending", {"SOL-3"}),
        ("view=all&priority=urgent", {"SOL-2"}),
        ("view=all&priority=urgent&priority=high", {"SOL-1", "SOL-2"}),
        ("view=all&channel=phone", {"SOL-3"}),
        ("view=all&tag=VIP", {"SOL-1"}),
        ("view=all&language=en", {"SOL-2"}),
        ("view=all&assignee=me", {"SOL-1"}),
        ("view=all&assignee=none", {"SOL-2"}),
        ("view=all&brand=tienda", {"SOL-1", "SOL-2", "SOL-3"}),
        ("view=all&brand=telco", set()),
        ("view=all&sla=none", {"SOL-1", "SOL-2", "SOL-3"}),
        ("view=all&sla=overdue", set()),
    ],
)
def test_each_view_and_filter_shows_exactly_its_conversations(agent, world, address, expected):
    assert set(_refs(_page(agent, address))) == expected


def test_team_filter_and_assignee_id_filter(agent, supervisor, team, world):
    assert _refs(_page(agent, f"view=all&team={team.pk}")) == ["SOL-3"]
    assert _refs(_page(agent, f"view=all&assignee={supervisor.pk}")) == ["SOL-3"]


def test_sla_state_filter_reads_the_deadline(agent, world):
    sol1, sol2, sol3, _closed = world
    now = timezone.now()
    set_fields([sol1], sla_due_at=now - timedelta(minutes=5))
    set_fields([sol2], sla_due_at=now + timedelta(minutes=30))
    set_fields([sol3], sla_due_at=now + timedelta(days=2))
    assert _refs(_page(agent, "view=all&sla=overdue")) == ["SOL-1"]
    assert _refs(_page(agent, "view=all&sla=soon")) == ["SOL-2"]
    assert _refs(_page(agent, "view=all&sla=later")) == ["SOL-3"]
    assert _refs(_page(agent, "view=all&sla=overdue&sla=later")) == ["SOL-1", "SOL-3"]


def test_created_and_updated_ranges_are_whole_days(agent, world):
    sol1, sol2, sol3, _closed = world
    set_fields([sol1], created_at=timezone.now() - timedelta(days=10))
    set_fields([sol2], updated_at=timezone.now() - timedelta(days=10))
    set_fields([sol1, sol3], updated_at=timezone.now())
    ten_days_ago = timezone.localdate() - timedelta(days=10)
    assert _refs(_page(agent, f"view=all&created_to={ten_days_ago}")) == ["SOL-1"]
    assert set(_refs(_page(agent, f"view=all&created_from={ten_days_ago}"))) == {
        "SOL-1", "SOL-2", "SOL-3"
    }  # fmt: skip
    assert set(_refs(_page(agent, f"view=all&updated_from={timezone.localdate()}"))) == {
        "SOL-1", "SOL-3"
    }  # fmt: skip


def test_sorts(agent, world):
    sol1, sol2, sol3, _closed = world
    now = timezone.now()
    set_fields([sol1], sla_due_at=now + timedelta(hours=2), updated_at=now - timedelta(hours=1))
    set_fields([sol2], sla_due_at=None, updated_at=now)
    set_fields([sol3], sla_due_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=2))
    # By deadline: overdue first, no deadline last.
    assert _refs(_page(agent, "view=all")) == ["SOL-3", "SOL-1", "SOL-2"]
    assert _refs(_page(agent, "view=all&sort=updated")) == ["SOL-2", "SOL-1", "SOL-3"]
    assert _refs(_page(agent, "view=all&sort=created")) == ["SOL-3", "SOL-2", "SOL-1"]
    # Urgent (SOL-2), high (SOL-1), normal (SOL-3).
    assert _refs(_page(agent, "view=all&sort=priority")) == ["SOL-2", "SOL-1", "SOL-3"]


@pytest.mark.parametrize("sort", ["due", "updated", "created", "priority"])
def test_keyset_pages_cover_every_row_once_even_with_ties(
    brand, customer, system, agent, team, sort
):
    add_team_member(team=team, user=agent, actor=system)
    rows = imported(
        brand,
        customer,
        system,
        *[
            {"priority": ("urgent", "normal", "low")[index % 3], "team": team}
            for index in range(23)
        ],
    )
    same = timezone.now().replace(microsecond=0)
    # Ties everywhere: one deadline, one update time and one start time shared by many rows,
    # a few rows without deadline.
    set_fields(rows[:10], sla_due_at=same, updated_at=same, created_at=same)
    set_fields(rows[10:18], sla_due_at=same + timedelta(hours=1))
    everything = _refs(_page(agent, f"view=teams&sort={sort}", limit=100))
    assert len(everything) == 23

    for view in ("teams", "all"):
        seen = []
        cursor = None
        for _ in range(10):
            page = _page(agent, f"view={view}&sort={sort}", after=cursor, limit=5)
            seen.extend(_refs(page))
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == everything


def test_pages_through_the_page_links(sign_in, brand, customer, system, agent):
    imported(brand, customer, system, *[{"assignee": agent} for _ in range(55)])
    client = sign_in(agent)
    first = client.get("/")
    assert len(first.context["page"].rows) == 50
    cursor = first.context["page"].next_cursor
    assert cursor
    assert 'rel="next"' in first.content.decode()
    second = client.get("/", {"view": "mine", "cursor": cursor})
    assert len(second.context["page"].rows) == 5
    assert second.context["page"].next_cursor is None
    first_refs = set(_refs(first.context["page"]))
    assert first_refs.isdisjoint(_refs(second.context["page"]))


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "eyJhIjoxfQ", encode_cursor("updated", 0, [timezone.now(), 1]) + "x", "a" * 5000],
)
def test_a_tampered_or_foreign_cursor_gives_the_first_page(sign_in, agent, world, cursor):
    response = sign_in(agent).get("/", {"view": "all", "cursor": cursor})
    assert response.status_code == 200
    assert response.context["page"].is_first
    assert _refs(response.context["page"]) == ["SOL-1", "SOL-2", "SOL-3"]


def test_a_cursor_made_for_another_sort_gives_the_first_page(agent, world):
    cursor = encode_cursor("updated", 0, [timezone.now(), 1])
    page = _page(agent, "view=all&sort=due", after=cursor)
    assert page.is_first
    assert len(page.rows) == 3


def test_counts_per_view_are_open_work_and_capped(sign_in, agent, world, monkeypatch):
    counts = view_counts(agent)
    assert {view: count.count for view, count in counts.items()} == {
        "mine": 1, "unassigned": 1, "teams": 1, "all": 3
    }  # fmt: skip
    assert not any(count.capped for count in counts.values())

    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    capped = view_counts(agent)["all"]
    assert (capped.count, capped.capped) == (2, True)
    page = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="inbox-count" title="Open conversations">2+</span>' in page


def test_unread_until_opened_and_again_after_a_new_customer_message(agent, system, conversation):
    assign = {"assignee": agent}
    set_fields([conversation], **assign)
    (row,) = _page(agent, "view=mine").rows
    assert row.unread

    mark_read(conversation=conversation, actor=agent)
    (row,) = _page(agent, "view=mine").rows
    assert not row.unread

    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="¿Alguna novedad?"
    )
    (row,) = _page(agent, "view=mine").rows
    assert row.unread
    assert row.conversation.last_message_preview == "¿Alguna novedad?"

    mark_read(conversation=conversation, actor=agent)  # opened again: the same marker moves on
    (row,) = _page(agent, "view=mine").rows
    assert not row.unread
    assert ConversationRead.objects.filter(user=agent, conversation=conversation).count() == 1


def test_unread_rows_are_marked_for_eyes_and_screen_readers(sign_in, agent, world):
    sol1 = world[0]
    mark_read(conversation=sol1, actor=agent)
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count('class="inbox-row is-unread"') == 2
    assert page.count('<span class="visually-hidden">Unread: </span>') == 2


def test_row_shows_everything_a_row_needs(sign_in, system, agent, world):
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    sol1 = world[0]
    assert f'<tr data-conversation-id="{sol1.pk}"' in page
    assert 'href="/c/tienda/1/"' in page
    assert "Carmen Cliente" in page
    assert sol1.customer.crn_display in page
    assert "Caso 0" in page
    assert "Mensaje 0" in page
    assert 'icons.svg#mail"' in page
    assert '<span class="badge badge--open">Open</span>' in page
    assert '<span class="priority priority--high">High</span>' in page
    assert "Alba Agente" in page
    assert '<span class="tag">vip</span>' in page
    assert "<time datetime=" in page
    assert f'aria-label="Select {sol1.reference}"' in page
    assert "<tbody data-live-inbox" in page


def test_bad_filter_values_are_named_on_the_page_not_fatal(sign_in, agent, world):
    response = sign_in(agent).get(
        "/?view=all&status=lost&created_from=ayer&sort=due&team=x", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "“lost” is not a valid value for “status” and was ignored." in page
    assert "“ayer” is not a valid value for “created_from” and was ignored." in page
    assert len(response.context["page"].rows) == 3


def test_the_row_endpoint_answers_a_row_no_content_or_not_found(
    sign_in, agent, world, other_conversation
):
    client = sign_in(agent)
    sol1, _sol2, _sol3, closed = world
    response = client.get(f"/inbox/row/{sol1.pk}/?view=all")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith(f'<tr data-conversation-id="{sol1.pk}"')
    assert "SOL-1" in body
    # Visible but not in this view as filtered.
    assert client.get(f"/inbox/row/{closed.pk}/?view=all").status_code == 204
    assert client.get(f"/inbox/row/{sol1.pk}/?view=unassigned").status_code == 204
    assert client.get(f"/inbox/row/{sol1.pk}/?view=all&channel=chat").status_code == 204
    # Another brand's conversation does not exist for this agent.
    assert client.get(f"/inbox/row/{other_conversation.pk}/?view=all").status_code == 404
    assert client.get("/inbox/row/999999/").status_code == 404


def test_outsider_never_sees_the_other_brand(sign_in, outsider, world, other_conversation):
    client = sign_in(outsider)
    for view in ("mine", "unassigned", "teams", "all"):
        response = client.get("/", {"view": view, "status": "any", "brand": "tienda"})
        page = response.content.decode()
        assert "SOL-" not in page
        assert "Carmen" not in page
    everything = client.get("/", {"view": "all", "status": "any"})
    assert _refs(everything.context["page"]) == ["TEL-1"]
    assert "Carmen" not in everything.content.decode()
    assert view_counts(outsider)["all"].count == 1


def test_superuser_sees_every_brand(sign_in, superuser, world, other_conversation):
    response = sign_in(superuser).get("/")
    assert response.context["page"].view == "all"
    assert set(_refs(response.context["page"])) == {"SOL-1", "SOL-2", "SOL-3", "TEL-1"}


def test_hostile_text_in_subject_and_preview_is_escaped(sign_in, system, agent, brand, customer):
    hostile = start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject='<script>alert("subject")</script>',
        body_text='<img src=x onerror="alert(1)">',
    )
    client = sign_in(agent)
    page = client.get("/?view=all").content.decode()
    row = client.get(f"/inbox/row/{hostile.pk}/?view=all").content.decode()
    for html in (page, row):
        assert '<script>alert("subject")' not in html
        assert "<img src=x onerror" not in html
        assert "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;" in html


def _queries_for(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


VIEW_SPECS = {
    "mine": lambda agent, team: {"assignee": agent},
    "unassigned": lambda agent, team: {"team": team},
    "teams": lambda agent, team: {"team": team, "assignee": agent},
    "all": lambda agent, team: {},
}


@pytest.mark.parametrize("view", sorted(VIEW_SPECS))
@pytest.mark.parametrize("extra", ["", "&sort=priority", "&status=any&format=csv"])
def test_each_view_costs_the_same_queries_for_5_or_30_rows(
    sign_in, brand, customer, system, agent, team, view, extra
):
    add_team_member(team=team, user=agent, actor=system)
    spec = VIEW_SPECS[view](agent, team)
    client = sign_in(agent)
    path = f"/?view={view}{extra}"
    rows = imported(brand, customer, system, *[{**spec, "tags": ["a", "b"]} for _ in range(5)])
    set_fields(rows[:2], sla_due_at=timezone.now())
    with_five = _queries_for(client, path)

    more = imported(brand, customer, system, *[{**spec, "tags": ["c"]} for _ in range(25)])
    set_fields(more[:10], sla_due_at=timezone.now())
    response = client.get(path)
    assert response.content.decode("utf-8").count("SOL-") >= 30
    assert _queries_for(client, path) == with_five
    assert with_five <= 30


def test_csv_download_of_the_current_view(sign_in, agent, world):
    response = sign_in(agent).get("/?view=all&format=csv", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="atiende-conversations-all-'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert rows[0][:4] == ["Reference", "Customer", "CRN", "Subject"]
    assert [row[0] for row in rows[1:]] == ["SOL-1", "SOL-2", "SOL-3"]
    mine = sign_in(agent).get("/?view=mine&status=any&format=csv")
    assert [row[0] for row in csv.reader(io.StringIO(mine.content.decode().lstrip("\ufeff")))][
        1:
    ] == ["SOL-4", "SOL-1"]


def test_inbox_in_spanish(sign_in, agent, world):
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<span class="badge badge--open">Abierta</span>' in page
    assert "Sin asignar" in page
    assert 'lang="es"' in page


def test_empty_views_say_what_to_do(sign_in, agent, system, team):
    client = sign_in(agent)
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert (
        "Every open conversation has an owner"
        in client.get("/?view=unassigned", **english).content.decode()
    )
    assert "You are not in a team yet" in client.get("/?view=teams", **english).content.decode()
    add_team_member(team=team, user=agent, actor=system)
    assert "Nothing open for your teams" in client.get("/?view=teams", **english).content.decode()
    assert "No conversations yet" in client.get("/?view=all", **english).content.decode()
    assert (
        "No conversation matches these filters"
        in client.get("/?view=all&priority=urgent", **english).content.decode()
    )


def test_default_filter_is_recognised(agent):
    assert InboxFilter().is_default


@pytest.mark.parametrize("sort", ["due", "updated", "priority"])
def test_a_view_over_two_brands_merges_them_in_order_page_by_page(
    brand, other_brand, customer, other_customer, system, agent, sort, monkeypatch
):
    from atiende.accounts.actions import grant_brand_role

    grant_brand_role(user=agent, brand=other_brand, role="agent", actor=system)
    ours = imported(brand, customer, system, *[{"priority": "high"} for _ in range(5)])
    theirs = imported(other_brand, other_customer, system, *[{} for _ in range(5)])
    now = timezone.now()
    for index, conversation in enumerate([*ours, *theirs]):
        # Interleaved: SOL-1, TEL-1, SOL-2, TEL-2... by deadline and by update.
        position = (index % 5) * 2 + (index // 5)
        set_fields(
            [conversation],
            sla_due_at=now + timedelta(minutes=position),
            updated_at=now - timedelta(minutes=position),
        )
    seen, cursor = [], None
    for _ in range(6):
        page = _page(agent, f"view=all&sort={sort}", after=cursor, limit=3)
        seen.extend(_refs(page))
        cursor = page.next_cursor
        if cursor is None:
            break
    interleaved = [f"{prefix}-{n}" for n in range(1, 6) for prefix in ("SOL", "TEL")]
    if sort == "priority":
        assert seen == [f"SOL-{n}" for n in range(1, 6)] + [f"TEL-{n}" for n in range(1, 6)]
    else:
        assert seen == interleaved

    assert view_counts(agent)["all"].count == 10
    monkeypatch.setattr(queries, "COUNT_CAP", 7)
    capped = view_counts(agent)["all"]
    assert (capped.count, capped.capped) == (7, True)


@pytest.mark.parametrize(
    "persona", ["agent", "supervisor", "brand_admin", "client_viewer", "outsider", "superuser"]
)
def test_counts_match_the_rows_of_each_view(request, persona, world, other_conversation):
    """The counts (one SQL statement) and the views (the ORM's index scans) agree for everyone."""
    user = request.getfixturevalue(persona)
    counts = view_counts(user)
    for view, count in counts.items():
        page = inbox_page(user, view, InboxFilter(), limit=500)
        assert (view, count.count) == (view, len(page.rows))


def test_on_postgresql_the_counts_are_prepared_and_planned_once(agent, supervisor, world):
    """Planning the counts' thirteen index scans cost PostgreSQL several times running them; the
    statement is the same for everyone, prepared on the connection and kept to one plan."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements and their plans are PostgreSQL's")
    expected = {user.pk: view_counts(user) for user in (agent, supervisor)}
    for _ in range(7):
        for user in (agent, supervisor):
            assert view_counts(user) == expected[user.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM conversations_conversation%"],
        )
        plans = cursor.fetchall()
    # (Two statements when one user's teams are none: psycopg prepares per parameter types.)
    assert plans
    generic = sum(generic for generic, _ in plans)
    custom = sum(custom for _, custom in plans)
    assert custom == 0
    assert generic >= 1


def _conversation_scans(statements):
    """The index scans of a page: the keys of a page of conversations (not the rows' read)."""
    return [
        query["sql"]
        for query in statements.captured_queries
        if 'FROM "conversations_conversation"' in query["sql"]
        and "ORDER BY" in query["sql"]
        and "LIMIT" in query["sql"]
    ]


# The inbox indexes each view's scans may use (models.INBOX_INDEXES).
_VIEW_INDEXES = {
    "mine": ("inbox_mine_", "inbox_any_mine_"),
    "teams": ("inbox_team_", "inbox_any_team_"),
    "all": ("inbox_brand_", "inbox_any_brand_"),
    "unassigned": ("inbox_free_", "inbox_any_brand_"),
}


@pytest.mark.parametrize("view", list(_VIEW_INDEXES))
@pytest.mark.parametrize("sort", ["due", "updated", "created", "priority"])
@pytest.mark.parametrize("status", ["", "&status=any"])
def test_every_view_is_read_by_its_inbox_index_without_sorting(agent, world, view, sort, status):
    """The indexes of "mine" and "my teams" hold only rows with an assignee or a team: the
    planners must see that "assignee = me" and "team = mine" imply it, or they would scan
    another index, or the table, and sort."""
    with CaptureQueriesContext(connection) as statements:
        _page(agent, f"view={view}&sort={sort}{status}")
    scans = _conversation_scans(statements)
    assert scans
    for sql in scans:
        # (Each scan's SQL has its values inlined by Django's last_executed_query.)
        plan = query_plan(sql)
        assert any(index in plan for index in _VIEW_INDEXES[view]), plan
        assert "TEMP B-TREE" not in plan, plan
        assert "Sort" not in plan, plan
