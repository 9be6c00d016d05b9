"""Every change to staff accounts, their roles, teams and skills."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from atiende.accounts.events import AccountEventType, record_account_event
from atiende.accounts.models import AgentSkill, BrandMembership, Skill, Team, TeamMembership, User
from atiende.accounts.permissions import (
    Actor,
    brand_ids_with,
    forget_brand_roles,
    is_unrestricted,
    require,
)
from atiende.accounts.roles import Capability, Role
from atiende.brands.models import Brand
from atiende.core.actions import action


@action
def create_staff_user(
    *,
    email: str,
    full_name: str,
    actor: Actor,
    password: str | None = None,
    language: str = "",
    time_zone: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """A new staff account. Brand administrators may add people; they get access through roles.
    Only installation administrators (and the system) create other installation administrators."""
    if not is_unrestricted(actor) and not brand_ids_with(actor, Capability.CONFIGURE_BRAND):
        raise PermissionDenied("Only administrators may create staff accounts")
    if is_superuser and not is_unrestricted(actor):
        raise PermissionDenied(
            "Only installation administrators may create installation administrators"
        )
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            _("There is already an account for %(email)s."),
            code="duplicate_email",
            params={"email": email},
        )
    user = User(
        email=email,
        full_name=full_name.strip(),
        language=language,
        time_zone=time_zone,
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    user.full_clean(exclude=["password"])
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.save()
    record_account_event(user, AccountEventType.CREATED, actor=actor, payload={"email": email})
    return user


@action
def set_password(*, user: User, password: str | None, actor: Actor) -> User:
    """Set (or, with ``None``, disable) a password: by the user or an installation administrator."""
    if not is_unrestricted(actor) and actor != user:
        raise PermissionDenied("Only the user or an installation administrator may set a password")
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.save(update_fields=["password"])
    record_account_event(user, AccountEventType.PASSWORD_SET, actor=actor)
    return user


@action
def grant_brand_role(*, user: User, brand: Brand, role: str, actor: Actor) -> BrandMembership:
    """Give ``user`` ``role`` in ``brand`` (replacing any role they had there)."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    role = Role(role)
    membership, created = BrandMembership.objects.select_for_update().get_or_create(
        user=user, brand=brand, defaults={"role": role}
    )
    before = None if created else membership.role
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    forget_brand_roles(user)
    record_account_event(
        user,
        AccountEventType.ROLE_GRANTED,
        actor=actor,
        brand_id=brand.pk,
        payload={"changes": {"role": [before, role.value]}},
    )
    return membership


@action
def revoke_brand_role(*, user: User, brand: Brand, actor: Actor) -> None:
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    membership = BrandMembership.objects.filter(user=user, brand=brand).first()
    if membership is None:
        return
    role = membership.role
    membership.delete()
    TeamMembership.objects.filter(user=user, team__brand=brand).delete()
    forget_brand_roles(user)
    record_account_event(
        user, AccountEventType.ROLE_REVOKED, actor=actor, brand_id=brand.pk, payload={"role": role}
    )


@action
def create_team(*, brand: Brand, name: str, actor: Actor) -> Team:
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    name = name.strip()
    if not name:
        raise ValidationError(_("A team needs a name."), code="required")
    if Team.objects.filter(brand=brand, name__iexact=name).exists():
        raise ValidationError(
            _("There is already a team called %(name)s."),
            code="duplicate_team",
            params={"name": name},
        )
    team = Team.objects.create(brand=brand, name=name)
    record_account_event(
        None, AccountEventType.TEAM_CREATED, actor=actor, brand_id=brand.pk, team=team
    )
    return team


@action
def update_team(
    *, team: Team, actor: Actor, name: str | None = None, is_active: bool | None = None
) -> Team:
    require(actor, Capability.CONFIGURE_BRAND, team.brand_id)
    team = Team.objects.select_for_update().get(pk=team.pk)
    changes: dict[str, list[Any]] = {}
    if name is not None and name.strip() != team.name:
        name = name.strip()
        if not name:
            raise ValidationError(_("A team needs a name."), code="required")
        if (
            Team.objects.filter(brand_id=team.brand_id, name__iexact=name)
            .exclude(pk=team.pk)
            .exists()
        ):
            raise ValidationError(
                _("There is already a team called %(name)s."),
                code="duplicate_team",
                params={"name": name},
            )
        changes["name"] = [team.name, name]
        team.name = name
    if is_active is not None and is_active != team.is_active:
        changes["is_active"] = [team.is_active, is_active]
        team.is_active = is_active
    if changes:
        team.save(update_fields=list(changes))
        record_account_event(
            None,
            AccountEventType.TEAM_UPDATED,
            actor=actor,
            brand_id=team.brand_id,
            team=team,
            payload={"changes": changes},
        )
    return team


@action
def add_team_member(
    *, team: Team, user: User, actor: Actor, is_lead: bool = False
) -> TeamMembership:
    require(actor, Capability.CONFIGURE_BRAND, team.brand_id)
    if not BrandMembership.objects.filter(user=user, brand_id=team.brand_id).exists():
        raise ValidationError(
            _("%(name)s has no role in this brand; give them one first."),
            code="not_a_member",
            params={"name": str(user)},
        )
    membership, _created = TeamMembership.objects.update_or_create(
        team=team, user=user, defaults={"is_lead": is_lead}
    )
    record_account_event(
        user,
        AccountEventType.TEAM_JOINED,
        actor=actor,
        brand_id=team.brand_id,
        team=team,
        payload={"lead": is_lead},
    )
    return membership


@action
def remove_team_member(*, team: Team, user: User, actor: Actor) -> None:
    require(actor, Capability.CONFIGURE_BRAND, team.brand_id)
    deleted, _detail = TeamMembership.objects.filter(team=team, user=user).delete()
    if deleted:
        record_account_event(
            user, AccountEventType.TEAM_LEFT, actor=actor, brand_id=team.brand_id, team=team
        )


@action
def set_agent_skill(*, user: User, skill: Skill, level: int, actor: Actor) -> AgentSkill:
    brand_id = skill.brand_id
    if brand_id is None:
        # A shared skill (a language) may be set by an administrator of any brand the user is in.
        shared = set(user.memberships.values_list("brand_id", flat=True))
        allowed = brand_ids_with(actor, Capability.CONFIGURE_BRAND)
        if allowed is not None and not (shared & allowed):
            raise PermissionDenied("Not an administrator of any of this user's brands")
    else:
        require(actor, Capability.CONFIGURE_BRAND, brand_id)
    if not 1 <= level <= 5:
        raise ValidationError(_("A skill level is between 1 and 5."), code="invalid_level")
    agent_skill, _created = AgentSkill.objects.update_or_create(
        user=user, skill=skill, defaults={"level": level}
    )
    record_account_event(
        user,
        AccountEventType.SKILL_SET,
        actor=actor,
        brand_id=brand_id,
        payload={"skill": skill.pk, "level": level},
    )
    return agent_skill


@action
def update_preferences(*, user: User, actor: Actor, **changes: Any) -> User:
    """A user's own language and time zone; nobody else changes them."""
    if actor != user:
        raise PermissionDenied("Users change only their own preferences")
    allowed = {"language", "time_zone", "full_name"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown preferences: {', '.join(sorted(unknown))}")
    if changes.get("time_zone"):
        try:
            ZoneInfo(changes["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                _("%(zone)s is not a time zone."),
                code="invalid_time_zone",
                params={"zone": changes["time_zone"]},
            ) from None
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    user.full_clean(exclude=["password"])
    changed = [field for field in changes if before[field] != getattr(user, field)]
    if changed:
        user.save(update_fields=changed)
        record_account_event(
            user,
            AccountEventType.PREFERENCES_CHANGED,
            actor=actor,
            payload={
                "changes": {field: [before[field], getattr(user, field)] for field in changed}
            },
        )
    return user
