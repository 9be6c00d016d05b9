import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from atiende.accounts import actions
from atiende.accounts.models import AccountEvent, BrandMembership, Skill, TeamMembership
from atiende.accounts.permissions import brand_ids_with, can
from atiende.accounts.roles import ROLE_CAPABILITIES, Capability, Role

ACCOUNT_ACTIONS = {
    "create_staff_user",
    "grant_brand_role",
    "revoke_brand_role",
    "create_team",
    "update_team",
    "add_team_member",
    "remove_team_member",
    "set_agent_skill",
    "update_preferences",
    "set_password",
}


def test_every_account_action_is_covered_by_the_event_test():
    declared = {name for name, value in vars(actions).items() if getattr(value, "is_action", False)}
    assert declared == ACCOUNT_ACTIONS


def test_every_account_action_writes_exactly_one_event(brand, brand_admin, agent, team):
    language = Skill.objects.create(kind="language", code="en", name="English")
    runs = [
        lambda: actions.create_staff_user(
            email="nuevo@tienda.test", full_name="Nuevo", actor=brand_admin
        ),
        lambda: actions.grant_brand_role(
            user=agent, brand=brand, role="supervisor", actor=brand_admin
        ),
        lambda: actions.create_team(brand=brand, name="Devoluciones", actor=brand_admin),
        lambda: actions.update_team(team=team, name="Soporte N1", actor=brand_admin),
        lambda: actions.add_team_member(team=team, user=agent, actor=brand_admin),
        lambda: actions.remove_team_member(team=team, user=agent, actor=brand_admin),
        lambda: actions.set_agent_skill(user=agent, skill=language, level=4, actor=brand_admin),
        lambda: actions.update_preferences(user=agent, actor=agent, language="en"),
        lambda: actions.set_password(user=agent, password="a-much-longer-secret", actor=agent),
        lambda: actions.revoke_brand_role(user=agent, brand=brand, actor=brand_admin),
    ]
    for run in runs:
        before = AccountEvent.objects.count()
        run()
        assert AccountEvent.objects.count() == before + 1


def test_roles_grant_what_the_product_promises():
    assert Capability.WORK_CONVERSATIONS in ROLE_CAPABILITIES[Role.AGENT]
    assert Capability.CONFIGURE_BRAND not in ROLE_CAPABILITIES[Role.AGENT]
    assert Capability.VIEW_REPORTS in ROLE_CAPABILITIES[Role.SUPERVISOR]
    assert Capability.EVALUATE_QUALITY in ROLE_CAPABILITIES[Role.QA_EVALUATOR]
    assert Capability.WORK_CONVERSATIONS not in ROLE_CAPABILITIES[Role.QA_EVALUATOR]
    assert ROLE_CAPABILITIES[Role.CLIENT_VIEWER] == {
        Capability.VIEW_CONVERSATIONS,
        Capability.VIEW_CUSTOMERS,
        Capability.VIEW_REPORTS,
    }
    assert ROLE_CAPABILITIES[Role.ADMIN] == set(Capability.values)


def test_roles_are_held_per_brand(brand, other_brand, agent, outsider, superuser):
    assert can(agent, Capability.WORK_CONVERSATIONS, brand.pk)
    assert not can(agent, Capability.WORK_CONVERSATIONS, other_brand.pk)
    assert brand_ids_with(outsider, Capability.VIEW_CONVERSATIONS) == {other_brand.pk}
    assert brand_ids_with(superuser, Capability.CONFIGURE_BRAND) is None


def test_an_inactive_user_can_do_nothing(brand, agent):
    agent.is_active = False
    assert not can(agent, Capability.VIEW_CONVERSATIONS, brand.pk)


def test_granting_a_role_replaces_the_previous_one(brand, agent, brand_admin):
    actions.grant_brand_role(user=agent, brand=brand, role="supervisor", actor=brand_admin)
    assert BrandMembership.objects.get(user=agent, brand=brand).role == "supervisor"
    assert can(agent, Capability.VIEW_REPORTS, brand.pk)


def test_only_brand_admins_manage_roles_and_teams(brand, other_brand, agent, brand_admin, outsider):
    with pytest.raises(PermissionDenied):
        actions.grant_brand_role(user=outsider, brand=brand, role="admin", actor=agent)
    with pytest.raises(PermissionDenied):
        actions.create_team(brand=other_brand, name="Intrusos", actor=brand_admin)
    with pytest.raises(PermissionDenied):
        actions.create_staff_user(email="x@y.test", full_name="X", actor=agent)


def test_revoking_a_role_also_removes_the_brands_teams(brand, agent, brand_admin, team):
    actions.add_team_member(team=team, user=agent, actor=brand_admin)
    actions.revoke_brand_role(user=agent, brand=brand, actor=brand_admin)
    assert not TeamMembership.objects.filter(user=agent).exists()
    assert not can(agent, Capability.VIEW_CONVERSATIONS, brand.pk)


def test_team_members_must_hold_a_role_in_the_brand(team, outsider, brand_admin):
    with pytest.raises(ValidationError, match="no role in this brand"):
        actions.add_team_member(team=team, user=outsider, actor=brand_admin)


def test_duplicate_team_names_and_accounts_are_refused(brand, brand_admin, team, agent):
    with pytest.raises(ValidationError):
        actions.create_team(brand=brand, name="soporte", actor=brand_admin)
    with pytest.raises(ValidationError):
        actions.create_staff_user(email="AGENTE@tienda.test", full_name="Dup", actor=brand_admin)


def test_weak_passwords_are_refused(brand_admin):
    with pytest.raises(ValidationError):
        actions.create_staff_user(
            email="debil@tienda.test", full_name="Débil", password="1234", actor=brand_admin
        )


def test_preferences_are_personal_and_validated(agent, supervisor):
    with pytest.raises(PermissionDenied):
        actions.update_preferences(user=agent, actor=supervisor, language="en")
    with pytest.raises(ValidationError):
        actions.update_preferences(user=agent, actor=agent, time_zone="Mars/Olympus")
    with pytest.raises(ValidationError):
        actions.update_preferences(user=agent, actor=agent, language="fr")
    actions.update_preferences(
        user=agent, actor=agent, language="en", time_zone="America/Mexico_City"
    )
    agent.refresh_from_db()
    assert (agent.language, agent.time_zone) == ("en", "America/Mexico_City")


def test_skill_levels_are_between_one_and_five(agent, brand_admin, brand):
    product = Skill.objects.create(brand=brand, kind="product", code="moda", name="Moda")
    with pytest.raises(ValidationError):
        actions.set_agent_skill(user=agent, skill=product, level=6, actor=brand_admin)


def test_passwords_are_set_by_their_owner_or_an_installation_admin(agent, supervisor, superuser):
    with pytest.raises(PermissionDenied):
        actions.set_password(user=agent, password="another-long-secret", actor=supervisor)
    with pytest.raises(ValidationError):
        actions.set_password(user=agent, password="short", actor=agent)
    actions.set_password(user=agent, password="chosen-by-root-2026", actor=superuser)
    agent.refresh_from_db()
    assert agent.check_password("chosen-by-root-2026")
    actions.set_password(user=agent, password=None, actor=superuser)
    agent.refresh_from_db()
    assert not agent.has_usable_password()


def test_only_installation_admins_create_installation_admins(brand_admin, superuser):
    with pytest.raises(PermissionDenied):
        actions.create_staff_user(
            email="jefe@tienda.test", full_name="Jefe", is_superuser=True, actor=brand_admin
        )
    root = actions.create_staff_user(
        email="root2@bpo.test", full_name="Root Dos", is_superuser=True, actor=superuser
    )
    assert root.is_superuser
    assert root.is_staff


def test_a_role_counts_only_while_its_brand_is_active(agent, brand):
    from atiende.accounts.models import User
    from atiende.accounts.permissions import brand_roles

    assert brand_roles(User.objects.get(pk=agent.pk)) == {brand.pk: Role.AGENT}
    type(brand).objects.filter(pk=brand.pk).update(is_active=False)
    assert brand_roles(User.objects.get(pk=agent.pk)) == {}
    assert brand_ids_with(User.objects.get(pk=agent.pk), Capability.VIEW_CONVERSATIONS) == set()
