"""Every read of customers, identities, organizations and orders, scoped to the person asking."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.customers import crn as crn_scheme
from atiende.customers.models import Customer, CustomerIdentity, Order, Organization


def _scoped(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    brand_ids = brand_ids_with(user, Capability.VIEW_CUSTOMERS)
    if brand_ids is None:
        return queryset
    return queryset.filter(brand_id__in=brand_ids)


def customers_visible_to(user: Any) -> QuerySet[Customer]:
    return _scoped(Customer.objects.all(), user).select_related("brand", "organization")


def customer_for(user: Any, *, crn: str) -> Customer:
    """The customer with this CRN (typed with or without the dash); ``Customer.DoesNotExist`` if not visible.

    The CRN of a duplicate merged into another customer finds the one that survived.
    A mistyped CRN raises :class:`~atiende.customers.crn.InvalidCRN` saying what is wrong.
    """
    visible = customers_visible_to(user)
    customer = visible.get(crn=crn_scheme.parse(crn))
    # A merge re-points what was merged into its source, so one step always reaches the survivor.
    return customer if customer.merged_into_id is None else visible.get(pk=customer.merged_into_id)


def customer_by_identity_for(user: Any, *, kind: str, value: str, network: str = "") -> Customer:
    """The customer reachable at this address; ``Customer.DoesNotExist`` if none is visible."""
    identity = (
        _scoped(CustomerIdentity.objects.all(), user)
        .select_related("customer__brand", "customer__organization")
        .filter(kind=kind, value=value, network=network)
        .first()
    )
    if identity is None:
        raise Customer.DoesNotExist(f"No visible customer with {kind} {value}")
    return identity.customer


def identities_of(customer: Customer) -> QuerySet[CustomerIdentity]:
    return CustomerIdentity.objects.filter(customer=customer).order_by(
        "kind", "-is_primary", "value"
    )


def orders_of(customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).order_by("-placed_at", "-id")


def organizations_visible_to(user: Any) -> QuerySet[Organization]:
    return _scoped(Organization.objects.all(), user).select_related("brand")
