from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from atiende.conversations.actions import start_conversation

pytestmark = pytest.mark.django_db


def test_the_cursor_walks_every_row_once(
    api_as: Any, agent: Any, customer: Any, system: Any
) -> None:
    now = timezone.now()
    created = [
        start_conversation(
            brand=customer.brand, customer=customer, channel="email", actor=system,
            subject=f"Caso {number}", body_text="Hola",
            # Pairs share an instant, so the id must break ties.
            created_at=now - timedelta(minutes=number // 2),
        ).pk
        for number in range(23)
    ]  # fmt: skip
    api = api_as(agent)
    for order in ("-last_message_at", "-created_at", "-updated_at"):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 5, "order": order}
            if cursor:
                params["cursor"] = cursor
            body = api.get("/api/v1/conversations", params).json()
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(created), order
        assert len(seen) == len(set(seen))
        assert pages == 5


def test_messages_are_paged_oldest_first(api_as: Any, agent: Any, conversation: Any) -> None:
    from atiende.conversations.actions import add_internal_note

    for number in range(4):
        add_internal_note(conversation=conversation, actor=agent, body_text=f"Nota {number}")
    api = api_as(agent)
    first = api.get(f"/api/v1/conversations/{conversation.pk}/messages", {"limit": 3}).json()
    second = api.get(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"limit": 3, "cursor": first["next_cursor"]},
    ).json()
    texts = [item["body_text"] for item in first["items"] + second["items"]]
    assert texts[1:] == [f"Nota {number}" for number in range(4)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WyJ4IiwgMV0", "WzEsICJ4Il0"])
def test_a_tampered_cursor_is_a_clear_error(api_as: Any, agent: Any, cursor: str) -> None:
    response = api_as(agent).get("/api/v1/conversations", {"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"
