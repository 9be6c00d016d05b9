"""Properties edited in place: each through its action, only what the lifecycle and the role allow."""

from __future__ import annotations

import pytest
from django.urls import reverse

from atiende.conversations.models import Category, ConversationEvent

pytestmark = pytest.mark.django_db


def _url(conversation):
    return reverse(
        "web:conversation_properties", args=[conversation.brand.slug, conversation.number]
    )


def _page(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _post(client, conversation, field, value, **extra):
    return client.post(_url(conversation), {"field": field, "value": value}, **extra)


def _types(conversation):
    return list(
        ConversationEvent.objects.filter(conversation=conversation)
        .exclude(type="conversation.created")
        .values_list("type", flat=True)
    )


def test_status_changes_through_its_action_and_offers_only_allowed_moves(
    sign_in, agent, conversation
):
    client = sign_in(agent)
    response = _post(client, conversation, "status", "pending", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    assert _types(conversation) == ["conversation.status_changed"]
    panel = response.content.decode()
    assert panel.lstrip().startswith('<section id="properties"')
    assert "atiende:timeline-changed" in response["HX-Trigger"]
    # From pending: open, on hold, solved, and pending itself; never new or closed.
    status_select = panel[panel.index('value="status"') : panel.index('value="priority"')]
    assert 'value="new"' not in status_select
    assert 'value="closed"' not in status_select
    for allowed in ("open", "pending", "on_hold", "solved"):
        assert f'value="{allowed}"' in status_select


def test_a_forbidden_transition_is_explained_not_crashed(sign_in, agent, conversation):
    response = _post(
        sign_in(agent),
        conversation,
        "status",
        "closed",
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "A conversation cannot go from New to Closed." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == "new"


def test_priority_assignee_team_category_and_tags_each_use_their_action(
    sign_in, agent, supervisor, team, brand, conversation
):
    delivery = Category.objects.create(brand=brand, name="Entregas")
    client = sign_in(agent)
    for field, value in (
        ("priority", "urgent"),
        ("assignee", str(supervisor.pk)),
        ("team", str(team.pk)),
        ("category", str(delivery.pk)),
        ("tags", "VIP, reembolso ,"),
    ):
        assert _post(client, conversation, field, value).status_code == 302

    conversation.refresh_from_db()
    assert conversation.priority == "urgent"
    assert conversation.assignee == supervisor
    assert conversation.team == team
    assert conversation.category == delivery
    assert sorted(tag.name for tag in conversation.tags.all()) == ["reembolso", "vip"]
    assert _types(conversation) == [
        "conversation.priority_changed",
        "conversation.assigned",
        "conversation.assigned",
        "conversation.categorized",
        "conversation.tagged",
    ]
    # Setting the same value again records nothing.
    _post(client, conversation, "tags", "vip, reembolso")
    _post(client, conversation, "priority", "urgent")
    assert len(_types(conversation)) == 5
    # Unassigning and clearing the category.
    _post(client, conversation, "assignee", "")
    _post(client, conversation, "category", "")
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.category, conversation.team) == (None, None, team)


def test_someone_of_another_brand_cannot_be_assigned(
    sign_in, agent, outsider, client_viewer, conversation
):
    client = sign_in(agent)
    for person in (outsider, client_viewer):
        response = _post(
            client,
            conversation,
            "assignee",
            str(person.pk),
            HTTP_HX_REQUEST="true",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 200
        assert "There is no such agent in this brand." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_a_team_or_category_of_another_brand_is_refused(
    sign_in, system, agent, other_brand, conversation
):
    from atiende.accounts.actions import create_team

    foreign_team = create_team(brand=other_brand, name="Ventas", actor=system)
    foreign_category = Category.objects.create(brand=other_brand, name="Portabilidad")
    client = sign_in(agent)
    _post(client, conversation, "team", str(foreign_team.pk))
    _post(client, conversation, "category", str(foreign_category.pk))
    conversation.refresh_from_db()
    assert (conversation.team, conversation.category) == (None, None)
    assert _types(conversation) == []


def test_a_client_viewer_sees_values_but_no_forms_and_cannot_post(
    sign_in, client_viewer, system, agent, conversation
):
    from atiende.conversations.actions import assign_conversation

    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    client = sign_in(client_viewer)
    page = client.get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    panel = page[page.index('id="properties"') : page.index('id="customer-title"')]
    assert "<form" not in panel
    assert "Alba Agente" in panel
    for field, value in (("status", "pending"), ("priority", "high"), ("tags", "x")):
        response = _post(client, conversation, field, value, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403
        assert "You may read this conversation but not change it." in response.content.decode()
    response = _post(client, conversation, "assignee", str(agent.pk))
    assert response.status_code == 403
    assert _types(conversation) == ["conversation.assigned"]


def test_the_properties_of_another_brand_are_not_found(sign_in, outsider, conversation):
    client = sign_in(outsider)
    assert _post(client, conversation, "priority", "high").status_code == 404
    assert client.get(_url(conversation)).status_code == 404


def test_an_unknown_property_is_a_bad_request(sign_in, agent, conversation):
    assert _post(sign_in(agent), conversation, "brand", "1").status_code == 400


def test_the_panel_can_be_fetched_alone(sign_in, agent, conversation):
    response = sign_in(agent).get(_url(conversation))
    assert response.status_code == 200
    assert 'hx-trigger="atiende:properties-changed from:body"' in response.content.decode()
