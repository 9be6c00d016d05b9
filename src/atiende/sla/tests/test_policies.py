"""Which policy applies, target by target, and why (SL2, SL3), with the seeds' three kinds:
customer-based, service-based and multi-level (corporate → department → customer)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from atiende.conversations.actions import (
    assign_conversation,
    categorize_conversation,
    start_conversation,
)
from atiende.conversations.models import Category
from atiende.customers.actions import create_organization, update_customer
from atiende.sla.actions import save_calendar, save_policy
from atiende.sla.models import Policy, PolicyScope
from atiende.sla.policies import Resolution, resolve
from atiende.sla.queries import why_this_policy

OFFICE = {
    day: [["09:00", "14:00"], ["15:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
}


def applied(conversation) -> Resolution:
    resolution = resolve(conversation)
    assert resolution is not None, "no policy applies"
    return resolution


def targets(**minutes_by_metric):
    return [
        {"metric": metric, "priority": "", "minutes": minutes}
        for metric, minutes in minutes_by_metric.items()
    ]


@pytest.fixture
def office(brand, system):
    return save_calendar(
        brand=brand, actor=system, name="Oficina Madrid", time_zone="Europe/Madrid", weekly=OFFICE,
        holiday_country="ES", holiday_subdivision="MD",
    )  # fmt: skip


@pytest.fixture
def layered(brand, system, team, office, customer):
    """Corporate default → Support (department) → Gold customers (organization)."""
    corporate = save_policy(
        brand=brand, actor=system, name="Corporate default", scope=PolicyScope.BRAND, calendar=office,
        targets=[
            *targets(first_response=8 * 60, next_response=8 * 60, resolution=40 * 60),
            {"metric": "first_response", "priority": "urgent", "minutes": 30},
        ],
    )  # fmt: skip
    support = save_policy(
        brand=brand, actor=system, name="Support", scope=PolicyScope.TEAM, team=team, parent=corporate,
        targets=targets(first_response=6 * 60),
    )  # fmt: skip
    gold = create_organization(brand=brand, name="Gold Retail", actor=system)
    update_customer(customer=customer, actor=system, organization=gold)
    customer.refresh_from_db()
    gold_policy = save_policy(
        brand=brand, actor=system, name="Gold customers", scope=PolicyScope.ORGANIZATION,
        organization=gold, parent=support, warning_percent=50, targets=targets(first_response=4 * 60),
    )  # fmt: skip
    return corporate, support, gold_policy


def test_multi_level_inherits_what_a_level_leaves_unset_and_explains_it(
    brand, system, team, customer, layered, office
):
    corporate, _support, gold = layered
    conversation = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="x",
        body_text="hola",
        team=team,
    )
    resolution = resolve(conversation)
    assert resolution is not None
    assert resolution.policy == gold
    assert [policy.name for policy in resolution.chain] == [
        "Gold customers",
        "Support",
        "Corporate default",
    ]
    assert resolution.targets["first_response"].minutes == 240
    assert resolution.targets["resolution"].source == corporate
    assert resolution.calendar.value == office
    assert resolution.calendar.source == corporate
    assert resolution.warning_percent.value == 50
    assert resolution.explain_target("first_response") == (
        "First response 4 h from “Gold customers” (customer level) overriding “Support” "
        "(department) overriding “Corporate default” (corporate)"
    )
    assert (
        resolution.explain_target("resolution")
        == "Resolution 40 h from “Corporate default” (corporate)"
    )
    lines = resolution.explanation()
    assert (
        lines[0]
        == "“Gold customers” (customer level) applies: the most specific of 3 policies that match this conversation."
    )
    assert "Clock: business hours of Oficina Madrid, from “Corporate default” (corporate)." in lines
    assert "Paused while pending on the customer (the default)." in lines


def test_a_more_specific_level_overrides_even_a_priority_specific_target(
    brand, system, team, customer, layered
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola",
        team=team, priority="urgent",
    )  # fmt: skip
    assert applied(conversation).targets["first_response"].minutes == 240
    _corporate, _support, gold = layered
    save_policy(brand=brand, actor=system, policy=gold, is_active=False)
    conversation.refresh_from_db()
    # Without the customer level, the department's any-priority target overrides corporate's
    # urgent one; without the team, corporate's urgent target applies.
    assert applied(conversation).targets["first_response"].minutes == 360
    assign_conversation(conversation=conversation, actor=system, assignee=None)
    conversation.team = None
    assert applied(conversation).targets["first_response"].minutes == 30


def test_service_based_policy_is_the_same_for_every_customer(
    brand, system, customer, other_customer
):
    billing = Category.objects.create(brand=brand, name="Facturación")
    service = save_policy(
        brand=brand, actor=system, name="Billing service", scope=PolicyScope.CATEGORY, category=billing,
        targets=targets(first_response=120, resolution=24 * 60),
    )  # fmt: skip
    conversation = start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject="Factura",
        body_text="hola",
    )
    assert resolve(conversation) is None
    categorize_conversation(conversation=conversation, category=billing, actor=system)
    conversation.refresh_from_db()
    resolution = applied(conversation)
    assert resolution.policy == service
    assert (
        resolution.explain_target("first_response")
        == "First response 2 h from “Billing service” (service)"
    )
    assert resolution.explain_target("next_response") == (
        "Next response: no target in “Billing service” (service) or the policies it inherits from."
    )


def test_customer_based_policy_by_business_area_and_by_customer(brand, system, customer):
    area = save_policy(
        brand=brand, actor=system, name="Retail area", scope=PolicyScope.BUSINESS_AREA,
        business_area="Retail", targets=targets(first_response=180),
    )  # fmt: skip
    update_customer(customer=customer, actor=system, custom_attributes={"business_area": "retail"})
    customer.refresh_from_db()
    conversation = start_conversation(
        brand=brand, customer=customer, channel="chat", actor=system, subject="x", body_text="hola"
    )
    assert applied(conversation).policy == area
    vip = save_policy(
        brand=brand, actor=system, name="Carmen (VIP)", scope=PolicyScope.CUSTOMER, customer=customer,
        targets=targets(first_response=15),
    )  # fmt: skip
    assert applied(conversation).policy == vip
    assert applied(conversation).targets["first_response"].minutes == 15


def test_among_equals_precedence_then_age_decides(brand, system, customer):
    first = save_policy(
        brand=brand, actor=system, name="A", scope=PolicyScope.BRAND, targets=targets(resolution=60)
    )
    second = save_policy(
        brand=brand, actor=system, name="B", scope=PolicyScope.BRAND, targets=targets(resolution=90)
    )
    conversation = start_conversation(
        brand=brand, customer=customer, channel="chat", actor=system, subject="x", body_text="hola"
    )
    assert applied(conversation).policy == first
    save_policy(brand=brand, actor=system, policy=second, precedence=5)
    assert applied(conversation).policy == second


def test_a_cycle_between_levels_is_refused(brand, system, layered):
    corporate, _support, gold = layered
    with pytest.raises(ValidationError, match="would make a cycle"):
        save_policy(brand=brand, actor=system, policy=corporate, parent=gold)
    with pytest.raises(ValidationError, match="would make a cycle"):
        save_policy(brand=brand, actor=system, policy=corporate, parent=corporate)
    assert Policy.objects.get(pk=corporate.pk).parent is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"time_zone": "Europe/Atlantis"}, "is not a time zone"),
        ({"weekly": {"mon": [["18:00", "09:00"]]}}, "ends before it starts"),
        ({"weekly": {"mon": [["09:00", "14:00"], ["13:00", "18:00"]]}}, "overlap"),
        ({"weekly": {"mon": [["9am", "14:00"]]}}, "is not a pair of times"),
        ({"weekly": {"monday": [["09:00", "14:00"]]}}, "Unknown weekdays"),
        ({"closed_dates": ["2026-13-01"]}, "is not a date"),
        ({"holiday_country": "XX"}, "no public holiday list"),
    ],
)
def test_bad_calendars_are_refused_in_words(brand, system, values, message):
    with pytest.raises(ValidationError, match=message):
        save_calendar(brand=brand, actor=system, name="Mala", **{"weekly": OFFICE, **values})


def test_a_night_shift_says_so(brand, system):
    calendar = save_calendar(
        brand=brand, actor=system, name="Noche", time_zone="America/Mexico_City",
        weekly={"mon": [["22:00", "06:00+1"]]},
    )  # fmt: skip
    assert calendar.business_calendar() is calendar.business_calendar()


def test_bad_policies_are_refused_in_words(brand, other_brand, system, team):
    with pytest.raises(ValidationError, match="Say which one"):
        save_policy(brand=brand, actor=system, name="Sin equipo", scope=PolicyScope.TEAM)
    with pytest.raises(ValidationError, match="between 1 and 99"):
        save_policy(
            brand=brand, actor=system, name="Aviso", scope=PolicyScope.BRAND, warning_percent=100
        )
    foreign = save_policy(brand=other_brand, actor=system, name="Ajena", scope=PolicyScope.BRAND)
    with pytest.raises(ValidationError, match="inherit from a policy of its brand"):
        save_policy(brand=brand, actor=system, name="Hija", scope=PolicyScope.BRAND, parent=foreign)
    with pytest.raises(ValidationError, match="one target per priority"):
        save_policy(
            brand=brand, actor=system, name="Doble", scope=PolicyScope.BRAND,
            targets=[*targets(resolution=60), *targets(resolution=90)],
        )  # fmt: skip
    assert not Policy.objects.filter(brand=brand).exists()


def test_configuring_needs_the_brand_and_explanations_are_scoped(
    brand, system, agent, outsider_admin, layered, customer, team
):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        save_policy(brand=brand, actor=agent, name="Mía", scope=PolicyScope.BRAND)
    with pytest.raises(PermissionDenied):
        save_policy(brand=brand, actor=outsider_admin, name="Ajena", scope=PolicyScope.BRAND)
    conversation = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="x",
        body_text="hola",
        team=team,
    )
    explained = why_this_policy(conversation, viewer=agent)
    assert explained is not None
    assert explained.policy.name == "Gold customers"
    assert why_this_policy(conversation, viewer=outsider_admin) is None
