import random
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from atiende.customers import actions, crn
from atiende.customers.actions import IdentityInput, create_customer
from atiende.customers.models import Customer, CustomerEvent, CustomerIdentity, Order


def test_new_customer_gets_a_valid_crn_and_normalised_identities(brand, agent):
    customer = create_customer(
        brand=brand,
        actor=agent,
        name="Lucía Pérez",
        identities=[
            IdentityInput("email", " Lucia.Perez@Example.COM "),
            IdentityInput("phone", "600 123 456"),
            IdentityInput("social", "@Lucia_P", network="instagram"),
        ],
        postal_code="28013",
        custom_attributes={"loyalty_tier": "gold"},
    )
    assert crn.is_valid(customer.crn)
    assert str(customer) == f"Lucía Pérez ({customer.crn_display})"
    values = set(customer.identities.values_list("kind", "network", "value"))
    assert values == {
        ("email", "", "lucia.perez@example.com"),
        ("phone", "", "+34600123456"),
        ("social", "instagram", "lucia_p"),
    }
    event = CustomerEvent.objects.get(customer=customer)
    assert (event.type, event.actor) == ("customer.created", agent)


def test_phone_without_country_code_is_read_in_the_brands_country(other_brand, system):
    customer = create_customer(
        brand=other_brand, actor=system, identities=[IdentityInput("phone", "55 1234 5678")]
    )
    assert customer.identities.get().value == "+525512345678"


@pytest.mark.parametrize(
    ("identity", "code"),
    [
        (IdentityInput("phone", "12345"), "invalid_phone"),
        (IdentityInput("phone", "+34 000 000 000"), "invalid_phone"),
        (IdentityInput("email", "not-an-email"), "invalid_email"),
        (IdentityInput("email", "a@b@c.com"), "invalid_email"),
        (IdentityInput("social", "bad handle!", network="instagram"), "invalid_handle"),
        (IdentityInput("social", "fine", network="myspace"), "invalid_network"),
        (IdentityInput("fax", "123"), "invalid_kind"),
    ],
)
def test_invalid_identity_is_a_clear_error_and_nothing_is_written(brand, system, identity, code):
    with pytest.raises(ValidationError) as raised:
        create_customer(
            brand=brand,
            actor=system,
            name="Nadie",
            identities=[IdentityInput("email", "ok@example.com"), identity],
        )
    assert raised.value.code == code
    assert raised.value.messages[0]
    assert not Customer.objects.exists()
    assert not CustomerIdentity.objects.exists()
    assert not CustomerEvent.objects.exists()


def test_identity_of_another_customer_is_refused_naming_its_owner(brand, system, customer):
    with pytest.raises(ValidationError) as raised:
        create_customer(
            brand=brand,
            actor=system,
            name="Otra Carmen",
            identities=[
                IdentityInput("phone", "+34 611 222 333"),
                IdentityInput("email", "CARMEN@example.com"),
            ],
        )
    assert raised.value.code == "duplicate_identity"
    assert customer.crn_display in raised.value.messages[0]
    assert Customer.objects.count() == 1
    assert not CustomerIdentity.objects.filter(value="+34611222333").exists()


@pytest.mark.parametrize("check_skipped_by", ["another writer", "the caller"])
def test_an_identity_claimed_after_the_check_is_refused_and_nothing_is_written(
    brand, system, customer, monkeypatch, check_skipped_by
):
    # As if another writer had inserted it between our check and our insert, or as a caller
    # wrongly vouching it free (known_free) leaves it: the unique index refuses it, the action
    # ends with a clear error, and the transaction stays usable.
    vouched = []
    if check_skipped_by == "another writer":
        monkeypatch.setattr(actions, "_check_identities_free", lambda *args, **kwargs: None)
    else:
        vouched = [("email", "", "carmen@example.com")]
    with pytest.raises(ValidationError) as raised:
        create_customer(
            brand=brand,
            actor=system,
            name="Otra Carmen",
            identities=[IdentityInput("email", "carmen@example.com")],
            known_free=vouched,
        )
    assert raised.value.code == "duplicate_identity"
    assert Customer.objects.count() == 1
    assert (
        not CustomerEvent.objects.filter(type="customer.created")
        .exclude(customer=customer)
        .exists()
    )


def test_an_identity_the_caller_found_free_is_not_asked_about_again(brand, system):
    from django.test.utils import CaptureQueriesContext

    free = ("email", "", "nueva@example.com")
    with CaptureQueriesContext(connection) as queries:
        customer = create_customer(
            brand=brand,
            actor=system,
            identities=[
                IdentityInput("email", "Nueva@Example.com"),
                IdentityInput("phone", "600 123 456"),
            ],
            known_free=[free],
        )
    holder_reads = [
        query["sql"] for query in queries
        if query["sql"].startswith("SELECT") and "customers_customeridentity" in query["sql"]
    ]  # fmt: skip
    # Only the phone, which the caller did not vouch for, was looked up.
    assert len(holder_reads) == 1
    assert set(customer.identities.values_list("value", flat=True)) == {
        "nueva@example.com",
        "+34600123456",
    }


def test_the_same_identity_twice_in_one_request_is_refused(brand, system):
    with pytest.raises(ValidationError, match="listed twice"):
        create_customer(
            brand=brand,
            actor=system,
            identities=[
                IdentityInput("email", "x@example.com"),
                IdentityInput("email", "X@example.com"),
            ],
        )
    assert not Customer.objects.exists()


def test_the_same_address_may_belong_to_customers_of_different_brands(brand, other_brand, system):
    create_customer(
        brand=brand, actor=system, identities=[IdentityInput("email", "shared@example.com")]
    )
    create_customer(
        brand=other_brand, actor=system, identities=[IdentityInput("email", "shared@example.com")]
    )
    assert CustomerIdentity.objects.filter(value="shared@example.com").count() == 2


def test_adding_a_taken_identity_to_an_existing_customer_is_refused(brand, system, customer):
    other = create_customer(brand=brand, actor=system, name="Otro")
    with pytest.raises(ValidationError):
        actions.add_customer_identity(
            customer=other, identity=IdentityInput("email", "carmen@example.com"), actor=system
        )
    assert other.identities.count() == 0


def test_client_viewer_cannot_create_customers(brand, client_viewer):
    with pytest.raises(PermissionDenied):
        create_customer(brand=brand, actor=client_viewer, name="Nope")


def test_agent_cannot_create_customers_in_another_brand(other_brand, agent):
    with pytest.raises(PermissionDenied):
        create_customer(brand=other_brand, actor=agent, name="Nope")


def test_crn_collision_draws_again(brand, system, monkeypatch):
    taken = create_customer(brand=brand, actor=system, name="Primera").crn
    fresh = crn.generate()
    draws = iter([taken, taken, fresh])
    monkeypatch.setattr(actions, "generate_crn", lambda: next(draws))
    second = create_customer(
        brand=brand,
        actor=system,
        name="Segunda",
        identities=[IdentityInput("email", "s@example.com")],
    )
    assert second.crn == fresh
    assert second.identities.count() == 1


def test_a_broken_random_source_fails_loudly(brand, system, monkeypatch):
    taken = create_customer(brand=brand, actor=system).crn
    monkeypatch.setattr(actions, "generate_crn", lambda: taken)
    with pytest.raises(RuntimeError, match="No free CRN"):
        create_customer(brand=brand, actor=system)
    assert Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_never_hands_out_a_crn_twice(brand, system, monkeypatch):
    # Every thread's first draw is the same CRN, so concurrent transactions really collide on
    # the unique index; later draws come from a small pool, so some collide again.
    pool = [crn.generate() for _ in range(40)]
    chooser = random.Random(7)
    lock = threading.Lock()
    draws: list[str] = []
    first_draw_done: set[int] = set()

    def colliding_crn() -> str:
        with lock:
            thread_id = threading.get_ident()
            value = pool[0] if thread_id not in first_draw_done else chooser.choice(pool)
            first_draw_done.add(thread_id)
            draws.append(value)
            return value

    monkeypatch.setattr(actions, "generate_crn", colliding_crn)
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def create_two(worker: int) -> None:
        try:
            start.wait()
            for index in range(2):
                create_customer(brand=brand, actor=system, name=f"C{worker}-{index}")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create_two, args=(worker,)) for worker in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    crns = list(Customer.objects.values_list("crn", flat=True))
    assert len(crns) == len(set(crns)) == 10
    assert set(crns) <= set(pool)
    assert len(draws) >= 14  # at least the four losers of the first race drew again


def test_update_customer_records_what_changed(brand, agent, customer):
    actions.update_customer(
        customer=customer, actor=agent, postal_code="08001", consent_marketing=True
    )
    event = CustomerEvent.objects.filter(customer=customer).latest("id")
    assert event.type == "customer.updated"
    assert event.payload["changes"] == {
        "postal_code": ["", "08001"],
        "consent_marketing": [False, True],
    }


def test_update_customer_refuses_unknown_fields(agent, customer):
    with pytest.raises(TypeError):
        actions.update_customer(customer=customer, actor=agent, crn="2222222")


def test_orders_are_recorded_and_updated_by_number(agent, customer):
    placed = datetime(2026, 11, 1, 10, tzinfo=UTC)
    order = actions.record_order(
        customer=customer,
        actor=agent,
        number="SOL-1001",
        amount=Decimal("59.90"),
        currency="eur",
        placed_at=placed,
        items=[{"sku": "TEE-1", "name": "Camiseta", "quantity": 2, "unit_price": "29.95"}],
        promised_delivery_on=placed.date(),
    )
    assert order.currency == "EUR"
    assert order.is_late
    actions.record_order(
        customer=customer,
        actor=agent,
        number="SOL-1001",
        amount=Decimal("59.90"),
        currency="EUR",
        placed_at=placed,
        status="delivered",
        delivered_on=placed.date(),
    )
    assert Order.objects.get().status == "delivered"
    assert not Order.objects.get().is_late


def test_an_order_with_a_bad_currency_or_negative_amount_is_refused(agent, customer):
    placed = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValidationError):
        actions.record_order(
            customer=customer,
            actor=agent,
            number="X1",
            amount=Decimal("-1"),
            currency="EUR",
            placed_at=placed,
        )
    with pytest.raises(ValidationError):
        actions.record_order(
            customer=customer,
            actor=agent,
            number="X2",
            amount=Decimal("1"),
            currency="EURO",
            placed_at=placed,
        )
    assert not Order.objects.exists()


def test_identities_are_displayed_the_way_people_write_them(customer, brand, system):
    add = actions.add_customer_identity
    social = add(
        customer=customer,
        identity=IdentityInput("social", "@Carmen_Sol", network="instagram"),
        actor=system,
    )
    phone = customer.identities.get(kind="phone")
    assert (phone.value, phone.display_value) == ("+34600111222", "+34 600 11 12 22")
    assert social.display_value == "@carmen_sol"
    assert customer.identities.get(kind="email").display_value == "carmen@example.com"
