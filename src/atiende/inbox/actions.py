"""Every write of the inbox: saved views and read markers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, TeamMembership, User
from atiende.accounts.permissions import Actor, can, require
from atiende.accounts.roles import Capability
from atiende.conversations.models import Conversation
from atiende.core.actions import action
from atiende.inbox.events import SavedViewEventType, record_saved_view_event
from atiende.inbox.filters import VIEWS, InboxFilter, filter_to_dict
from atiende.inbox.models import ConversationRead, SavedView


def _may_share_with(user: User, team: Team) -> bool:
    """Members share views with their team; a brand's administrators with any of its teams."""
    if can(user, Capability.CONFIGURE_BRAND, team.brand_id):
        return True
    return can(user, Capability.VIEW_CONVERSATIONS, team.brand_id) and (
        TeamMembership.objects.filter(team=team, user=user).exists()
    )


@action
def save_view(
    *,
    owner: User,
    actor: Actor,
    name: str,
    view: str,
    inbox_filter: InboxFilter,
    team: Team | None = None,
) -> SavedView:
    """Save a filter under a name, for its owner or (``team``) for the owner's team too.

    People save views for themselves only: ``actor`` must be ``owner``.
    """
    if actor != owner:
        raise PermissionDenied("Saved views are saved by their owner")
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("Give the view a name."), code="name_missing")
    if len(name) > 80:
        raise ValidationError(_("A view's name has at most 80 characters."), code="name_too_long")
    if view not in VIEWS:
        raise ValidationError(_("Unknown view."), code="unknown_view")
    if team is not None and not _may_share_with(owner, team):
        raise PermissionDenied("Views are shared only with one's own teams")
    last = SavedView.objects.filter(owner=owner).aggregate(last=Max("position"))["last"]
    saved = SavedView.objects.create(
        name=name,
        owner=owner,
        team=team,
        brand_id=team.brand_id if team is not None else None,
        view=view,
        filter=filter_to_dict(inbox_filter),
        sort=inbox_filter.sort,
        position=0 if last is None else last + 1,
    )
    record_saved_view_event(
        saved,
        SavedViewEventType.CREATED,
        actor=actor,
        payload={"name": name, "view": view, "filter": saved.filter, "team": saved.team_id},
    )
    return saved


def may_delete_view(user: Any, saved_view: SavedView) -> bool:
    if saved_view.owner_id == getattr(user, "pk", None):
        return True
    return saved_view.brand_id is not None and can(
        user, Capability.CONFIGURE_BRAND, saved_view.brand_id
    )


@action
def delete_view(*, saved_view: SavedView, actor: Actor) -> None:
    """Its owner deletes a view; a shared one may also be removed by the brand's administrators."""
    if not may_delete_view(actor, saved_view):
        raise PermissionDenied("Only its owner deletes a saved view")
    record_saved_view_event(
        saved_view,
        SavedViewEventType.DELETED,
        actor=actor,
        payload={"id": saved_view.pk, "name": saved_view.name, "team": saved_view.team_id},
    )
    saved_view.delete()


@action
def mark_read(*, conversation: Conversation, actor: Actor) -> ConversationRead | None:
    """Record that ``actor`` has seen the conversation as it is now (its unread marker clears).

    Called when a staff user opens the conversation's page. System actors read nothing.
    """
    if not isinstance(actor, User):
        return None
    require(actor, Capability.VIEW_CONVERSATIONS, conversation.brand_id)
    # One upsert, not update_or_create's locked read and then a write: this runs on every
    # opening of a conversation page.
    (marker,) = ConversationRead.objects.bulk_create(
        [ConversationRead(user=actor, conversation=conversation, read_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user", "conversation"],
        update_fields=["read_at"],
    )
    return marker
