"""The customer record (CR1): who the customer is, how to reach them, what they bought."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.core.actions import ActionWrittenModel
from atiende.core.events import EventRecord
from atiende.core.schema import index_where_set
from atiende.customers import crn as crn_scheme
from atiende.customers import identities


class Organization(ActionWrittenModel):
    """A company or account that customers belong to (CR2)."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="organizations")
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("email domain"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    custom_attributes = models.JSONField(
        _("custom attributes"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "name"], name="organization_name_unique_per_brand"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Customer(ActionWrittenModel):
    # (Indexed by customer_brand_recent, which it leads.)
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    # Canonical form (seven symbols, no separator); unique across the installation, so a CRN
    # read out on the phone finds one customer whatever brand answers.
    crn = models.CharField(_("CRN"), max_length=crn_scheme.LENGTH, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        db_index=False,  # (customer_organization_set)
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=[("es", _("Spanish")), ("en", _("English"))],
    )
    address_line = models.CharField(_("address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    region = models.CharField(_("region"), max_length=120, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    consent_email = models.BooleanField(_("may be emailed"), default=False)
    consent_phone = models.BooleanField(_("may be called or texted"), default=False)
    consent_marketing = models.BooleanField(_("accepts marketing"), default=False)
    custom_attributes = models.JSONField(
        _("custom attributes"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    # A duplicate merged into another customer stays as a pointer to the one that survived,
    # so that its CRN, read out on the phone, still finds the right record.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_customers",
        db_index=False,  # (customer_merged_into_set)
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["brand", "-created_at"], name="customer_brand_recent"),
            index_where_set("organization", "customer_organization_set"),
            index_where_set("merged_into", "customer_merged_into_set"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.crn_display})"

    @property
    def crn_display(self) -> str:
        return crn_scheme.display(self.crn)

    @property
    def display_name(self) -> str:
        return self.name or str(_("Customer without a name"))


class IdentityKind(models.TextChoices):
    EMAIL = identities.EMAIL, _("Email")
    PHONE = identities.PHONE, _("Phone")
    SOCIAL = identities.SOCIAL, _("Social handle")


class CustomerIdentity(ActionWrittenModel):
    """One way to reach a customer. Unique per brand, kind and network: one address, one customer."""

    # (Indexed by the unique key identity_unique_per_brand_and_kind, which it leads.)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=16, choices=IdentityKind.choices)
    # For social handles: whatsapp, instagram, x...; empty for email and phone.
    network = models.CharField(_("network"), max_length=32, blank=True)
    value = models.CharField(_("value"), max_length=254)
    is_primary = models.BooleanField(_("primary"), default=False)
    # Set when mail to it bounced (or a message could not be delivered); cleared when the
    # customer writes from it again.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    failure_detail = models.CharField(_("failure"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")
        ordering = ["kind", "-is_primary", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "kind", "network", "value"],
                name="identity_unique_per_brand_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.network}:{self.value}" if self.network else self.value

    @property
    def display_value(self) -> str:
        return identities.display_identity(self.kind, self.value)


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. EUR."))


class Order(ActionWrittenModel):
    """A purchase the customer may ask about (CR3): what, how much, and when it was promised."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    number = models.CharField(_("number"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    # [{"sku": "...", "name": "...", "quantity": 1, "unit_price": "19.90"}]
    items = models.JSONField(_("items"), default=list, blank=True, encoder=DjangoJSONEncoder)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    placed_at = models.DateTimeField(_("placed at"))
    promised_delivery_on = models.DateField(_("promised delivery"), null=True, blank=True)
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "number"], name="order_number_unique_per_brand"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_late(self) -> bool:
        """Promised, not delivered, and the promise has passed (or it was delivered after it)."""
        from django.utils import timezone

        if self.promised_delivery_on is None or self.status in {
            OrderStatus.CANCELLED,
            OrderStatus.RETURNED,
        }:
            return False
        delivered = self.delivered_on or timezone.localdate()
        return delivered > self.promised_delivery_on


class CustomerEvent(EventRecord):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")

    class Meta(EventRecord.Meta):
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")


class OrganizationEvent(EventRecord):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")

    class Meta(EventRecord.Meta):
        verbose_name = _("organization event")
        verbose_name_plural = _("organization events")
