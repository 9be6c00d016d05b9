"""Saved views (private or shared with a team), the inbox's actions and their events."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from atiende.accounts.actions import add_team_member
from atiende.core.actions import WriteOutsideAction
from atiende.inbox import actions
from atiende.inbox.filters import InboxFilter
from atiende.inbox.models import ConversationRead, SavedView, SavedViewEvent
from atiende.inbox.queries import saved_views_for
from atiende.inbox.tests.helpers import imported

pytestmark = pytest.mark.django_db


def test_every_inbox_action_is_covered_here():
    declared = {name for name, value in vars(actions).items() if getattr(value, "is_action", False)}
    assert declared == {"save_view", "delete_view", "mark_read"}


def test_saving_and_deleting_a_view_each_write_one_event_and_reading_writes_none(
    agent, conversation
):
    saved = actions.save_view(
        owner=agent,
        actor=agent,
        name="  Urgentes   de chat ",
        view="all",
        inbox_filter=InboxFilter(priorities=("urgent",), channels=("chat",), sort="updated"),
    )
    assert saved.name == "Urgentes de chat"
    assert saved.filter == {"priority": ["urgent"], "channel": ["chat"], "sort": "updated"}
    assert list(SavedViewEvent.objects.values_list("type", "saved_view_id")) == [
        ("saved_view.created", saved.pk)
    ]
    actions.mark_read(conversation=conversation, actor=agent)
    actions.mark_read(conversation=conversation, actor=agent)
    assert ConversationRead.objects.filter(user=agent).count() == 1
    assert SavedViewEvent.objects.count() == 1

    actions.delete_view(saved_view=saved, actor=agent)
    assert not SavedView.objects.exists()
    deleted = SavedViewEvent.objects.get(type="saved_view.deleted")
    assert deleted.payload["name"] == "Urgentes de chat"
    assert deleted.actor == agent


def test_guarded_rows_are_written_only_through_actions(agent, conversation):
    with pytest.raises(WriteOutsideAction):
        SavedView(name="x", owner=agent).save()
    with pytest.raises(WriteOutsideAction):
        ConversationRead(
            user=agent, conversation=conversation, read_at=conversation.created_at
        ).save()


def test_views_are_saved_by_their_owner_with_a_name(agent, supervisor, team):
    with pytest.raises(PermissionDenied):
        actions.save_view(
            owner=agent, actor=supervisor, name="Ajena", view="all", inbox_filter=InboxFilter()
        )
    with pytest.raises(ValidationError):
        actions.save_view(
            owner=agent, actor=agent, name="   ", view="all", inbox_filter=InboxFilter()
        )
    with pytest.raises(ValidationError):
        actions.save_view(
            owner=agent, actor=agent, name="x", view="other", inbox_filter=InboxFilter()
        )
    # Only with a team one belongs to.
    with pytest.raises(PermissionDenied):
        actions.save_view(
            owner=agent, actor=agent, name="x", view="all", inbox_filter=InboxFilter(), team=team
        )


def test_reading_needs_sight_of_the_brand(outsider, conversation, system):
    with pytest.raises(PermissionDenied):
        actions.mark_read(conversation=conversation, actor=outsider)
    assert actions.mark_read(conversation=conversation, actor=system) is None


def test_a_private_view_is_saved_listed_applied_and_deleted_by_its_owner_only(
    sign_in, client, agent, supervisor, brand, customer, system
):
    imported(
        brand,
        customer,
        system,
        {"priority": "urgent", "channel": "chat"},
        {"priority": "low", "channel": "chat"},
    )
    owner = sign_in(agent)
    response = owner.post(
        "/inbox/views/", {"name": "Urgentes", "return_query": "view=all&priority=urgent"}
    )
    saved = SavedView.objects.get()
    assert response.status_code == 302
    assert response.url == f"/?saved={saved.pk}"
    assert (saved.owner, saved.team, saved.view, saved.filter) == (
        agent, None, "all", {"priority": ["urgent"]}
    )  # fmt: skip

    page = owner.get(f"/?saved={saved.pk}")
    assert [row.conversation.reference for row in page.context["page"].rows] == ["SOL-1"]
    assert "Urgentes" in page.content.decode()
    assert f'href="/?saved={saved.pk}" aria-current="page"' in page.content.decode()

    client.logout()
    other = sign_in(supervisor)
    assert list(saved_views_for(supervisor)) == []
    foreign = other.get(f"/?saved={saved.pk}&view=all", HTTP_ACCEPT_LANGUAGE="en")
    assert foreign.context["saved"] is None
    assert len(foreign.context["page"].rows) == 2
    assert "Urgentes" not in foreign.content.decode()
    assert other.post(f"/inbox/views/{saved.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=saved.pk).exists()

    client.logout()
    response = sign_in(agent).post(f"/inbox/views/{saved.pk}/delete/")
    assert response.status_code == 302
    assert not SavedView.objects.exists()


def test_a_view_shared_with_a_team_is_seen_by_its_members_and_deleted_by_its_owner(
    sign_in, client, agent, supervisor, brand_admin, outsider, team, system
):
    add_team_member(team=team, user=agent, actor=system)
    add_team_member(team=team, user=supervisor, actor=system)
    response = sign_in(agent).post(
        "/inbox/views/",
        {"name": "Del equipo", "team": str(team.pk), "return_query": "view=teams&status=pending"},
    )
    assert response.status_code == 302
    shared = SavedView.objects.get()
    assert (shared.team, shared.brand_id) == (team, team.brand_id)

    client.logout()
    colleague = sign_in(supervisor)
    assert list(saved_views_for(supervisor)) == [shared]
    page = colleague.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Del equipo" in page
    assert "Delete the view Del equipo" not in page
    colleague.post(f"/inbox/views/{shared.pk}/delete/")
    assert SavedView.objects.filter(pk=shared.pk).exists()

    client.logout()
    assert list(saved_views_for(outsider)) == []
    assert sign_in(outsider).post(f"/inbox/views/{shared.pk}/delete/").status_code == 404
    client.logout()
    assert list(saved_views_for(brand_admin)) == []  # not in the team: not in their sidebar
    sign_in(agent).post(f"/inbox/views/{shared.pk}/delete/")
    assert not SavedView.objects.exists()


def test_sharing_with_a_team_one_is_not_in_is_refused(sign_in, agent, team):
    response = sign_in(agent).post(
        "/inbox/views/",
        {"name": "Intruso", "team": str(team.pk), "return_query": "view=all"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert not SavedView.objects.exists()
    assert "You can share a view only with a team you belong to." in response.content.decode()


def test_a_nameless_view_is_refused_with_a_message(sign_in, agent):
    response = sign_in(agent).post(
        "/inbox/views/",
        {"name": " ", "return_query": "view=all"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert not SavedView.objects.exists()
    assert "Give the view a name." in response.content.decode()


def test_the_admin_lists_views_and_read_markers_within_the_brand(
    sign_in, client, superuser, brand_admin, outsider_admin, agent, team, system, conversation
):
    add_team_member(team=team, user=agent, actor=system)
    shared = actions.save_view(
        owner=agent,
        actor=agent,
        name="Compartida",
        view="teams",
        inbox_filter=InboxFilter(),
        team=team,
    )
    actions.save_view(
        owner=agent, actor=agent, name="Privada", view="all", inbox_filter=InboxFilter()
    )
    actions.mark_read(conversation=conversation, actor=agent)
    root = sign_in(superuser)
    for path in (
        "/admin/inbox/savedview/",
        "/admin/inbox/conversationread/",
        "/admin/inbox/savedviewevent/",
    ):
        assert root.get(path).status_code == 200
    client.logout()
    page = sign_in(brand_admin).get("/admin/inbox/savedview/").content.decode()
    assert "Compartida" in page
    assert "Privada" not in page
    assert (
        sign_in(brand_admin).get(f"/admin/inbox/savedview/{shared.pk}/change/").status_code == 200
    )
    client.logout()
    assert sign_in(outsider_admin).get(
        f"/admin/inbox/savedview/{shared.pk}/change/"
    ).status_code in (
        302,
        404,
    )
