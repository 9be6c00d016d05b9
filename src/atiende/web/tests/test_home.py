"""The agent's first screen, the inbox at / (web:home): what each person sees there, its cost,
and the old "recent conversations" download, which now gives the inbox's CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atiende.accounts.actions import create_staff_user
from atiende.conversations.actions import (
    assign_conversation,
    change_status,
    set_conversation_tags,
    start_conversation,
)

pytestmark = pytest.mark.django_db


def test_agent_sees_their_brands_conversation_and_not_the_other_brands(
    sign_in, agent, conversation, other_conversation
):
    page = sign_in(agent).get("/?view=all").content.decode()
    assert "SOL-1" in page
    assert conversation.customer.crn_display in page
    assert "Carmen Cliente" in page
    assert 'href="/c/tienda/1/"' in page
    assert "TEL-1" not in page
    assert other_conversation.customer.crn_display not in page
    assert "Octavio" not in page
    assert "Portabilidad" not in page


def test_outsider_sees_only_their_own_brands_conversation(
    sign_in, outsider, conversation, other_conversation
):
    page = sign_in(outsider).get("/?view=all").content.decode()
    assert "TEL-1" in page
    assert other_conversation.customer.crn_display in page
    assert "SOL-1" not in page
    assert conversation.customer.crn_display not in page
    assert "Carmen" not in page


def test_client_viewer_sees_their_brand_only(
    sign_in, client_viewer, conversation, other_conversation
):
    response = sign_in(client_viewer).get("/")
    assert [row.conversation.reference for row in response.context["page"].rows] == ["SOL-1"]
    assert other_conversation.customer.crn_display not in response.content.decode()


def test_superuser_sees_every_brand(sign_in, superuser, conversation, other_conversation):
    response = sign_in(superuser).get("/")
    assert {row.conversation.reference for row in response.context["page"].rows} == {
        "SOL-1",
        "TEL-1",
    }


def test_counts_per_view_cover_only_visible_brands_and_open_work(
    sign_in, system, agent, brand, customer, conversation, other_conversation
):
    second = start_conversation(
        brand=brand, customer=customer, channel="phone", actor=system, body_text="Llamada"
    )
    change_status(conversation=second, status="pending", actor=system)
    solved = start_conversation(
        brand=brand, customer=customer, channel="phone", actor=system, body_text="Otra"
    )
    change_status(conversation=solved, status="solved", actor=system)
    assign_conversation(conversation=conversation, assignee=agent, actor=system)

    response = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="en")

    counts = {item["code"]: item["count"].count for item in response.context["views"]}
    assert counts == {"mine": 1, "unassigned": 1, "teams": 0, "all": 2}
    assert [str(item["label"]) for item in response.context["views"]] == [
        "Mine",
        "Unassigned",
        "My teams",
        "All",
    ]
    page = response.content.decode()
    assert 'aria-current="page"' in page
    assert "SOL-1" in page
    assert "SOL-2" not in page


def test_row_shows_channel_status_priority_assignee_and_tags(sign_in, system, agent, conversation):
    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    set_conversation_tags(
        conversation=conversation, tags=["entrega", "urgente-cliente"], actor=system
    )

    page = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "SOL-1" in page
    assert 'icons.svg#mail"' in page
    assert '<span class="visually-hidden">Email</span>' in page
    assert '<span class="badge badge--new">New</span>' in page
    assert "Normal" in page
    assert "Alba Agente" in page
    assert '<span class="tag">entrega</span>' in page
    assert "Mi pedido no ha llegado" in page
    assert "Hola, el pedido 1001" in page
    assert "<time datetime=" in page


def test_home_in_spanish_uses_spanish_labels(sign_in, agent, conversation):
    page = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<span class="badge badge--new">Nueva</span>' in page
    assert '<span class="visually-hidden">Correo electrónico</span>' in page
    assert "Sin asignar" in page


def test_empty_home_says_what_will_appear(sign_in, agent):
    response = sign_in(agent).get("/?view=all", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "No conversations yet" in page
    assert "Download CSV" not in page


def test_user_without_a_brand_is_told_to_ask_for_access(sign_in, db, system):
    newcomer = create_staff_user(
        email="nuevo@atiende.test",
        full_name="Nico Nuevo",
        password="correct-horse-battery-staple",
        actor=system,
    )
    page = sign_in(newcomer).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You do not have access to any brand yet" in page


def test_hostile_text_in_subject_and_preview_is_escaped(sign_in, system, agent, brand, customer):
    start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject='<script>alert("subject")</script>',
        body_text='<img src=x onerror="alert(1)">',
    )
    page = sign_in(agent).get("/?view=all").content.decode()
    assert '<script>alert("subject")' not in page
    assert "<img src=x onerror" not in page
    assert "&lt;script&gt;" in page


def _conversations(system, brand, customer, agent, how_many):
    for index in range(how_many):
        conversation = start_conversation(
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            body_text=f"Mensaje {index}",
        )
        assign_conversation(conversation=conversation, assignee=agent, actor=system)
        set_conversation_tags(
            conversation=conversation, tags=[f"etiqueta-{index}", "comun"], actor=system
        )


def _queries_for(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, follow=True)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("path", ["/", "/conversations/recent.csv"])
def test_home_list_costs_the_same_queries_for_3_or_30_rows(
    sign_in, django_assert_max_num_queries, system, agent, brand, customer, path
):
    client = sign_in(agent)
    _conversations(system, brand, customer, agent, 3)
    with_three = _queries_for(client, path)

    _conversations(system, brand, customer, agent, 27)
    with django_assert_max_num_queries(with_three):
        response = client.get(path, follow=True)
    assert response.status_code == 200
    text = response.content.decode("utf-8")
    rows = text.count("<tr data-conversation-id=") if path == "/" else text.count("SOL-")
    assert rows == 30
    assert _queries_for(client, path) == with_three
    assert with_three <= 20


def test_csv_download_has_the_same_rows_scoped_the_same_way(
    sign_in, system, agent, conversation, other_conversation
):
    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    set_conversation_tags(conversation=conversation, tags=["entrega"], actor=system)

    response = sign_in(agent).get(
        "/conversations/recent.csv", HTTP_ACCEPT_LANGUAGE="en", follow=True
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="atiende-conversations-all-'
    )
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Reference", "Customer", "CRN", "Subject"]
    assert len(rows) == 2
    (
        reference,
        name,
        crn,
        subject,
        _preview,
        channel,
        status,
        priority,
        assignee,
        _team,
        tags,
        _at,
        _sla,
        _sla_due,
    ) = rows[1]
    assert (reference, name, crn, subject) == (
        "SOL-1",
        "Carmen Cliente",
        conversation.customer.crn_display,
        "Mi pedido no ha llegado",
    )
    assert (channel, status, priority, assignee, tags) == (
        "Email",
        "New",
        "Normal",
        "Alba Agente",
        "entrega",
    )


def test_csv_headers_follow_the_language(sign_in, agent, conversation):
    response = sign_in(agent).get(
        "/conversations/recent.csv", HTTP_ACCEPT_LANGUAGE="es", follow=True
    )
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert header[:3] == ["Referencia", "Cliente", "CRN"]


def test_csv_never_hands_a_spreadsheet_a_formula(sign_in, system, agent, brand, customer):
    start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject='=HYPERLINK("http://evil.test","clic")',
        body_text="+34 600 000 000 llamó",
    )
    text = sign_in(agent).get("/conversations/recent.csv", follow=True).content.decode("utf-8")
    row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1]
    assert row[3] == '\'=HYPERLINK("http://evil.test","clic")'
    assert row[4] == "'+34 600 000 000 llamó"


def test_csv_needs_sign_in(client):
    response = client.get("/conversations/recent.csv", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    assert response.redirect_chain[-1][1] == 302
