"""Every change to customers, their identities, organizations and orders."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from atiende.accounts.permissions import Actor, actor_fields, require
from atiende.accounts.roles import Capability
from atiende.brands.events import record_brand_event
from atiende.brands.models import Brand
from atiende.conversations.events import ConversationEventType, record_conversation_event
from atiende.conversations.models import Conversation, Message
from atiende.core.actions import action, insert_unless_present
from atiende.core.prepared import PreparedRead
from atiende.customers import crn as crn_scheme
from atiende.customers.events import CustomerEventType, record_customer_event
from atiende.customers.identities import normalize_identity
from atiende.customers.models import (
    Customer,
    CustomerIdentity,
    Order,
    OrderStatus,
    Organization,
    OrganizationEvent,
)

# Each attempt draws a fresh random CRN; with 31⁶ bodies a repeat is rare, and ten in a row means
# something other than chance (a broken random source), which must fail loudly.
CRN_ATTEMPTS = 10

EDITABLE_CUSTOMER_FIELDS = frozenset(
    {
        "name",
        "organization",
        "language",
        "address_line",
        "city",
        "region",
        "postal_code",
        "country",
        "consent_email",
        "consent_phone",
        "consent_marketing",
        "custom_attributes",
    }
)


@dataclass(frozen=True)
class IdentityInput:
    kind: str
    value: str
    network: str = ""
    is_primary: bool = False


def generate_crn() -> str:
    """A new random CRN; a function of its own so tests can make collisions happen on purpose."""
    return crn_scheme.generate()


def _insert_with_fresh_crn(customer: Customer) -> None:
    """Insert ``customer`` under a CRN no other customer has, even with concurrent writers.

    The unique index decides: an insert that finds the drawn CRN taken (another process took
    the same number first) inserts nothing, and another number is drawn.
    """
    for _attempt in range(CRN_ATTEMPTS):
        customer.crn = generate_crn()
        if insert_unless_present(customer, ["crn"]):
            return
    raise RuntimeError(f"No free CRN after {CRN_ATTEMPTS} attempts; is the random source broken?")


def _normalized(brand: Brand, identity: IdentityInput) -> IdentityInput:
    value = normalize_identity(
        identity.kind, identity.value, network=identity.network, default_region=brand.country
    )
    return IdentityInput(
        identity.kind,
        value,
        identity.network if identity.kind == "social" else "",
        identity.is_primary,
    )


def _identity_holder(brand_id: int, kind: str, network: str, value: str) -> QuerySet[Any]:
    # Two columns, not the whole customer: only the holder's id and CRN are needed. At most one
    # row (the identity is unique per brand, kind, network and value).
    return CustomerIdentity.objects.filter(
        brand_id=brand_id, kind=kind, network=network, value=value
    ).values_list("customer_id", "customer__crn")


# Asked for every new customer (every new sender of every channel): compiled once, as building
# the query cost the ORM more than answering it cost the database (bench/ingest.py --profile).
_IDENTITY_HOLDER = PreparedRead(_identity_holder, brand_id=int, kind=str, network=str, value=str)


def _check_identities_free(
    brand: Brand,
    identities: Sequence[IdentityInput],
    owner: Customer | None,
    known_free: Collection[tuple[str, str, str]] = (),
) -> None:
    seen: set[tuple[str, str, str]] = set()
    for identity in identities:
        key = (identity.kind, identity.network, identity.value)
        if key in seen:
            raise ValidationError(
                _("%(value)s is listed twice."),
                code="duplicate_identity",
                params={"value": identity.value},
            )
        seen.add(key)
        if key in known_free:
            continue
        holder = next(
            iter(
                _IDENTITY_HOLDER.rows(
                    brand_id=brand.pk,
                    kind=identity.kind,
                    network=identity.network,
                    value=identity.value,
                )
            ),
            None,
        )
        if holder is not None and holder[0] != (owner.pk if owner else None):
            raise ValidationError(
                _("%(value)s already belongs to customer %(crn)s."),
                code="duplicate_identity",
                params={"value": identity.value, "crn": crn_scheme.display(holder[1])},
            )


def _insert_identity(customer: Customer, identity: IdentityInput) -> CustomerIdentity:
    """Called only by actions, which end with the error raised here: no savepoint of its own is
    needed to leave the transaction usable (the action's own rolls back, or in a batch the
    item's), and a new customer from a new sender paid two statements for one."""
    try:
        return CustomerIdentity.objects.create(
            brand_id=customer.brand_id,
            customer=customer,
            kind=identity.kind,
            network=identity.network,
            value=identity.value,
            is_primary=identity.is_primary,
        )
    except IntegrityError:
        # Another writer claimed it between our check and our insert.
        raise ValidationError(
            _("%(value)s already belongs to another customer."),
            code="duplicate_identity",
            params={"value": identity.value},
        ) from None


def _check_organization(brand: Brand, organization: Organization | None) -> None:
    if organization is not None and organization.brand_id != brand.pk:
        raise ValidationError(_("The organization belongs to another brand."), code="wrong_brand")


@action
def create_customer(
    *,
    brand: Brand,
    actor: Actor,
    name: str = "",
    identities: Sequence[IdentityInput] = (),
    known_free: Collection[tuple[str, str, str]] = (),
    **fields: Any,
) -> Customer:
    """A new customer with a fresh CRN and their ways of contact, all or nothing.

    An invalid or already-taken identity raises ValidationError and nothing is written.
    ``known_free``: (kind, network, value) of normalized identities the caller found unheld in
    this transaction (the service chain, which looked the sender up): not asked about again. The
    unique index still refuses one that is taken after all, with a plainer message.
    """
    require(actor, Capability.EDIT_CUSTOMERS, brand.pk)
    unknown = set(fields) - EDITABLE_CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    _check_organization(brand, fields.get("organization"))
    normalized = [_normalized(brand, identity) for identity in identities]
    _check_identities_free(brand, normalized, owner=None, known_free=known_free)
    customer = Customer(brand=brand, name=name.strip(), **fields)
    customer.full_clean(exclude=["crn", "brand"])
    _insert_with_fresh_crn(customer)
    for identity in normalized:
        _insert_identity(customer, identity)
    record_customer_event(
        customer,
        CustomerEventType.CREATED,
        actor=actor,
        payload={"crn": customer.crn, "identities": [identity.value for identity in normalized]},
    )
    return customer


@action
def update_customer(*, customer: Customer, actor: Actor, **changes: Any) -> Customer:
    require(actor, Capability.EDIT_CUSTOMERS, customer.brand_id)
    unknown = set(changes) - EDITABLE_CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"Unknown customer fields: {', '.join(sorted(unknown))}")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    _check_organization(customer.brand, changes.get("organization"))
    before = {field: getattr(customer, field) for field in changes}
    for field, value in changes.items():
        setattr(customer, field, value)
    customer.full_clean(exclude=["crn", "brand"])
    changed = [field for field in changes if before[field] != getattr(customer, field)]
    if not changed:
        return customer
    customer.save(update_fields=[*changed, "updated_at"])

    def plain(value: Any) -> Any:
        return value.pk if hasattr(value, "pk") else value

    record_customer_event(
        customer,
        CustomerEventType.UPDATED,
        actor=actor,
        payload={
            "changes": {
                field: [plain(before[field]), plain(getattr(customer, field))] for field in changed
            }
        },
    )
    return customer


@action
def add_customer_identity(
    *, customer: Customer, identity: IdentityInput, actor: Actor
) -> CustomerIdentity:
    require(actor, Capability.EDIT_CUSTOMERS, customer.brand_id)
    normalized = _normalized(customer.brand, identity)
    _check_identities_free(customer.brand, [normalized], owner=customer)
    existing = CustomerIdentity.objects.filter(
        customer=customer, kind=normalized.kind, network=normalized.network, value=normalized.value
    ).first()
    if existing is not None:
        return existing
    created = _insert_identity(customer, normalized)
    record_customer_event(
        customer,
        CustomerEventType.IDENTITY_ADDED,
        actor=actor,
        payload={"kind": created.kind, "network": created.network, "value": created.value},
    )
    return created


@action
def record_identity_failure(
    *, identity: CustomerIdentity, detail: str, actor: Actor
) -> CustomerIdentity:
    """Mark an address as failing (a bounce said so); agents see it beside the address."""
    require(actor, Capability.EDIT_CUSTOMERS, identity.brand_id)
    identity = (
        CustomerIdentity.objects.select_for_update().select_related("customer").get(pk=identity.pk)
    )
    identity.failure_detail = detail[:500]
    if identity.failing_since is None:
        identity.failing_since = timezone.now()
    identity.save(update_fields=["failing_since", "failure_detail"])
    record_customer_event(
        identity.customer,
        CustomerEventType.IDENTITY_FAILING,
        actor=actor,
        payload={"kind": identity.kind, "value": identity.value, "detail": detail[:500]},
    )
    return identity


@action
def remove_customer_identity(*, identity: CustomerIdentity, actor: Actor) -> None:
    require(actor, Capability.EDIT_CUSTOMERS, identity.brand_id)
    customer = identity.customer
    payload = {"kind": identity.kind, "network": identity.network, "value": identity.value}
    identity.delete()
    record_customer_event(
        customer, CustomerEventType.IDENTITY_REMOVED, actor=actor, payload=payload
    )


@action
def create_organization(
    *, brand: Brand, name: str, actor: Actor, domain: str = "", notes: str = ""
) -> Organization:
    require(actor, Capability.EDIT_CUSTOMERS, brand.pk)
    name = name.strip()
    if not name:
        raise ValidationError(_("An organization needs a name."), code="required")
    if Organization.objects.filter(brand=brand, name__iexact=name).exists():
        raise ValidationError(
            _("There is already an organization called %(name)s."),
            code="duplicate_organization",
            params={"name": name},
        )
    organization = Organization.objects.create(
        brand=brand, name=name, domain=domain.strip().lower(), notes=notes
    )
    OrganizationEvent.objects.create(
        brand=brand,
        organization=organization,
        type=CustomerEventType.ORGANIZATION_CREATED,
        payload={"name": name},
        **actor_fields(actor),
    )
    return organization


@action
def record_order(
    *,
    customer: Customer,
    actor: Actor,
    number: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime,
    status: str = OrderStatus.PENDING,
    items: Iterable[dict[str, Any]] = (),
    promised_delivery_on: date | None = None,
    delivered_on: date | None = None,
) -> Order:
    """Create or update the customer's order ``number`` (orders arrive from shops by API or CSV)."""
    require(actor, Capability.EDIT_CUSTOMERS, customer.brand_id)
    order = (
        Order.objects.select_for_update().filter(brand_id=customer.brand_id, number=number).first()
    )
    if order is not None and order.customer_id != customer.pk:
        raise ValidationError(
            _("Order %(number)s belongs to another customer."),
            code="order_of_other_customer",
            params={"number": number},
        )
    order = order or Order(brand_id=customer.brand_id, customer=customer, number=number)
    order.status = status
    order.items = list(items)
    order.amount = Decimal(amount)
    order.currency = currency.upper()
    order.placed_at = placed_at
    order.promised_delivery_on = promised_delivery_on
    order.delivered_on = delivered_on
    order.full_clean(exclude=["brand", "customer"])
    order.save()
    record_customer_event(
        customer,
        CustomerEventType.ORDER_RECORDED,
        actor=actor,
        payload={"order": order.pk, "number": number, "status": status},
    )
    return order


class CustomerInUse(ValidationError):
    """A customer that cannot be deleted because other records still need it."""


# Filled on the survivor from the duplicate when the survivor has nothing there. Consents are
# not: each record's consent is what was asked and answered for it, and a merge grants nothing.
MERGE_FILLED_FIELDS = (
    "name",
    "organization_id",
    "language",
    "address_line",
    "city",
    "region",
    "postal_code",
    "country",
)


def _locked_customers(*customers: Customer) -> dict[int, Customer]:
    """Row locks taken in id order, so two merges of the same pair never wait on each other."""
    ids = sorted(customer.pk for customer in customers)
    rows = Customer.objects.select_for_update().filter(pk__in=ids)
    return {row.pk: row for row in rows.order_by("pk")}


def _move_conversations(source: Customer, target: Customer, actor: Actor) -> list[int]:
    """Hand the duplicate's conversations to the survivor, one event on each conversation."""
    conversations = list(
        Conversation.objects.select_for_update().filter(customer=source).order_by("pk")
    )
    Conversation.objects.filter(pk__in=[row.pk for row in conversations]).update(customer=target)
    Message.objects.filter(author_customer=source).update(author_customer=target)
    for conversation in conversations:
        conversation.customer = target
        # Recorded through the conversations app so that its listeners (SLA timers: a policy
        # may be set for the customer) see the change like any other.
        record_conversation_event(
            conversation,
            ConversationEventType.CUSTOMER_CHANGED,
            actor=actor,
            payload={"changes": {"customer": [source.pk, target.pk]}, "merged": True},
        )
    return [row.pk for row in conversations]


@action
def merge_customers(*, source: Customer, target: Customer, actor: Actor) -> Customer:
    """Fold the duplicate ``source`` into ``target``: its identities, conversations and orders
    move; ``target``'s empty fields take ``source``'s values. ``source`` keeps its CRN and points
    at ``target`` (``merged_into``), so the CRN still finds the customer. Returns ``target``.

    Both of one brand, neither merged away already.
    """
    require(actor, Capability.EDIT_CUSTOMERS, source.brand_id)
    if source.brand_id != target.brand_id:
        raise ValidationError(
            _("Only customers of the same brand can be merged."), code="wrong_brand"
        )
    if source.pk == target.pk:
        raise ValidationError(
            _("A customer cannot be merged into itself."), code="merge_into_itself"
        )
    locked = _locked_customers(source, target)
    source, target = locked[source.pk], locked[target.pk]
    for customer, code in ((source, "already_merged"), (target, "target_merged")):
        if customer.merged_into_id is not None:
            raise ValidationError(
                _("Customer %(crn)s was already merged into another customer."),
                code=code,
                params={"crn": customer.crn_display},
            )
    # Identities are unique per brand, kind and value, and both customers are of one brand: the
    # duplicate's addresses cannot be the survivor's too, so moving them breaks no constraint.
    # Only "primary" must stay one per kind.
    identities = list(CustomerIdentity.objects.filter(customer=source).order_by("pk"))
    primary_kinds = set(
        CustomerIdentity.objects.filter(customer=target, is_primary=True).values_list(
            "kind", flat=True
        )
    )
    CustomerIdentity.objects.filter(customer=source).update(customer=target)
    CustomerIdentity.objects.filter(
        pk__in=[row.pk for row in identities if row.is_primary and row.kind in primary_kinds]
    ).update(is_primary=False)
    order_ids = list(Order.objects.filter(customer=source).values_list("pk", flat=True))
    Order.objects.filter(pk__in=order_ids).update(customer=target)
    conversation_ids = _move_conversations(source, target, actor)
    filled = {
        field: getattr(source, field)
        for field in MERGE_FILLED_FIELDS
        if getattr(source, field) and not getattr(target, field)
    }
    for field, value in filled.items():
        setattr(target, field, value)
    attributes = {**(source.custom_attributes or {}), **(target.custom_attributes or {})}
    if attributes != (target.custom_attributes or {}):
        filled["custom_attributes"] = attributes
        target.custom_attributes = attributes
    target.save(update_fields=[*filled, "updated_at"])
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    # Those merged into the source earlier now point at the survivor too: a merged CRN is always
    # one step from the customer that has its conversations (search follows one step).
    Customer.objects.filter(merged_into=source).update(
        merged_into=target, updated_at=timezone.now()
    )
    moved = {
        "identities": [row.value for row in identities],
        "conversations": conversation_ids,
        "orders": order_ids,
    }
    record_customer_event(
        target,
        CustomerEventType.MERGED,
        actor=actor,
        payload={"source": source.pk, "source_crn": source.crn, **moved, "filled": filled},
    )
    record_customer_event(
        source,
        CustomerEventType.MERGED_AWAY,
        actor=actor,
        payload={"into": target.pk, "into_crn": target.crn, **moved},
    )
    return target


@action
def delete_customer(*, customer: Customer, actor: Actor) -> None:
    """Delete a customer who never had a conversation (a mistake, a test record), with their
    identities and orders. One who has conversations is kept or merged: ``CustomerInUse``.

    The customer's own event rows go with it (they point at it, and erasing a person must not
    leave their history behind); that the deletion happened is recorded on the brand's log,
    which survives, by id and CRN only.
    """
    require(actor, Capability.EDIT_CUSTOMERS, customer.brand_id)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.conversations.exists():
        raise CustomerInUse(
            _(
                "Customer %(crn)s has conversations and cannot be deleted; merge it into "
                "another customer or keep it."
            ),
            code="customer_has_conversations",
            params={"crn": customer.crn_display},
        )
    if customer.merged_customers.exists():
        raise CustomerInUse(
            _(
                "Other customer records were merged into %(crn)s; their reference numbers "
                "lead here, so it is kept."
            ),
            code="customer_has_merged_records",
            params={"crn": customer.crn_display},
        )
    payload = {
        "customer": customer.pk,
        "crn": customer.crn,
        "identities": customer.identities.count(),
        "orders": customer.orders.count(),
    }
    try:
        with transaction.atomic():
            customer.delete()
    except (ProtectedError, RestrictedError):
        raise CustomerInUse(
            _("Customer %(crn)s is still used by other records and cannot be deleted."),
            code="customer_in_use",
            params={"crn": customer.crn_display},
        ) from None
    record_brand_event(customer.brand, CustomerEventType.DELETED, actor=actor, payload=payload)
