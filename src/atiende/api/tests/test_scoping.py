"""What a token reaches is what its owner reaches in the web interface; another brand's objects do
not exist for it (404, never 403)."""

from __future__ import annotations

from typing import Any

import pytest

from atiende.conversations.actions import add_internal_note

pytestmark = pytest.mark.django_db


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_an_agent_lists_only_their_brands_conversations(
    api_as: Any, agent: Any, conversation: Any, other_conversation: Any
) -> None:
    assert _ids(api_as(agent).get("/api/v1/conversations")) == {conversation.pk}


def test_another_brands_conversation_does_not_exist_for_an_agent(
    api_as: Any, agent: Any, other_conversation: Any
) -> None:
    api = api_as(agent)
    path = f"/api/v1/conversations/{other_conversation.pk}"
    for response in (
        api.get(path),
        api.patch(path, {"priority": "high"}),
        api.get(f"{path}/messages"),
        api.post(f"{path}/messages", {"body_text": "Hola"}),
        api.post(f"{path}/notes", {"body_text": "Nota"}),
        api.get(f"/api/v1/sla/conversations/{other_conversation.pk}"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
    other_conversation.refresh_from_db()
    assert other_conversation.priority == "normal"


def test_the_outsider_sees_nothing_of_brand_a(
    api_as: Any, outsider: Any, conversation: Any, customer: Any, other_conversation: Any
) -> None:
    api = api_as(outsider)
    assert _ids(api.get("/api/v1/conversations")) == {other_conversation.pk}
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 404
    assert api.get(f"/api/v1/customers/{customer.pk}").status_code == 404
    assert api.get("/api/v1/customers/lookup", {"crn": customer.crn}).status_code == 404
    assert api.get("/api/v1/search/conversations", {"q": "pedido"}).json()["items"] == []
    created = api.post(
        "/api/v1/customers", {"brand": "tienda", "name": "Intruso", "identities": []}
    )
    assert created.status_code == 404


def test_a_client_viewer_reads_but_changes_nothing(
    api_as: Any, client_viewer: Any, conversation: Any, agent: Any
) -> None:
    add_internal_note(conversation=conversation, actor=agent, body_text="Solo para el equipo")
    api = api_as(client_viewer)

    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200
    messages = api.get(f"/api/v1/conversations/{conversation.pk}/messages").json()["items"]
    assert [message["direction"] for message in messages] == ["inbound"]
    response = api.patch(f"/api/v1/conversations/{conversation.pk}", {"priority": "urgent"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    reply = api.post(f"/api/v1/conversations/{conversation.pk}/messages", {"body_text": "Hola"})
    assert reply.status_code == 403
    conversation.refresh_from_db()
    assert conversation.priority == "normal"


def test_a_read_token_cannot_write(api_as: Any, agent: Any, conversation: Any) -> None:
    api = api_as(agent, scopes=["read"])

    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200
    response = api.post(f"/api/v1/conversations/{conversation.pk}/notes", {"body_text": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"
    patched = api.patch(f"/api/v1/conversations/{conversation.pk}", {"priority": "high"})
    assert patched.json()["code"] == "scope_missing"


def test_an_integration_token_reaches_only_its_brand(
    api_as: Any,
    brand: Any,
    conversation: Any,
    customer: Any,
    other_conversation: Any,
    other_customer: Any,
) -> None:
    api = api_as(brand=brand, scopes=["read", "write"])

    assert _ids(api.get("/api/v1/conversations")) == {conversation.pk}
    assert _ids(api.get("/api/v1/customers")) == {customer.pk}
    assert api.get(f"/api/v1/conversations/{other_conversation.pk}").status_code == 404
    assert api.get(f"/api/v1/customers/{other_customer.pk}").status_code == 404
    lookup = api.get("/api/v1/customers/lookup", {"crn": other_customer.crn})
    assert lookup.status_code == 404
    email = api.get("/api/v1/customers/lookup", {"email": "octavio@example.mx"})
    assert email.status_code == 404
    started = api.post(
        "/api/v1/conversations",
        {"customer_id": other_customer.pk, "subject": "x", "body_text": "y"},
    )
    assert started.status_code == 404
    note = api.post(f"/api/v1/conversations/{conversation.pk}/notes", {"body_text": "De la API"})
    assert note.status_code == 201
    assert note.json()["author_kind"] == "system"


def test_an_integration_token_cannot_create_in_another_brand(
    api_as: Any, brand: Any, other_brand: Any
) -> None:
    api = api_as(brand=brand)
    response = api.post("/api/v1/customers", {"brand": other_brand.slug, "name": "Nadie"})
    assert response.status_code == 404


def test_a_role_taken_away_counts_from_the_next_request(
    api_as: Any, agent: Any, brand: Any, system: Any, conversation: Any
) -> None:
    from atiende.accounts.actions import revoke_brand_role

    api = api_as(agent)
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200

    revoke_brand_role(user=agent, brand=brand, actor=system)

    # Only the statements are kept between requests (core/prepared.py), never their answers.
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 404


def test_a_superuser_token_reads_every_brand_and_an_inactive_brands_token_nothing(
    api_as: Any,
    superuser: Any,
    brand: Any,
    conversation: Any,
    other_conversation: Any,
) -> None:
    everywhere = api_as(superuser)
    for case in (conversation, other_conversation):
        assert everywhere.get(f"/api/v1/conversations/{case.pk}").json()["id"] == case.pk

    integration = api_as(brand=brand, scopes=["read"])
    assert integration.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200
    type(brand).objects.filter(pk=brand.pk).update(is_active=False)
    assert integration.get(f"/api/v1/conversations/{conversation.pk}").status_code == 401


def test_a_personal_token_loses_a_brand_once_it_is_deactivated(
    api_as: Any, agent: Any, brand: Any, conversation: Any
) -> None:
    """The token's read brings the user's roles along; a role in an inactive brand counts no
    more there than in the web's own read (accounts.permissions.roles_of_memberships)."""
    api = api_as(agent)
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200
    type(brand).objects.filter(pk=brand.pk).update(is_active=False)
    assert api.get(f"/api/v1/conversations/{conversation.pk}").status_code == 404


def test_a_callers_brand_narrows_brand_ids_as_limit_narrows_querysets() -> None:
    from atiende.api.auth import Caller
    from atiende.core.actors import SystemActor

    personal = Caller(token=None, actor=SystemActor(label="t"), brand_id=None)  # type: ignore[arg-type]
    integration = Caller(token=None, actor=SystemActor(label="t"), brand_id=7)  # type: ignore[arg-type]

    assert personal.narrow(None) is None
    assert personal.narrow({1, 7}) == {1, 7}
    assert integration.narrow(None) == {7}
    assert integration.narrow({1, 7}) == {7}
    assert integration.narrow({1}) == set()
