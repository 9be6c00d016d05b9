"""The colleagues an internal note called in (@name) are named on the note in the timeline."""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from atiende.accounts.actions import create_staff_user, grant_brand_role, revoke_brand_role
from atiende.accounts.roles import Role
from atiende.conversations.actions import add_internal_note, start_conversation
from atiende.web.timeline import timeline_for

pytestmark = pytest.mark.django_db


def _url(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _colleague(system, brand, email, name):
    user = create_staff_user(email=email, full_name=name, password=PASSWORD, actor=system)
    grant_brand_role(user=user, brand=brand, role=Role.AGENT, actor=system)
    return user


def _mentions(timeline):
    return [entry.mentions for entry in timeline if entry.message is not None]


def test_a_note_names_the_colleagues_it_mentions_by_name(
    system, agent, supervisor, brand, conversation
):
    luis = _colleague(system, brand, "luis@tienda.test", "Luis Gómez")
    add_internal_note(
        conversation=conversation,
        actor=agent,
        body_text="@Sergio Supervisor @Luis Gómez ¿lo veis?",
        mentions=[supervisor, luis],
    )
    add_internal_note(conversation=conversation, actor=agent, body_text="Sin menciones")

    timeline = timeline_for(conversation, viewer=agent)

    assert _mentions(timeline) == [(), ("Luis Gómez", "Sergio Supervisor"), ()]


def test_the_page_says_who_was_mentioned_under_the_notes_header(
    sign_in, system, agent, supervisor, conversation
):
    note = add_internal_note(
        conversation=conversation, actor=agent, body_text="Mira esto", mentions=[supervisor]
    )
    client = sign_in(agent)

    english = client.get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = client.get(_url(conversation), HTTP_ACCEPT_LANGUAGE="es").content.decode()

    line = '<p class="message-mentions">Mentioned: Sergio Supervisor</p>'
    assert line in english
    item = english[english.index(f'id="message-{note.pk}"') :]
    assert item.index("</header>") < item.index(line) < item.index("Mira esto")
    assert '<p class="message-mentions">Mencionó a: Sergio Supervisor</p>' in spanish


def test_the_mentioned_names_are_escaped(sign_in, system, agent, brand, conversation):
    hostile = _colleague(system, brand, "raro@tienda.test", '<img src=x onerror="alert(1)">')
    add_internal_note(conversation=conversation, actor=agent, body_text="Hola", mentions=[hostile])

    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "<img src=x" not in page
    assert "Mentioned: &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_someone_the_viewer_may_no_longer_see_is_not_named(
    system, agent, supervisor, brand, conversation
):
    luis = _colleague(system, brand, "luis@tienda.test", "Luis Gómez")
    add_internal_note(
        conversation=conversation, actor=agent, body_text="Hola", mentions=[supervisor, luis]
    )
    revoke_brand_role(user=supervisor, brand=brand, actor=system)

    assert _mentions(timeline_for(conversation, viewer=agent)) == [(), ("Luis Gómez",)]


def test_the_timeline_after_a_message_keeps_the_mentions_of_a_later_note(
    system, agent, supervisor, conversation
):
    first = conversation.messages.get()
    add_internal_note(
        conversation=conversation, actor=agent, body_text="Hola", mentions=[supervisor]
    )

    with translation.override("en"):
        after = timeline_for(conversation, viewer=agent, after=first)

    assert _mentions(after) == [("Sergio Supervisor",)]


def _noted_conversation(system, agent, colleagues, brand, customer, notes):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Inicio"
    )
    for index in range(notes):
        add_internal_note(
            conversation=conversation,
            actor=agent,
            body_text=f"Nota {index}",
            mentions=colleagues[: 1 + index % len(colleagues)],
        )
    return conversation


def test_mentions_cost_the_same_queries_for_2_or_20_notes(
    sign_in, django_assert_max_num_queries, system, agent, supervisor, brand, customer
):
    colleagues = [supervisor, _colleague(system, brand, "luis@tienda.test", "Luis Gómez")]
    client = sign_in(agent)
    short = _noted_conversation(system, agent, colleagues, brand, customer, 2)
    long = _noted_conversation(system, agent, colleagues, brand, customer, 20)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(_url(short), HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    with django_assert_max_num_queries(len(captured)):
        response = client.get(_url(long), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert page.count('class="message-mentions"') == 20
    assert page.count("Mentioned: Luis Gómez, Sergio Supervisor") == 10

    # The timeline alone: the same handful of queries whatever the number of notes.
    with CaptureQueriesContext(connection) as few:
        timeline_for(short, viewer=agent)
    with django_assert_max_num_queries(len(few)):
        timeline_for(long, viewer=agent)
