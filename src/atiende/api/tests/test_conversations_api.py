from __future__ import annotations

import base64
from typing import Any

import pytest

from atiende.accounts.actions import add_team_member
from atiende.conversations.actions import assign_conversation, set_conversation_tags
from atiende.conversations.models import Category, Conversation, Message

pytestmark = pytest.mark.django_db


def test_listing_conversations_filters_like_an_inbox(
    api_as: Any, agent: Any, supervisor: Any, conversation: Any, customer: Any, system: Any
) -> None:
    from atiende.conversations.actions import start_conversation

    second = start_conversation(
        brand=conversation.brand, customer=customer, channel="chat", actor=system,
        subject="Factura", body_text="¿Y la factura?", priority="high",
    )  # fmt: skip
    assign_conversation(conversation=second, actor=supervisor, assignee=agent)
    set_conversation_tags(conversation=second, tags=["Factura"], actor=agent)
    api = api_as(agent)

    def ids(**params: Any) -> list[int]:
        response = api.get("/api/v1/conversations", params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert set(ids()) == {conversation.pk, second.pk}
    assert ids(priority="high") == [second.pk]
    assert ids(channel="email") == [conversation.pk]
    assert ids(assignee=agent.pk) == [second.pk]
    assert ids(unassigned="true") == [conversation.pk]
    assert ids(tag="factura") == [second.pk]
    assert ids(brand="telco") == []
    assert set(ids(status=["new", "open"])) == {conversation.pk, second.pk}
    assert ids(created_after="2999-01-01T00:00:00Z") == []
    # A page shows each conversation exactly as its own GET does, newest activity first.
    page = api.get("/api/v1/conversations").json()["items"]
    assert [item["id"] for item in page] == [second.pk, conversation.pk]
    assert page == [api.get(f"/api/v1/conversations/{item['id']}").json() for item in page]
    assert page[0]["tags"] == ["factura"]
    assert page[0]["assignee"]["id"] == agent.pk
    bad = api.get("/api/v1/conversations", {"status": "lost"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_request"
    assert bad.json()["details"][0]["field"] == "status.0"


def test_a_list_costs_the_same_queries_for_one_row_or_many(
    api_as: Any, agent: Any, customer: Any, system: Any, django_assert_max_num_queries: Any
) -> None:
    from atiende.conversations.actions import start_conversation

    for number in range(8):
        conversation = start_conversation(
            brand=customer.brand, customer=customer, channel="email", actor=system,
            subject=f"Caso {number}", body_text="Hola",
        )  # fmt: skip
        set_conversation_tags(conversation=conversation, tags=["a", "b"], actor=system)
    api = api_as(agent)
    # token, last use, roles, the page's keys, its rows, their tags
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/conversations")
    assert len(response.json()["items"]) == 8


def test_a_conversation_is_started_on_behalf_of_a_customer(
    api_as: Any, agent: Any, customer: Any, team: Any
) -> None:
    response = api_as(agent).post(
        "/api/v1/conversations",
        {
            "customer_id": customer.pk,
            "channel": "phone",
            "subject": "Llamada",
            "body_text": "Llama por su pedido",
            "priority": "high",
            "team_id": team.pk,
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("SOL-")
    assert (body["priority"], body["team"]["name"], body["channel"]) == ("high", "Soporte", "phone")
    assert body["customer"]["crn"] == customer.crn_display
    assert Conversation.objects.get(pk=body["id"]).messages.get().direction == "inbound"


def test_invalid_input_names_the_field_and_the_domain_code(
    api_as: Any, agent: Any, customer: Any
) -> None:
    response = api_as(agent).post(
        "/api/v1/conversations", {"customer_id": customer.pk, "channel": "pigeon", "body_text": "x"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert response.json()["details"][0]["code"] == "unknown_channel"


def test_properties_are_changed_in_one_request(
    api_as: Any,
    supervisor: Any,
    agent: Any,
    team: Any,
    conversation: Any,
    brand: Any,
    system: Any,
) -> None:
    category = Category.objects.create(brand=brand, name="Envíos")
    add_team_member(team=team, user=agent, actor=system)

    response = api_as(supervisor).patch(
        f"/api/v1/conversations/{conversation.pk}",
        {
            "status": "pending",
            "priority": "urgent",
            "assignee_id": agent.pk,
            "team_id": team.pk,
            "category_id": category.pk,
            "tags": ["Retraso", "pedido"],
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["priority"]) == ("pending", "urgent")
    assert body["assignee"]["id"] == agent.pk
    assert body["team"]["id"] == team.pk
    assert body["category"]["name"] == "Envíos"
    assert body["tags"] == ["pedido", "retraso"]
    unassigned = api_as(supervisor).patch(
        f"/api/v1/conversations/{conversation.pk}", {"assignee_id": None}
    )
    assert unassigned.json()["assignee"] is None
    assert unassigned.json()["team"]["id"] == team.pk


def test_a_forbidden_transition_is_409_and_changes_nothing(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    response = api_as(agent).patch(
        f"/api/v1/conversations/{conversation.pk}", {"priority": "low", "status": "closed"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "transition_not_allowed"
    conversation.refresh_from_db()
    assert conversation.priority == "normal"


def test_an_assignee_from_another_brand_is_invalid(
    api_as: Any, supervisor: Any, outsider: Any, conversation: Any
) -> None:
    response = api_as(supervisor).patch(
        f"/api/v1/conversations/{conversation.pk}", {"assignee_id": outsider.pk}
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "assignee_id"


def test_a_reply_with_an_attachment_is_sent_and_the_file_downloads(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    api = api_as(agent)
    content = b"%PDF-1.4 factura"
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {
            "body_text": "Te adjunto la factura",
            "status": "pending",
            "attachments": [
                {
                    "filename": "factura.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(content).decode(),
                }
            ],
        },
    )

    assert response.status_code == 201, response.content
    message = response.json()
    assert (message["direction"], message["author"]["id"]) == ("outbound", agent.pk)
    (attachment,) = message["attachments"]
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    details = api.get(f"/api/v1/attachments/{attachment['id']}")
    assert details.json()["filename"] == "factura.pdf"
    download = api.get(attachment["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert "factura.pdf" in download["Content-Disposition"]
    # The same safe download as the web page: never rendered, never cached.
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download["Cache-Control"] == "private, no-store"
    # A file gone from storage is a 404 in the API's error shape, not a server error.
    from atiende.conversations.models import Attachment

    Attachment.objects.get(pk=attachment["id"]).file.delete(save=False)
    gone = api.get(attachment["download_url"])
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"


def test_a_reply_on_another_channel_and_a_note(api_as: Any, agent: Any, conversation: Any) -> None:
    api = api_as(agent)
    reply = api.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"body_text": "Te escribo por chat", "channel": "chat"},
    )
    note = api.post(f"/api/v1/conversations/{conversation.pk}/notes", {"body_text": "Revisar"})

    assert reply.json()["channel"] == "chat"
    assert note.json()["direction"] == "internal"
    listed = api.get(f"/api/v1/conversations/{conversation.pk}/messages").json()["items"]
    assert [item["direction"] for item in listed] == ["inbound", "outbound", "internal"]
    assert Message.objects.filter(conversation=conversation).count() == 3


def test_bad_base64_is_invalid_input(api_as: Any, agent: Any, conversation: Any) -> None:
    response = api_as(agent).post(
        f"/api/v1/conversations/{conversation.pk}/notes",
        {"body_text": "x", "attachments": [{"filename": "a.txt", "content_base64": "%%%"}]},
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["code"] == "invalid_base64"


def test_another_brands_attachment_is_not_found(
    api_as: Any, outsider: Any, agent: Any, conversation: Any
) -> None:
    from atiende.conversations.actions import reply_to_conversation
    from atiende.conversations.attachments import IncomingAttachment

    message = reply_to_conversation(
        conversation=conversation, actor=agent, body_text="x",
        attachments=[IncomingAttachment(filename="a.txt", content=b"hola")],
    )  # fmt: skip
    attachment = message.attachments.get()
    api = api_as(outsider)
    assert api.get(f"/api/v1/attachments/{attachment.pk}").status_code == 404
    assert api.get(f"/api/v1/attachments/{attachment.pk}/content").status_code == 404


def test_the_sla_state_of_a_conversation(
    api_as: Any, agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    from atiende.conversations.actions import start_conversation
    from atiende.sla.testing import around_the_clock_policy

    around_the_clock_policy(brand, system, first_response=60)
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    response = api_as(agent).get(f"/api/v1/sla/conversations/{conversation.pk}")
    assert response.status_code == 200
    state = response.json()
    assert state["conversation_id"] == conversation.pk
    (first,) = [timer for timer in state["timers"] if timer["metric"] == "first_response"]
    assert (first["state"], first["target_minutes"]) == ("running", 60)
    assert first["explanation"] == "First response 1 h from “24x7” (corporate)"
    assert (state["policy"]["policy"], state["policy"]["chain"]) == ("24x7", ["24x7"])
    assert state["policy"]["targets"] == {"first_response": 60}


def test_search_finds_by_subject_reference_customer_and_crn(
    api_as: Any, agent: Any, conversation: Any, customer: Any, other_conversation: Any
) -> None:
    api = api_as(agent)

    def found(q: str) -> list[int]:
        return [
            item["id"] for item in api.get("/api/v1/search/conversations", {"q": q}).json()["items"]
        ]

    assert found("PEDIDO no") == [conversation.pk]
    assert found(f"SOL-{conversation.number}") == [conversation.pk]
    assert found("carmen") == [conversation.pk]
    assert found(customer.crn_display) == [conversation.pk]
    assert found("Portabilidad") == []


def test_nul_characters_are_invalid_input_on_every_database(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    api = api_as(agent)
    note = api.post(f"/api/v1/conversations/{conversation.pk}/notes", {"body_text": "a\u0000b"})
    listed = api.get("/api/v1/conversations", {"brand": "tien\x00da"})
    for response in (note, listed):
        assert response.status_code == 422
        assert response.json()["details"][0]["code"] == "nul_character"


def test_filters_accept_any_offset_and_refuse_impossible_moments(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    api = api_as(agent)
    far = api.get("/api/v1/conversations", {"created_before": "0468-01-27T15:50:47+22:40"})
    assert far.status_code == 200
    assert far.json()["items"] == []
    impossible = api.get("/api/v1/conversations", {"created_before": "0001-01-01T00:00:00+05:00"})
    assert impossible.status_code == 422


@pytest.mark.parametrize("body", [[None, None], "open", 7, None])
def test_a_body_that_is_not_an_object_is_refused_and_changes_nothing(
    api_as: Any, supervisor: Any, conversation: Any, body: Any
) -> None:
    response = api_as(supervisor).patch(f"/api/v1/conversations/{conversation.pk}", body)
    assert response.status_code in (400, 422), response.content
    before = conversation.updated_at
    conversation.refresh_from_db()
    assert conversation.updated_at == before


def test_a_field_the_api_does_not_know_is_named_not_ignored(
    api_as: Any, supervisor: Any, conversation: Any
) -> None:
    response = api_as(supervisor).patch(
        f"/api/v1/conversations/{conversation.pk}", {"priority": "high", "asignee_id": 3}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert [detail["field"] for detail in response.json()["details"]] == ["asignee_id"]
    conversation.refresh_from_db()
    assert conversation.priority == "normal"


@pytest.mark.parametrize("bound", ["0.5", "1700000000", "mañana", "2026-13-45T10:00:00Z"])
def test_a_date_filter_takes_a_written_date_and_time_only(
    api_as: Any, agent: Any, conversation: Any, bound: str
) -> None:
    response = api_as(agent).get("/api/v1/conversations", {"updated_before": bound})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "updated_before"


@pytest.mark.parametrize(
    "bound", ["2999-01-01T00:00:00Z", "2999-01-01T00:00:00", "2999-01-01 00:00+02:00"]
)
def test_a_date_filter_reads_rfc_3339_with_or_without_an_offset(
    api_as: Any, agent: Any, conversation: Any, bound: str
) -> None:
    response = api_as(agent).get("/api/v1/conversations", {"updated_before": bound})
    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["items"]] == [conversation.pk]
