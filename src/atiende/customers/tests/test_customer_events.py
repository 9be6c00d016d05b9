from datetime import UTC, datetime
from decimal import Decimal

from atiende.customers import actions
from atiende.customers.actions import IdentityInput
from atiende.customers.models import CustomerEvent, OrganizationEvent

CUSTOMER_ACTIONS = {
    "create_customer",
    "update_customer",
    "add_customer_identity",
    "remove_customer_identity",
    "create_organization",
    "record_order",
    "record_identity_failure",
    # Their events, one per aggregate changed, are counted in test_merge.py.
    "merge_customers",
    "delete_customer",
}


def event_count() -> int:
    return CustomerEvent.objects.count() + OrganizationEvent.objects.count()


def test_every_customer_action_is_covered_below():
    declared = {name for name, value in vars(actions).items() if getattr(value, "is_action", False)}
    assert declared == CUSTOMER_ACTIONS


def test_every_customer_action_writes_exactly_one_event(brand, agent, customer):
    placed = datetime(2026, 10, 1, tzinfo=UTC)
    runs = [
        lambda: actions.create_customer(
            brand=brand,
            actor=agent,
            name="Nuevo",
            identities=[IdentityInput("email", "n@example.com")],
        ),
        lambda: actions.update_customer(customer=customer, actor=agent, city="Sevilla"),
        lambda: actions.add_customer_identity(
            customer=customer, identity=IdentityInput("phone", "+34 622 333 444"), actor=agent
        ),
        lambda: actions.remove_customer_identity(
            identity=customer.identities.get(value="+34622333444"), actor=agent
        ),
        lambda: actions.create_organization(brand=brand, name="Hoteles Mar", actor=agent),
        lambda: actions.record_identity_failure(
            identity=customer.identities.get(kind="email"),
            detail="550 5.1.1 user unknown",
            actor=agent,
        ),
        lambda: actions.record_order(
            customer=customer,
            actor=agent,
            number="P-1",
            amount=Decimal(10),
            currency="EUR",
            placed_at=placed,
        ),
    ]
    for run in runs:
        before = event_count()
        run()
        assert event_count() == before + 1


def test_adding_an_identity_the_customer_already_has_changes_nothing(agent, customer):
    before = event_count()
    existing = actions.add_customer_identity(
        customer=customer, identity=IdentityInput("email", "Carmen@Example.com"), actor=agent
    )
    assert existing.value == "carmen@example.com"
    assert event_count() == before
