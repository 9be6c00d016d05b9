"""Service levels on screen: the countdown badge, the conversation's panel, the SLA report."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from atiende.accounts.permissions import brand_roles
from atiende.conversations.actions import (
    assign_conversation,
    change_status,
    reply_to_conversation,
    start_conversation,
)
from atiende.sla.actions import save_policy
from atiende.sla.models import PolicyScope, SlaTimer, TimerState
from atiende.sla.queries import next_deadlines_for
from atiende.sla.testing import around_the_clock_policy

pytestmark = pytest.mark.django_db

REPORT = "/reports/sla/"


@pytest.fixture
def first_response_hour(brand, system):
    """Tienda Sol answers every conversation within an hour, around the clock."""
    return around_the_clock_policy(brand, system, first_response=60)


def _start(brand, customer, system, subject, *, minutes_ago=0, **extra):
    return start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject=subject,
        body_text="Hola", created_at=timezone.now() - timedelta(minutes=minutes_ago), **extra,
    )  # fmt: skip


def _url(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _row(page, reference):
    """The inbox table's row of the conversation ``reference``."""
    rows = re.findall(r"<tr[ >].*?</tr>", page, flags=re.S)
    found = [row for row in rows if f">{reference}</a>" in row]
    assert len(found) == 1, reference
    return found[0]


def _sla_fact(page):
    """The SLA item of the conversation page's header facts."""
    match = re.search(r"<dt><abbr[^>]*>SLA</abbr></dt><dd>(.*?)</dd></div>", page, flags=re.S)
    assert match, "no SLA fact in the header"
    return match.group(1)


@pytest.fixture
def every_state(brand, customer, system, agent, first_response_hour):
    """One conversation per badge state, by reference."""
    ok = _start(brand, customer, system, "A tiempo")
    warning = _start(brand, customer, system, "En riesgo", minutes_ago=50)
    breached = _start(brand, customer, system, "Tarde", minutes_ago=120)
    paused = _start(brand, customer, system, "En espera")
    change_status(conversation=paused, status="pending", actor=agent)
    answered = _start(brand, customer, system, "Respondida")
    reply_to_conversation(conversation=answered, actor=agent, body_text="Ya está")
    return {
        "ok": ok,
        "warning": warning,
        "breached": breached,
        "paused": paused,
        "none": answered,  # its only clock has been met: nothing runs
    }


EXPECTED_TEXT = {
    "ok": "1 h left",
    "warning": "10 min left",
    "breached": "overdue 1 h",
    "paused": "Paused",
}


def _assert_badge(html, state, conversation):
    if state == "none":
        assert 'class="sla ' not in html
        assert '<span class="visually-hidden">No SLA</span>' in html
        assert "—" in html
        return
    assert f'class="sla sla--{state}"' in html
    assert EXPECTED_TEXT[state] in html
    timer = SlaTimer.objects.get(conversation=conversation, metric="first_response")
    if state == "paused":
        assert "data-sla-due" not in html
        assert '<time class="sla-time"' not in html
        return
    due = timezone.localtime(timer.due_at).isoformat(timespec="seconds")
    warn = timezone.localtime(timer.warn_at).isoformat(timespec="seconds")
    assert f'data-sla-due="{due}"' in html
    assert f'data-sla-warn="{warn}"' in html
    assert f'<time class="sla-time" datetime="{due}"' in html
    assert 'data-sla-label-warning="At risk"' in html
    assert 'data-sla-label-breached="Overdue"' in html


@pytest.mark.parametrize("state", ["ok", "warning", "breached", "paused", "none"])
def test_home_shows_each_rows_badge_in_its_state(sign_in, agent, every_state, state):
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<th scope="col"><abbr title="Service level: the next deadline">SLA</abbr></th>' in page
    conversation = every_state[state]
    _assert_badge(_row(page, conversation.reference), state, conversation)


@pytest.mark.parametrize("state", ["ok", "warning", "breached", "paused", "none"])
def test_conversation_header_shows_the_badge_in_its_state(sign_in, agent, every_state, state):
    conversation = every_state[state]
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    fact = _sla_fact(page)
    _assert_badge(fact, state, conversation)
    if state != "none":
        assert '<span class="sla-metric">First response</span>' in fact


def test_a_conversation_of_a_brand_without_policies_has_no_badge(sign_in, agent, conversation):
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = _row(page, "SOL-1")
    assert '<span class="visually-hidden">No SLA</span>' in row


def test_the_live_script_is_loaded_deferred_and_reads_the_page_language(
    sign_in, agent, every_state
):
    page = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es"' in page
    # The live script reads the page's language for Intl.RelativeTimeFormat.
    assert '<script src="/static/web/sla.js" defer></script>' in page


def test_the_badge_shows_the_running_clock_due_soonest(
    brand, customer, system, agent, first_response_hour
):
    save_policy(
        brand=brand, actor=system, policy=first_response_hour,
        targets=[
            {"metric": "first_response", "priority": "", "minutes": 60},
            {"metric": "resolution", "priority": "", "minutes": 30},
        ],
    )  # fmt: skip
    conversation = _start(brand, customer, system, "Dos relojes")
    chosen = next_deadlines_for([conversation.pk], viewer=agent)[conversation.pk]
    assert chosen.metric == "resolution"
    assert SlaTimer.objects.filter(conversation=conversation, state=TimerState.RUNNING).count() == 2


def test_deadlines_of_a_whole_table_take_one_query_and_stay_in_the_viewers_brands(
    django_assert_num_queries, brand, other_brand, customer, other_customer, system, agent,
    first_response_hour,
):  # fmt: skip
    save_policy(
        brand=other_brand, actor=system, name="Telco", scope=PolicyScope.BRAND,
        targets=[{"metric": "first_response", "priority": "", "minutes": 60}],
    )  # fmt: skip
    mine = [_start(brand, customer, system, f"Caso {index}") for index in range(3)]
    theirs = _start(other_brand, other_customer, system, "Otro")
    ids = [conversation.pk for conversation in [*mine, theirs]]
    brand_roles(agent)  # read once per user (per request), before what is measured here
    with django_assert_num_queries(1):
        found = next_deadlines_for(ids, viewer=agent)
    assert set(found) == {conversation.pk for conversation in mine}


def _open_conversations(brand, customer, system, count):
    for index in range(count):
        _start(brand, customer, system, f"Pedido {index}", minutes_ago=index * 7)


def test_home_costs_the_same_queries_for_3_or_30_rows_with_clocks(
    sign_in, django_assert_max_num_queries, brand, customer, system, agent, first_response_hour
):
    client = sign_in(agent)
    _open_conversations(brand, customer, system, 3)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/?view=all").status_code == 200
    _open_conversations(brand, customer, system, 27)
    with django_assert_max_num_queries(len(captured)):
        response = client.get("/?view=all")
    assert response.content.decode().count('class="sla sla--') == 30


# --- The conversation's service-level panel ---------------------------------------------------


def test_panel_lists_every_clock_and_why_this_policy(
    sign_in, brand, customer, system, agent, first_response_hour
):
    conversation = _start(brand, customer, system, "Tarde", minutes_ago=120)
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    panel = page[page.index('<section class="sla-panel card"') :]
    panel = panel[: panel.index("</section>")]
    assert '<h2 id="sla-title">Service levels</h2>' in panel
    assert '<span class="sla-timer-metric">First response</span>' in panel
    assert "First response 1 h from “24x7” (corporate)" in panel
    timer = SlaTimer.objects.get(conversation=conversation)
    for moment in (timer.started_at, timer.due_at, timer.breached_at):
        assert f'datetime="{timezone.localtime(moment).isoformat()}"' in panel
    assert "<dt>Breached</dt>" in panel
    assert "<summary>Why this policy</summary>" in panel
    assert (
        "<li>“24x7” (corporate) applies: the only policy that matches this conversation.</li>"
        in panel
    )
    assert "<li>Clock: around the clock (no calendar in the chain).</li>" in panel


def test_panel_numbers_later_cycles(sign_in, brand, customer, system, agent):
    save_policy(
        brand=brand, actor=system, name="Respuestas", scope=PolicyScope.BRAND,
        targets=[{"metric": "next_response", "priority": "", "minutes": 120}],
    )  # fmt: skip
    from atiende.conversations.actions import receive_customer_message

    conversation = _start(brand, customer, system, "Varias")
    for text in ("Uno", "Dos"):
        reply_to_conversation(conversation=conversation, actor=agent, body_text="Respuesta")
        receive_customer_message(
            conversation=conversation, actor=system, channel="email", body_text=text
        )
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        '<span class="sla-timer-metric">Next response <span class="muted">#2</span></span>' in page
    )


def test_panel_without_a_policy_says_so_and_tells_admins_where_policies_live(
    sign_in, client, agent, brand_admin, conversation
):
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No service-level policy applies to this conversation." in page
    assert "/admin/sla/policy/" not in page
    client.logout()
    page = sign_in(brand_admin).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No service-level policy applies to this conversation." in page
    assert 'under <a href="/admin/sla/policy/">SLA policies</a>' in page


def test_timeline_tells_the_warning_and_the_breach(
    sign_in, brand, customer, system, agent, first_response_hour
):
    conversation = _start(brand, customer, system, "Tarde", minutes_ago=120)
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    timeline = page[page.index('<ol class="timeline">') : page.index("</ol>")]
    assert "SLA at risk: First response" in timeline
    assert "SLA breached: First response" in timeline
    assert timeline.index("SLA at risk") < timeline.index("SLA breached")


def test_timeline_tells_an_escalation(
    sign_in, brand, customer, system, supervisor, team, first_response_hour
):
    from atiende.sla.actions import escalate_breach

    save_policy(brand=brand, actor=system, policy=first_response_hour, breach_team=team)
    conversation = _start(brand, customer, system, "Tarde", minutes_ago=120)
    escalate_breach(SlaTimer.objects.get(conversation=conversation).pk)
    page = sign_in(supervisor).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "timeline-item--sla-escalated" in page
    assert "Escalated after the SLA breach: First response" in page


def test_conversation_page_costs_no_more_with_more_clocks(
    sign_in, django_assert_max_num_queries, brand, customer, system, agent
):
    save_policy(
        brand=brand, actor=system, name="Todo", scope=PolicyScope.BRAND,
        targets=[
            {"metric": "first_response", "priority": "", "minutes": 60},
            {"metric": "next_response", "priority": "", "minutes": 60},
            {"metric": "resolution", "priority": "", "minutes": 600},
        ],
    )  # fmt: skip
    from atiende.conversations.actions import receive_customer_message

    client = sign_in(agent)
    short = _start(brand, customer, system, "Corta")
    long = _start(brand, customer, system, "Larga", minutes_ago=300)
    for index in range(6):
        reply_to_conversation(conversation=long, actor=agent, body_text=f"Respuesta {index}")
        receive_customer_message(
            conversation=long, actor=system, channel="email", body_text=f"Otra {index}"
        )
    assert SlaTimer.objects.filter(conversation=long).count() > 6
    with CaptureQueriesContext(connection) as captured:
        assert client.get(_url(short)).status_code == 200
    with django_assert_max_num_queries(len(captured)):
        assert client.get(_url(long)).status_code == 200


# --- The SLA report ------------------------------------------------------------------------------


@pytest.fixture
def measured(brand, customer, system, agent, team, first_response_hour):
    """Tienda Sol's month: answered in time, breached, still open, stopped before its deadline."""
    in_time = _start(brand, customer, system, "A tiempo")
    reply_to_conversation(conversation=in_time, actor=agent, body_text="Hola")
    late = _start(brand, customer, system, "Tarde", minutes_ago=120, team=team)
    assign_conversation(conversation=late, assignee=agent, team=team, actor=system)
    still_open = _start(brand, customer, system, "Abierta")
    stopped = _start(brand, customer, system, "Resuelta sin respuesta")
    change_status(conversation=stopped, status="solved", actor=agent)
    # Started before the default period: not counted.
    old = _start(brand, customer, system, "Antigua", minutes_ago=40 * 24 * 60)
    return {"in_time": in_time, "late": late, "open": still_open, "stopped": stopped, "old": old}


@pytest.fixture
def telco_breach(other_brand, other_customer, system):
    save_policy(
        brand=other_brand, actor=system, name="Telco 24x7", scope=PolicyScope.BRAND,
        targets=[{"metric": "first_response", "priority": "", "minutes": 30}],
    )  # fmt: skip
    return _start(other_brand, other_customer, system, "Portabilidad", minutes_ago=90)


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))


def test_report_counts_met_breached_open_and_stopped_exactly(sign_in, supervisor, measured):
    response = sign_in(supervisor).get(REPORT, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert (row.label, row.met_on_time, row.breached, row.still_open, row.stopped) == (
        "24x7", 1, 1, 1, 1,
    )  # fmt: skip
    assert row.attainment == 50.0
    page = response.content.decode()
    assert '<meter min="0" max="100" low="80" high="95" optimum="100" value="50.0"' in page
    assert "50.0 %" in page
    breaches = response.context["breaches"]
    assert [timer.conversation.reference for timer in breaches] == [measured["late"].reference]
    assert f'href="{_url(measured["late"])}">{measured["late"].reference}</a>' in page
    assert "Soporte" in page  # the breached case's team
    assert "Alba Agente" in page  # and its assignee


def test_report_groups_by_metric_team_and_month(sign_in, supervisor, measured):
    client = sign_in(supervisor)
    by_team = client.get(REPORT, {"group": "team"}, HTTP_ACCEPT_LANGUAGE="en").context["rows"]
    assert [(row.label, row.breached, row.total) for row in by_team] == [
        ("Soporte", 1, 1),
        ("No team", 0, 3),
    ]
    by_metric = client.get(REPORT, {"group": "metric"}, HTTP_ACCEPT_LANGUAGE="en").context["rows"]
    assert [(row.label, row.total) for row in by_metric] == [("First response", 4)]
    wide = {"group": "month", "from": "2000-01-01"}
    by_month = client.get(REPORT, wide, HTTP_ACCEPT_LANGUAGE="en").context["rows"]
    assert sum(row.total for row in by_month) == 5  # the old one too, over the longer period
    assert by_month[-1].label == timezone.localdate().strftime("%B %Y")


def test_report_period_is_chosen_by_dates(sign_in, supervisor, measured):
    today = timezone.localdate()
    client = sign_in(supervisor)
    past = today - timedelta(days=40)
    response = client.get(REPORT, {"from": past.isoformat(), "to": past.isoformat()})
    [row] = response.context["rows"]
    assert (row.total, row.breached) == (1, 1)
    empty = client.get(
        REPORT, {"from": "2001-01-01", "to": "2001-01-31"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    page = empty.content.decode()
    assert "No service-level clocks started in this period" in page
    assert "No breaches in this period" in page
    assert "Download CSV" not in page


def test_report_refuses_a_period_that_ends_before_it_starts(sign_in, supervisor, measured):
    response = sign_in(supervisor).get(
        REPORT, {"from": "2026-12-10", "to": "2026-12-01"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The end of the period comes before its start." in page
    assert "rows" not in response.context


def test_report_summary_and_breaches_download_as_csv(sign_in, supervisor, measured):
    client = sign_in(supervisor)
    rows = _csv(
        client.get(REPORT, {"format": "csv", "table": "summary"}, HTTP_ACCEPT_LANGUAGE="en")
    )
    assert rows == [
        ["Policy", "Brand", "Met on time", "Breached", "Still open", "Stopped", "Attainment (%)"],
        ["24x7", "Tienda Sol", "1", "1", "1", "1", "50.0"],
        ["All", "", "1", "1", "1", "1", "50.0"],
    ]
    response = client.get(REPORT, {"format": "csv", "table": "breaches"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Disposition"].startswith('attachment; filename="atiende-sla-breaches-')
    header, *lines = _csv(response)
    assert header == [
        "Reference", "Brand", "Metric", "Cycle", "Started", "Due", "Breached", "Met", "Policy",
        "Team", "Assignee",
    ]  # fmt: skip
    late = SlaTimer.objects.get(conversation=measured["late"])
    assert lines == [
        [
            measured["late"].reference, "Tienda Sol", "First response", "1",
            timezone.localtime(late.started_at).isoformat(timespec="minutes"),
            timezone.localtime(late.due_at).isoformat(timespec="minutes"),
            timezone.localtime(late.breached_at).isoformat(timespec="minutes"),
            "", "24x7", "Soporte", "Alba Agente",
        ]
    ]  # fmt: skip
    assert client.get(REPORT, {"format": "csv", "table": "other"}).status_code == 404


def test_report_csv_headers_follow_the_language(sign_in, supervisor, measured):
    rows = _csv(
        sign_in(supervisor).get(
            REPORT, {"format": "csv", "table": "breaches"}, HTTP_ACCEPT_LANGUAGE="es"
        )
    )
    assert rows[0][0] == "Referencia"


def test_an_agent_without_reports_gets_404_and_no_link(sign_in, agent, measured):
    client = sign_in(agent)
    assert client.get(REPORT).status_code == 404
    assert client.get(REPORT, {"format": "csv", "table": "summary"}).status_code == 404
    assert f'href="{REPORT}"' not in client.get("/").content.decode()


def test_those_who_see_reports_find_the_link(sign_in, client, supervisor, client_viewer):
    for user in (supervisor, client_viewer):
        page = sign_in(user).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert f'<li><a href="{REPORT}">SLA report</a></li>' in page
        client.logout()
    page = sign_in(supervisor).get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<a href="{REPORT}" aria-current="page">SLA report</a>' in page


def test_report_needs_sign_in(client):
    response = client.get(REPORT)
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_outsider_sees_nothing_of_tienda_sol(
    sign_in, client, outsider, outsider_admin, measured, telco_breach
):
    assert sign_in(outsider).get(REPORT).status_code == 404  # an agent: no reports at all
    client.logout()
    client = sign_in(outsider_admin)
    response = client.get(REPORT, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert [row.label for row in response.context["rows"]] == ["Telco 24x7"]
    assert "TEL-1" in page
    assert "SOL-" not in page
    assert "Tienda Sol" not in page
    # Asking for a brand that is not theirs answers as if it did not exist.
    assert client.get(REPORT, {"brand": "tienda"}).status_code == 404
    csv_rows = _csv(client.get(REPORT, {"format": "csv", "table": "breaches"}))
    assert [line[0] for line in csv_rows[1:]] == ["TEL-1"]


def test_client_viewer_sees_only_their_brand(sign_in, client_viewer, measured, telco_breach):
    client = sign_in(client_viewer)
    response = client.get(REPORT, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert [row.label for row in response.context["rows"]] == ["24x7"]
    page = response.content.decode()
    assert "Telco" not in page
    assert "TEL-" not in page
    assert '<option value="telco"' not in page
    assert client.get(REPORT, {"brand": "telco"}).status_code == 404
    assert client.get(REPORT, {"brand": "telco", "format": "csv"}).status_code == 404


def test_a_superuser_chooses_among_every_brand(sign_in, superuser, measured, telco_breach):
    client = sign_in(superuser)
    response = client.get(REPORT, HTTP_ACCEPT_LANGUAGE="en")
    assert {(row.label, row.brand) for row in response.context["rows"]} == {
        ("24x7", "Tienda Sol"),
        ("Telco 24x7", "Telco Norte"),
    }
    assert response.context["several_brands"]
    only_telco = client.get(REPORT, {"brand": "telco"}, HTTP_ACCEPT_LANGUAGE="en")
    assert [row.label for row in only_telco.context["rows"]] == ["Telco 24x7"]
    assert [t.conversation.reference for t in only_telco.context["breaches"]] == ["TEL-1"]


def test_report_costs_the_same_queries_for_few_or_many_breaches(
    sign_in, django_assert_max_num_queries, brand, customer, system, supervisor, team,
    first_response_hour,
):  # fmt: skip
    client = sign_in(supervisor)
    for index in range(2):
        _start(brand, customer, system, f"Tarde {index}", minutes_ago=120, team=team)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(REPORT).status_code == 200
    for index in range(12):
        _start(brand, customer, system, f"Más {index}", minutes_ago=90 + index)
    for table in ("", "summary", "breaches"):
        params = {"format": "csv", "table": table} if table else {}
        with django_assert_max_num_queries(len(captured)):
            response = client.get(REPORT, params)
        assert response.status_code == 200
    assert len(captured) <= 8


# --- The badge on its own -----------------------------------------------------------------------

NOW = timezone.now().replace(microsecond=0)


def _timer(**values):
    return SlaTimer(metric="resolution", target_minutes=60, started_at=NOW, **values)


@pytest.mark.parametrize(
    ("timer", "state", "text"),
    [
        (_timer(state="running", due_at=NOW + timedelta(minutes=133)), "ok", "2 h 13 min left"),
        (_timer(state="running", due_at=NOW + timedelta(seconds=20)), "ok", "1 min left"),
        (
            _timer(state="running", due_at=NOW + timedelta(minutes=30), warn_at=NOW),
            "warning",
            "30 min left",
        ),
        (_timer(state="running", due_at=NOW - timedelta(seconds=20)), "breached", "overdue 1 min"),
        (
            _timer(state="running", due_at=NOW - timedelta(days=40, hours=3, minutes=5)),
            "breached",
            "overdue 40 d 3 h",
        ),
        (_timer(state="running", due_at=NOW + timedelta(days=3)), "ok", "3 d left"),
        (_timer(state="paused"), "paused", "Paused"),
        (_timer(state="met", met_at=NOW, due_at=NOW), "met", "Met"),
        (_timer(state="met", met_at=NOW, due_at=NOW, breached_at=NOW), "breached", "Met late"),
        (_timer(state="stopped"), "stopped", "Stopped"),
        (None, "none", "No SLA"),
    ],
)
def test_badge_states_and_texts(timer, state, text):
    from atiende.web.templatetags.sla_badges import badge_for

    badge = badge_for(timer, now=NOW)
    assert (badge.state, badge.text) == (state, text)
    assert badge.live == (state in ("ok", "warning") or text.startswith("overdue"))


def test_the_home_csv_carries_each_rows_deadline(
    sign_in, agent, brand, customer, system, first_response_hour
):
    late = _start(brand, customer, system, "Tarde", minutes_ago=90)
    fresh = _start(brand, customer, system, "Reciente", minutes_ago=0)
    response = sign_in(agent).get("/?view=all&format=csv", HTTP_ACCEPT_LANGUAGE="en")
    rows = {
        row[0]: row for row in csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff")))
    }
    assert rows["Reference"][-2:] == ["SLA", "SLA due"]
    assert rows[late.reference][-2].startswith("First response: overdue 30 min")
    assert rows[fresh.reference][-2] in ("First response: 1 h left", "First response: 60 min left")
    due = SlaTimer.objects.get(conversation=fresh, metric="first_response").due_at
    assert rows[fresh.reference][-1] == timezone.localtime(due).isoformat(timespec="minutes")
