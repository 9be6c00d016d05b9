"""SLA configuration and timers stay inside their brand, in the admin and in queries."""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from django.urls import reverse

from atiende.sla.actions import save_calendar, save_policy
from atiende.sla.models import PolicyScope, SlaTimer
from atiende.sla.queries import calendars_for, policies_for, timers_of


@pytest.fixture
def both_brands(
    brand, other_brand, system, conversation, other_conversation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _configure(brand, "Tienda", system)
        _configure(other_brand, "Telcoxyz", system)


def _configure(owner, label, system):
    calendar = save_calendar(
        brand=owner, actor=system, name=f"Horario {label}", time_zone="Europe/Madrid",
        weekly={"mon": [["09:00", "18:00"]]},
    )  # fmt: skip
    save_policy(
        brand=owner, actor=system, name=f"ANS {label}", scope=PolicyScope.BRAND, calendar=calendar,
        targets=[{"metric": "resolution", "priority": "", "minutes": 600}],
    )  # fmt: skip


@pytest.mark.parametrize(
    "model", ["sla_calendar", "sla_policy", "sla_policytarget", "sla_slatimer"]
)
def test_a_brand_admin_sees_only_their_brand(client, both_brands, brand_admin, model):
    client.login(username=brand_admin.email, password=PASSWORD)
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Telcoxyz" not in page
    assert "Telco Norte" not in page


def test_queries_are_scoped(
    both_brands, brand_admin, outsider, other_conversation, agent, conversation
):
    assert {policy.name for policy in policies_for(brand_admin)} == {"ANS Tienda"}
    assert {calendar.name for calendar in calendars_for(brand_admin)} == {"Horario Tienda"}
    assert not policies_for(agent).exists()  # configuring is not an agent's business
    other_conversation.refresh_from_db()
    assert SlaTimer.objects.filter(conversation=other_conversation).exists()
    assert not timers_of(other_conversation, viewer=agent).exists()
    assert timers_of(other_conversation, viewer=outsider).exists()
