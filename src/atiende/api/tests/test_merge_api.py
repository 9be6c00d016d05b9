"""Merge and split conversations, merge and delete customers, through the API (CV5, CR1)."""

from __future__ import annotations

from typing import Any

import pytest

from atiende.conversations.actions import reply_to_conversation, start_conversation
from atiende.conversations.models import Conversation, Message
from atiende.customers.actions import IdentityInput, create_customer
from atiende.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def duplicate(brand: Any, customer: Any, system: Any) -> Any:
    return start_conversation(
        brand=brand, customer=customer, channel="chat", actor=system, body_text="¿Y el pedido?"
    )


@pytest.fixture
def duplicate_customer(brand: Any, system: Any) -> Any:
    return create_customer(
        brand=brand, actor=system, name="Carmen C.",
        identities=[IdentityInput("email", "carmen.b@example.com")],
    )  # fmt: skip


def test_a_conversation_is_merged_by_reference_and_the_merge_undone(
    api_as: Any, agent: Any, conversation: Any, duplicate: Any
) -> None:
    api = api_as(agent)
    merged = api.post(
        f"/api/v1/conversations/{duplicate.pk}/merge",
        {"into": conversation.reference.lower()},
        **{"Idempotency-Key": "merge-1"},
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["id"] == conversation.pk
    assert merged.json()["last_message_preview"] == "¿Y el pedido?"
    pointer = api.get(f"/api/v1/conversations/{duplicate.pk}").json()
    assert pointer["status"] == "closed"
    assert pointer["merged_into"] == {"id": conversation.pk, "reference": conversation.reference}
    messages = api.get(f"/api/v1/conversations/{conversation.pk}/messages").json()["items"]
    assert len(messages) == 2
    # A repeat with the same key answers the stored reply and merges nothing twice.
    again = api.post(
        f"/api/v1/conversations/{duplicate.pk}/merge",
        {"into": conversation.reference},
        **{"Idempotency-Key": "merge-1"},
    )
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"
    repeated = api.post(
        f"/api/v1/conversations/{duplicate.pk}/merge",
        {"into": conversation.reference.lower()},
        **{"Idempotency-Key": "merge-1"},
    )
    assert (repeated.status_code, repeated.json()) == (200, merged.json())

    twice = api.post(f"/api/v1/conversations/{duplicate.pk}/merge", {"into": conversation.pk})
    assert twice.status_code == 409
    assert twice.json()["code"] == "merge_not_allowed"
    assert twice.json()["details"][0]["code"] == "already_merged"

    undone = api.post(f"/api/v1/conversations/{duplicate.pk}/unmerge", {})
    assert undone.status_code == 200, undone.content
    assert (undone.json()["status"], undone.json()["merged_into"]) == ("new", None)
    assert Message.objects.filter(conversation=duplicate).count() == 1
    not_merged = api.post(f"/api/v1/conversations/{duplicate.pk}/unmerge", {})
    assert not_merged.status_code == 409


def test_a_merge_into_an_unknown_or_foreign_conversation_is_invalid_input(
    api_as: Any, agent: Any, superuser: Any, conversation: Any, other_conversation: Any
) -> None:
    for person in (agent, superuser):
        api = api_as(person)
        for into in (other_conversation.pk, other_conversation.reference, "SOL-999", "nada", 0):
            response = api.post(f"/api/v1/conversations/{conversation.pk}/merge", {"into": into})
            assert response.status_code == 422, (into, response.content)
            assert response.json()["details"][0]["field"] == "into"
    itself = api_as(agent).post(
        f"/api/v1/conversations/{conversation.pk}/merge", {"into": conversation.pk}
    )
    assert itself.status_code == 422
    assert itself.json()["details"][0]["code"] == "merge_into_itself"


def test_another_brands_conversations_and_customers_do_not_exist_for_merge_split_delete(
    api_as: Any, outsider: Any, conversation: Any, duplicate: Any, customer: Any, brand: Any,
    other_brand: Any, duplicate_customer: Any,
) -> None:  # fmt: skip
    for api in (api_as(outsider), api_as(brand=other_brand)):
        calls = [
            api.post(f"/api/v1/conversations/{duplicate.pk}/merge", {"into": conversation.pk}),
            api.post(f"/api/v1/conversations/{duplicate.pk}/unmerge", {}),
            api.post(
                f"/api/v1/conversations/{conversation.pk}/split",
                {"message_ids": [conversation.messages.get().pk]},
            ),
            api.post(f"/api/v1/customers/{duplicate_customer.pk}/merge", {"into": customer.pk}),
            api.delete(f"/api/v1/customers/{duplicate_customer.pk}"),
        ]
        assert [call.status_code for call in calls] == [404] * 5
    assert Conversation.objects.filter(merged_into__isnull=False).count() == 0
    assert Customer.objects.filter(pk=duplicate_customer.pk).exists()


def test_a_client_viewer_or_a_read_token_cannot_merge_split_or_delete(
    api_as: Any, client_viewer: Any, agent: Any, conversation: Any, duplicate: Any,
    customer: Any, duplicate_customer: Any,
) -> None:  # fmt: skip
    for api, code in (
        (api_as(client_viewer), "permission_denied"),
        (api_as(agent, scopes=["read"]), "scope_missing"),
    ):
        calls = [
            api.post(f"/api/v1/conversations/{duplicate.pk}/merge", {"into": conversation.pk}),
            api.post(
                f"/api/v1/conversations/{conversation.pk}/split",
                {"message_ids": [conversation.messages.get().pk]},
            ),
            api.post(f"/api/v1/customers/{duplicate_customer.pk}/merge", {"into": customer.pk}),
            api.delete(f"/api/v1/customers/{duplicate_customer.pk}"),
        ]
        assert [(call.status_code, call.json()["code"]) for call in calls] == [(403, code)] * 4
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_messages_are_split_off_into_a_new_conversation(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    reply = reply_to_conversation(conversation=conversation, actor=agent, body_text="Visto")
    api = api_as(agent)
    split = api.post(
        f"/api/v1/conversations/{conversation.pk}/split",
        {"message_ids": [reply.pk], "subject": "Otra consulta"},
        **{"Idempotency-Key": "split-1"},
    )
    assert split.status_code == 201, split.content
    body = split.json()
    assert (body["reference"], body["subject"], body["merged_into"]) == (
        "SOL-2",
        "Otra consulta",
        None,
    )
    assert [m["id"] for m in api.get(f"/api/v1/conversations/{body['id']}/messages").json()[
        "items"
    ]] == [reply.pk]  # fmt: skip
    everything = api.post(
        f"/api/v1/conversations/{conversation.pk}/split",
        {"message_ids": [conversation.messages.get().pk]},
    )
    assert everything.status_code == 422
    assert everything.json()["details"][0]["code"] == "split_all"
    empty = api.post(f"/api/v1/conversations/{conversation.pk}/split", {"message_ids": []})
    assert (empty.status_code, empty.json()["details"][0]["code"]) == (422, "no_messages")


def test_a_duplicate_customer_is_merged_and_its_crn_finds_the_survivor(
    api_as: Any, agent: Any, customer: Any, duplicate_customer: Any, other_customer: Any
) -> None:
    api = api_as(agent)
    foreign = api.post(
        f"/api/v1/customers/{duplicate_customer.pk}/merge", {"into": other_customer.pk}
    )
    assert foreign.status_code == 422
    assert foreign.json()["details"][0]["field"] == "into"
    merged = api.post(f"/api/v1/customers/{duplicate_customer.pk}/merge", {"into": customer.pk})
    assert merged.status_code == 200, merged.content
    assert merged.json()["id"] == customer.pk
    assert "carmen.b@example.com" in [i["value"] for i in merged.json()["identities"]]
    found = api.get("/api/v1/customers/lookup", {"crn": duplicate_customer.crn_display})
    assert (found.status_code, found.json()["id"]) == (200, customer.pk)
    pointer = api.get(f"/api/v1/customers/{duplicate_customer.pk}").json()
    assert pointer["merged_into_id"] == customer.pk


def test_a_customer_without_conversations_is_deleted_and_one_with_them_is_kept(
    api_as: Any, agent: Any, customer: Any, conversation: Any, duplicate_customer: Any
) -> None:
    api = api_as(agent)
    kept = api.delete(f"/api/v1/customers/{customer.pk}")
    assert kept.status_code == 409
    assert kept.json()["code"] == "customer_in_use"
    assert kept.json()["details"][0]["code"] == "customer_has_conversations"
    deleted = api.delete(f"/api/v1/customers/{duplicate_customer.pk}")
    assert deleted.status_code == 204
    assert api.get(f"/api/v1/customers/{duplicate_customer.pk}").status_code == 404
    assert api.delete(f"/api/v1/customers/{duplicate_customer.pk}").status_code == 404
