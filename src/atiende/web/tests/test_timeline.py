"""How the conversation page tells what happened, independent of the page itself."""

from __future__ import annotations

import pytest
from django.utils import translation

from atiende.accounts.actions import revoke_brand_role
from atiende.conversations.actions import (
    assign_conversation,
    change_priority,
    receive_customer_message,
    set_conversation_tags,
)
from atiende.web.timeline import timeline_for

pytestmark = pytest.mark.django_db


def _titles(timeline):
    return [entry.event.title for entry in timeline if entry.event]


def test_an_event_that_only_records_a_message_is_left_out(system, agent, conversation):
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Otra vez"
    )
    with translation.override("en"):
        timeline = timeline_for(conversation, viewer=agent)
    assert [entry.message.body_text for entry in timeline if entry.message] == [
        "Hola, el pedido 1001 debía llegar el lunes y no ha llegado.",
        "Otra vez",
    ]
    assert _titles(timeline) == []


def test_changes_are_told_with_labels_and_names(system, agent, team, conversation):
    assign_conversation(conversation=conversation, assignee=agent, team=team, actor=agent)
    change_priority(conversation=conversation, priority="urgent", actor=agent)
    set_conversation_tags(conversation=conversation, tags=["vip"], actor=agent)

    with translation.override("en"):
        timeline = timeline_for(conversation, viewer=agent)
        changes = [
            (change.field, change.before, change.after)
            for entry in timeline
            if entry.event
            for change in entry.event.changes
        ]

    assert _titles(timeline) == ["Assignment changed", "Priority changed", "Tags changed"]
    assert {entry.event.actor for entry in timeline if entry.event} == {"Alba Agente"}
    assert changes == [
        ("Assignee", "nobody", "Alba Agente"),
        ("Team", "no team", "Soporte"),
        ("Priority", "Normal", "Urgent"),
        ("Tags", "no tags", "vip"),
    ]


def test_someone_no_longer_in_the_brand_is_not_named(
    system, agent, supervisor, brand, conversation
):
    assign_conversation(conversation=conversation, assignee=supervisor, actor=system)
    revoke_brand_role(user=supervisor, brand=brand, actor=system)

    with translation.override("en"):
        timeline = timeline_for(conversation, viewer=agent)

    (assignment,) = [entry.event for entry in timeline if entry.event]
    assert [(change.before, change.after) for change in assignment.changes] == [("nobody", "—")]


def test_html_for_display_holds_back_remote_images_and_maps_inline_ones():
    from atiende.conversations.html import html_for_display, sanitize_html

    stored = sanitize_html(
        '<p>Hola</p><img src="https://t.example/p.gif"><img src="//t.example/q.gif">'
        '<img src="cid:<logo@x>"><img src="cid:missing"><img src="/admin/">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    html, blocked = html_for_display(
        stored,
        inline_images={"logo@x": "/attachments/7/preview/"},
        load_remote_images=False,
        placeholder="/static/web/remote-image.svg",
    )
    assert blocked == 2
    assert "t.example" not in html
    assert '<img src="/attachments/7/preview/">' in html
    assert "cid:" not in html
    assert "/admin/" not in html
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in html

    shown, none_blocked = html_for_display(
        stored, inline_images={}, load_remote_images=True, placeholder="-"
    )
    assert none_blocked == 0
    assert 'src="https://t.example/p.gif"' in shown


def test_the_timeline_after_a_message_keeps_only_what_follows_it(system, agent, conversation):
    first = conversation.messages.get()
    second = receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Dos"
    )
    change_priority(conversation=conversation, priority="high", actor=agent)

    with translation.override("en"):
        after_first = timeline_for(conversation, viewer=agent, after=first)
        after_second = timeline_for(conversation, viewer=agent, after=second)

    assert after_first[0].dom_id == f"message-{second.pk}"
    assert [entry.message for entry in after_second if entry.message] == []
    assert _titles(after_second) == ["Priority changed"]
