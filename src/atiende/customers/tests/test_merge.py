"""Merging duplicate customers and deleting customers created by mistake (CR1)."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from atiende.brands.models import BrandEvent
from atiende.conversations.actions import start_conversation
from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import Conversation, ConversationEvent, Message
from atiende.customers import actions
from atiende.customers.actions import CustomerInUse, IdentityInput
from atiende.customers.events import CustomerEventType
from atiende.customers.models import Customer, CustomerEvent, CustomerIdentity, Order
from atiende.customers.queries import customer_by_identity_for, customer_for


@pytest.fixture
def duplicate(brand, system):
    """The same person, registered again from the phone, with what the first record lacked."""
    return actions.create_customer(
        brand=brand,
        actor=system,
        name="Carmen C.",
        city="Sevilla",
        organization=actions.create_organization(brand=brand, name="Hoteles Mar", actor=system),
        custom_attributes={"vip": True, "segment": "nuevo"},
        identities=[
            IdentityInput("email", "carmen.trabajo@example.com", is_primary=True),
            IdentityInput("phone", "+34 655 000 111", is_primary=True),
        ],
    )


def _order(customer, agent, number):
    return actions.record_order(
        customer=customer, actor=agent, number=number, amount=Decimal("19.90"),
        currency="EUR", placed_at=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip


def merged_payload_filled(customer):
    return customer.events.get(type=CustomerEventType.MERGED).payload["filled"]


def _events_per_aggregate():
    return Counter(
        [("customer", pk) for pk in CustomerEvent.objects.values_list("customer_id", flat=True)]
        + [
            ("conversation", pk)
            for pk in ConversationEvent.objects.values_list("conversation_id", flat=True)
        ]
        + [("brand", pk) for pk in BrandEvent.objects.values_list("brand_id", flat=True)]
    )


def test_merge_moves_identities_conversations_and_orders_to_the_survivor(
    brand, customer, duplicate, agent, system
):
    case = start_conversation(
        brand=brand, customer=duplicate, channel="phone", actor=system, body_text="Llamada"
    )
    order = _order(duplicate, agent, "P-77")
    actions.update_customer(customer=customer, actor=agent, custom_attributes={"segment": "oro"})
    before = _events_per_aggregate()

    survivor = actions.merge_customers(source=duplicate, target=customer, actor=agent)

    written = _events_per_aggregate() - before
    assert written == Counter(
        {("customer", customer.pk): 1, ("customer", duplicate.pk): 1, ("conversation", case.pk): 1}
    )
    assert survivor == customer
    assert sorted(customer.identities.values_list("value", "is_primary")) == [
        ("+34600111222", False),
        ("+34655000111", True),  # the survivor had no primary phone
        ("carmen.trabajo@example.com", False),  # it had a primary email
        ("carmen@example.com", True),
    ]
    assert not CustomerIdentity.objects.filter(customer=duplicate).exists()
    case.refresh_from_db()
    order.refresh_from_db()
    assert (case.customer_id, order.customer_id) == (customer.pk, customer.pk)
    assert Message.objects.get(conversation=case).author_customer_id == customer.pk
    customer.refresh_from_db()
    duplicate.refresh_from_db()
    # Only empty fields are filled; the survivor's own values win.
    assert (customer.name, customer.city) == ("Carmen Cliente", "Sevilla")
    assert customer.organization.name == "Hoteles Mar"
    assert merged_payload_filled(customer) == {
        "city": "Sevilla",
        "organization_id": customer.organization_id,
        "custom_attributes": {"vip": True, "segment": "oro"},
    }
    assert customer.custom_attributes == {"vip": True, "segment": "oro"}
    assert duplicate.merged_into_id == customer.pk
    assert duplicate.crn != customer.crn
    merged = customer.events.get(type=CustomerEventType.MERGED)
    assert merged.payload["source_crn"] == duplicate.crn
    assert merged.payload["conversations"] == [case.pk]
    moved = case.events.get(type=ConversationEventType.CUSTOMER_CHANGED)
    assert moved.payload["changes"] == {"customer": [duplicate.pk, customer.pk]}


def test_the_crn_of_a_merged_customer_finds_the_survivor(brand, customer, duplicate, agent, system):
    third = actions.create_customer(brand=brand, actor=system, name="Carmen otra vez")
    actions.merge_customers(source=duplicate, target=customer, actor=agent)
    assert customer_for(agent, crn=duplicate.crn_display) == customer
    actions.merge_customers(source=customer, target=third, actor=agent)
    assert customer_for(agent, crn=duplicate.crn) == third
    assert customer_for(agent, crn=customer.crn) == third
    assert customer_by_identity_for(agent, kind="phone", value="+34655000111") == third
    # One step from any merged record to the survivor, which search relies on.
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == third.pk
    start_conversation(
        brand=brand, customer=third, channel="email", actor=system, subject="Paraguas",
        body_text="Hola",
    )  # fmt: skip
    from atiende.search.queries import search_for

    hits = search_for(agent, duplicate.crn_display).hits
    assert [hit.conversation.customer_id for hit in hits] == [third.pk]


def test_merge_refuses_itself_other_brands_and_merged_records(
    brand, customer, duplicate, other_customer, agent, superuser, system
):
    cases = [
        (customer, customer, "merge_into_itself"),
        (customer, other_customer, "wrong_brand"),
    ]
    for source, target, code in cases:
        with pytest.raises(ValidationError) as refused:
            actions.merge_customers(source=source, target=target, actor=superuser)
        assert refused.value.code == code
    third = actions.create_customer(brand=brand, actor=system, name="Otra")
    actions.merge_customers(source=duplicate, target=customer, actor=agent)
    with pytest.raises(ValidationError) as twice:
        actions.merge_customers(source=duplicate, target=third, actor=agent)
    assert twice.value.code == "already_merged"
    with pytest.raises(ValidationError) as into_merged:
        actions.merge_customers(source=third, target=duplicate, actor=agent)
    assert into_merged.value.code == "target_merged"


def test_client_viewer_and_outsider_cannot_merge_or_delete(
    customer, duplicate, client_viewer, outsider
):
    for person in (client_viewer, outsider):
        with pytest.raises(PermissionDenied):
            actions.merge_customers(source=duplicate, target=customer, actor=person)
        with pytest.raises(PermissionDenied):
            actions.delete_customer(customer=duplicate, actor=person)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_deleting_a_customer_takes_identities_and_orders_and_is_logged_on_the_brand(
    brand, duplicate, agent
):
    _order(duplicate, agent, "P-9")
    crn, pk = duplicate.crn, duplicate.pk
    before = _events_per_aggregate()

    actions.delete_customer(customer=duplicate, actor=agent)

    assert _events_per_aggregate() - before == Counter({("brand", brand.pk): 1})
    assert not Customer.objects.filter(pk=pk).exists()
    assert not CustomerIdentity.objects.filter(customer_id=pk).exists()
    assert not Order.objects.filter(number="P-9").exists()
    logged = BrandEvent.objects.get(type=CustomerEventType.DELETED)
    assert logged.payload == {"customer": pk, "crn": crn, "identities": 2, "orders": 1}
    assert logged.actor == agent
    # The address is free again for a new record.
    actions.create_customer(
        brand=brand,
        actor=agent,
        identities=[IdentityInput("email", "carmen.trabajo@example.com")],
    )


def test_a_customer_with_conversations_or_merged_records_is_kept(
    brand, customer, duplicate, conversation, agent
):
    with pytest.raises(CustomerInUse) as has_conversations:
        actions.delete_customer(customer=customer, actor=agent)
    assert has_conversations.value.code == "customer_has_conversations"
    assert "merge" in has_conversations.value.messages[0]
    actions.merge_customers(source=customer, target=duplicate, actor=agent)
    assert Conversation.objects.get().customer_id == duplicate.pk
    with pytest.raises(CustomerInUse):
        actions.delete_customer(customer=duplicate, actor=agent)
    # The merged-away record itself has nothing left and may go.
    actions.delete_customer(customer=customer, actor=agent)
    assert list(Customer.objects.values_list("pk", flat=True)) == [duplicate.pk]
    assert BrandEvent.objects.filter(type=CustomerEventType.DELETED, brand=brand).count() == 1
