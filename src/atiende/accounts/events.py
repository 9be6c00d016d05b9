"""What can happen to a staff account, as recorded in AccountEvent.type."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.models import AccountEvent, Team, User
from atiende.accounts.permissions import actor_fields


class AccountEventType(models.TextChoices):
    CREATED = "account.created", _("Account created")
    ROLE_GRANTED = "account.role_granted", _("Role granted")
    ROLE_REVOKED = "account.role_revoked", _("Role revoked")
    TEAM_JOINED = "account.team_joined", _("Joined a team")
    TEAM_LEFT = "account.team_left", _("Left a team")
    SKILL_SET = "account.skill_set", _("Skill set")
    PREFERENCES_CHANGED = "account.preferences_changed", _("Preferences changed")
    PASSWORD_SET = "account.password_set", _("Password set")
    TEAM_CREATED = "team.created", _("Team created")
    TEAM_UPDATED = "team.updated", _("Team updated")


def record_account_event(
    user: User | None,
    type: str,
    *,
    actor: Any,
    brand_id: int | None = None,
    team: Team | None = None,
    payload: dict[str, Any] | None = None,
) -> AccountEvent:
    return AccountEvent.objects.create(
        user=user,
        team=team,
        brand_id=brand_id,
        type=type,
        payload=payload or {},
        **actor_fields(actor),
    )
