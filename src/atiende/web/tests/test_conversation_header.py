"""The page header (status, priority, assignee, SLA) follows an edit of the properties panel."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from atiende.conversations.actions import reply_to_conversation

pytestmark = pytest.mark.django_db


def _url(conversation):
    return reverse(
        "web:conversation_properties", args=[conversation.brand.slug, conversation.number]
    )


def _page(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _post(client, conversation, field, value, **extra):
    return client.post(
        _url(conversation), {"field": field, "value": value}, HTTP_ACCEPT_LANGUAGE="en", **extra
    )


def _facts(html):
    """The header's facts in ``html``, by the id the page gives them."""
    found = re.search(r'<dl class="facts" id="conversation-facts"[^>]*>.*?</dl>', html, re.S)
    assert found, "no header facts"
    return found.group(0)


def test_an_htmx_edit_sends_the_header_again_out_of_band(sign_in, agent, team, conversation):
    client = sign_in(agent)

    response = _post(client, conversation, "status", "pending", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="properties"')
    facts = _facts(html)
    assert html.index("</section>") < html.index(facts)
    assert 'hx-swap-oob="true"' in facts
    assert '<span class="badge badge--pending">Pending</span>' in facts

    facts = _facts(_post(client, conversation, "priority", "urgent", HTTP_HX_REQUEST="true").text)
    assert '<span class="priority priority--urgent">Urgent</span>' in facts

    facts = _facts(
        _post(client, conversation, "assignee", str(agent.pk), HTTP_HX_REQUEST="true").text
    )
    assert "Alba Agente" in facts
    assert "Unassigned" not in facts


def test_the_panel_fetched_after_a_reply_brings_the_header_along(sign_in, agent, conversation):
    # A reply may change the status; the page then fetches the panel (atiende:properties-changed).
    reply_to_conversation(
        conversation=conversation, actor=agent, body_text="Enviado", status="solved"
    )
    response = sign_in(agent).get(
        _url(conversation), HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert '<span class="badge badge--solved">Solved</span>' in _facts(response.content.decode())


def test_without_htmx_the_edit_redirects_to_a_page_with_the_new_header(
    sign_in, agent, conversation
):
    client = sign_in(agent)

    response = _post(client, conversation, "status", "pending")

    assert response.status_code == 302
    assert response["Location"] == _page(conversation)
    page = client.get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    facts = _facts(page)
    assert "hx-swap-oob" not in facts
    assert page.count('id="conversation-facts"') == 1
    assert '<span class="badge badge--pending">Pending</span>' in facts
    # The panel alone, without htmx, is only the panel.
    assert "conversation-facts" not in client.get(_url(conversation)).content.decode()


def test_a_refused_edit_sends_the_header_unchanged(sign_in, agent, conversation):
    response = _post(sign_in(agent), conversation, "status", "closed", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'role="alert"' in html
    assert '<span class="badge badge--new">New</span>' in _facts(html)
