"""Merge, undo and split from the conversation page (CV5), through the conversations' actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from atiende.conversations.actions import receive_customer_message, start_conversation
from atiende.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


def _url(name, conversation):
    return reverse(name, args=[conversation.brand.slug, conversation.number])


def _page(conversation):
    return _url("web:conversation", conversation)


@pytest.fixture(autouse=True)
def english(client):
    """These tests read the pages' English texts; the installation's default language is Spanish."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def duplicate(brand, customer, system):
    return start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject="Pedido sin llegar (chat)",
        body_text="Escribo también por el chat: el pedido 1001 no llegó.",
    )


def test_merging_by_reference_moves_the_messages_and_leaves_a_pointer(
    sign_in, agent, conversation, duplicate
):
    client = sign_in(agent)
    response = client.post(_url("web:conversation_merge", duplicate), {"target": "sol-1"})

    assert response.status_code == 302
    assert response.url == _page(duplicate)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == conversation.pk
    assert duplicate.status == "closed"
    assert sorted(m.body_text[:9] for m in conversation.messages.all()) == [
        "Escribo t",
        "Hola, el ",
    ]
    pointer = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "SOL-2 was merged into SOL-1." in pointer
    assert "This conversation was merged into" in pointer
    assert f'<a href="{_page(conversation)}">SOL-1</a>' in pointer
    assert _url("web:conversation_undo_merge", duplicate) in pointer
    assert 'id="composer"' not in pointer
    assert _url("web:conversation_merge", duplicate) not in pointer
    target_page = client.get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Escribo también por el chat" in target_page


def test_undo_from_the_pointer_banner_gives_the_messages_back(
    sign_in, agent, conversation, duplicate
):
    client = sign_in(agent)
    client.post(_url("web:conversation_merge", duplicate), {"target": "SOL-1"})

    response = client.post(_url("web:conversation_undo_merge", duplicate))

    assert response.status_code == 302
    assert response.url == _page(duplicate)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    assert duplicate.status == "new"
    assert duplicate.messages.count() == 1
    assert conversation.messages.count() == 1
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The merge was undone." in page
    assert "Merge undone" in page


def test_a_wrong_reference_is_explained_and_nothing_moves(
    sign_in, agent, conversation, duplicate, other_conversation
):
    client = sign_in(agent)
    for target, reason in (
        ("SOL-99", "There is no conversation SOL-99."),
        ("TEL-1", "TEL-1 is not a reference of this brand (SOL-…)."),
        ("pedido", "Write the reference as SOL-12."),
        ("SOL-2", "A conversation cannot be merged into itself."),
    ):
        response = client.post(
            _url("web:conversation_merge", duplicate),
            {"target": target},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 422, target
        assert reason in response.content.decode(), target
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_a_bare_number_is_taken_in_the_conversations_own_brand(
    sign_in, agent, conversation, other_conversation, duplicate
):
    # TEL-1 exists too, but "1" names SOL-1: a merge never reaches into another brand.
    assert (conversation.number, other_conversation.number) == (1, 1)
    response = sign_in(agent).post(
        _url("web:conversation_merge", duplicate), {"target": "1"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302
    assert other_conversation.messages.count() == 1
    assert conversation.messages.count() == 2


def test_split_moves_the_ticked_messages_into_a_new_conversation(
    sign_in, system, agent, conversation
):
    second = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Otra cosa: quiero cambiar la dirección de facturación.",
    )
    client = sign_in(agent)
    page = client.get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'name="messages" value="{second.pk}" form="split-form"' in page
    assert "Split into a new conversation" in page

    response = client.post(
        _url("web:conversation_split", conversation),
        {"messages": [second.pk], "subject": "Dirección de facturación"},
    )

    new = Conversation.objects.get(number=2, brand=conversation.brand)
    assert response.status_code == 302
    assert response.url == _page(new)
    assert new.subject == "Dirección de facturación"
    assert Message.objects.get(pk=second.pk).conversation_id == new.pk
    assert conversation.messages.count() == 1
    assert (
        "The chosen messages are now SOL-2."
        in client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )


def test_split_needs_a_choice_and_refuses_messages_of_other_conversations(
    sign_in, system, agent, conversation, duplicate
):
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Segundo"
    )
    client = sign_in(agent)
    response = client.post(
        _url("web:conversation_split", conversation), {}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 422
    assert "Choose the messages to split off." in response.content.decode()
    foreign = duplicate.messages.get()
    response = client.post(_url("web:conversation_split", conversation), {"messages": [foreign.pk]})
    assert response.status_code == 422
    assert Message.objects.get(pk=foreign.pk).conversation_id == duplicate.pk


def test_readers_and_outsiders_cannot_merge_undo_or_split(
    sign_in, client_viewer, outsider, agent, conversation, duplicate
):
    viewer = sign_in(client_viewer)
    assert (
        viewer.post(_url("web:conversation_merge", duplicate), {"target": "SOL-1"}).status_code
        == 403
    )
    assert viewer.post(_url("web:conversation_undo_merge", duplicate)).status_code == 403
    first = conversation.messages.get()
    assert (
        viewer.post(
            _url("web:conversation_split", conversation), {"messages": [first.pk]}
        ).status_code
        == 403
    )
    page = viewer.get(_page(conversation)).content.decode()
    assert 'id="split-form"' not in page
    assert _url("web:conversation_merge", conversation) not in page

    stranger = sign_in(outsider)
    assert (
        stranger.post(_url("web:conversation_merge", duplicate), {"target": "SOL-1"}).status_code
        == 404
    )
    assert stranger.post(_url("web:conversation_undo_merge", duplicate)).status_code == 404
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
