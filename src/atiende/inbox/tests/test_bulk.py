"""Bulk actions from the inbox: each row through its own action, refusals reported per row."""

from __future__ import annotations

import pytest

from atiende.conversations.models import Conversation, ConversationEvent
from atiende.inbox.tests.helpers import imported

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(brand, customer, system):
    return imported(brand, customer, system, {"tags": ["vieja"]}, {}, {"status": "closed"})


def _post(client, conversations, **data):
    return client.post(
        "/inbox/bulk/",
        {"conversation": [str(c.pk) for c in conversations], "return_query": "view=all", **data},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )


def _fresh(conversation):
    return Conversation.objects.get(pk=conversation.pk)


def test_assign_to_me_and_to_a_colleague_and_to_a_team(sign_in, agent, supervisor, team, three):
    client = sign_in(agent)
    response = _post(client, three[:2], operation="assign", assign_to="me")
    assert response.redirect_chain[-1][0] == "/?view=all"
    assert [_fresh(c).assignee for c in three[:2]] == [agent, agent]
    assert "Done for 2 conversations: SOL-1, SOL-2." in response.content.decode()

    _post(client, three[:1], operation="assign", assign_to=f"user:{supervisor.pk}")
    assert _fresh(three[0]).assignee == supervisor

    _post(client, three[:2], operation="assign", assign_to=f"team:{team.pk}")
    assert [(_fresh(c).team, _fresh(c).assignee) for c in three[:2]] == [(team, None)] * 2


def test_status_change_reports_the_row_that_cannot_move_and_does_the_rest(sign_in, agent, three):
    response = _post(sign_in(agent), three, operation="status", status="solved")
    page = response.content.decode()
    assert [_fresh(c).status for c in three] == ["solved", "solved", "closed"]
    assert "Done for 2 conversations: SOL-1, SOL-2." in page
    assert "SOL-3 was not changed: its status cannot change that way." in page


def test_adding_a_tag_keeps_the_tags_already_there(sign_in, agent, three):
    _post(sign_in(agent), three[:2], operation="tag", tag="Entrega")
    assert sorted(_fresh(three[0]).tags.values_list("name", flat=True)) == ["entrega", "vieja"]
    assert list(_fresh(three[1]).tags.values_list("name", flat=True)) == ["entrega"]


def test_merge_moves_the_others_into_the_first_selected(sign_in, agent, three):
    first, second, _closed = three
    response = _post(sign_in(agent), [second, first], operation="merge")
    assert _fresh(first).merged_into_id == second.pk
    assert _fresh(first).status == "closed"
    assert "Done for 1 conversations: SOL-1." in response.content.decode()


def test_client_viewer_cannot_bulk_assign(sign_in, client_viewer, three):
    before = ConversationEvent.objects.count()
    response = _post(sign_in(client_viewer), three[:2], operation="assign", assign_to="me")
    page = response.content.decode()
    assert [_fresh(c).assignee for c in three[:2]] == [None, None]
    assert "SOL-1 was not changed: you may not do this in its brand." in page
    assert ConversationEvent.objects.count() == before


def test_another_brands_conversations_are_ignored(sign_in, agent, three, other_conversation):
    client = sign_in(agent)
    response = _post(client, [other_conversation], operation="assign", assign_to="me")
    assert _fresh(other_conversation).assignee is None
    assert "Select at least one conversation first." in response.content.decode()
    assert "TEL-1" not in response.content.decode()

    _post(client, [three[0], other_conversation], operation="status", status="pending")
    assert _fresh(three[0]).status == "pending"
    assert _fresh(other_conversation).status == "new"


def test_an_unknown_operation_or_missing_choice_is_a_message_not_an_error(sign_in, agent, three):
    client = sign_in(agent)
    assert "Choose what to do" in _post(client, three[:1], operation="explode").content.decode()
    assert "Choose a status." in _post(client, three[:1], operation="status").content.decode()
    assert "Write the tag to add." in _post(client, three[:1], operation="tag").content.decode()
    assert (
        "Choose someone"
        in _post(client, three[:1], operation="assign", assign_to="user:999999").content.decode()
    )


def test_bulk_needs_sign_in_and_post(client, sign_in, agent):
    assert client.post("/inbox/bulk/").status_code == 302
    assert sign_in(agent).get("/inbox/bulk/").status_code == 405


def test_the_return_address_is_only_ever_this_pages_query(sign_in, agent, three):
    response = sign_in(agent).post(
        "/inbox/bulk/",
        {
            "conversation": [str(three[0].pk)],
            "operation": "assign",
            "assign_to": "me",
            "return_query": "view=all\r\nSet-Cookie: x=1&//evil.example",
        },
    )
    assert response.status_code == 302
    assert response.url.startswith("/?view=all")
    assert "\n" not in response.url
    assert "//evil" not in response.url.split("?")[0]
