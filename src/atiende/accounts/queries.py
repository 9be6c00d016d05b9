"""Reads of staff, teams and skills, scoped to the person asking."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atiende.accounts.models import Team, User
from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability


def teams_visible_to(user: Any) -> QuerySet[Team]:
    brand_ids = brand_ids_with(user, Capability.VIEW_CONVERSATIONS)
    teams = Team.objects.select_related("brand")
    return teams if brand_ids is None else teams.filter(brand_id__in=brand_ids)


def colleagues_visible_to(user: Any) -> QuerySet[User]:
    """Staff who hold a role in a brand ``user`` can see (for assignment pickers and mentions)."""
    brand_ids = brand_ids_with(user, Capability.VIEW_CONVERSATIONS)
    users = User.objects.filter(is_active=True)
    if brand_ids is not None:
        users = users.filter(memberships__brand_id__in=brand_ids)
    return users.distinct().order_by("full_name", "email")
