"""Customer data in the administration site: visible to the brand's staff, changed only by actions."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from atiende.accounts.roles import Capability
from atiende.core.admin import EventAdmin, ScopedAdmin, readonly_all_fields
from atiende.customers.models import (
    Customer,
    CustomerEvent,
    CustomerIdentity,
    Order,
    Organization,
    OrganizationEvent,
)


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    fields = ("kind", "network", "value", "is_primary", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CUSTOMERS
    list_display = (
        "display_name",
        "crn_display",
        "brand",
        "organization",
        "language",
        "postal_code",
        "created_at",
    )
    list_filter = ("brand", "language", "consent_email", "consent_marketing")
    list_select_related = ("brand", "organization")
    search_fields = ("crn", "name", "identities__value", "postal_code")
    inlines = [IdentityInline]
    date_hierarchy = "created_at"


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CUSTOMERS
    list_display = ("value", "kind", "network", "customer", "is_primary", "brand")
    list_filter = ("kind", "network", "brand")
    list_select_related = ("customer", "brand")
    search_fields = ("value", "customer__crn", "customer__name")


@admin.register(Organization)
class OrganizationAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CUSTOMERS
    list_display = ("name", "domain", "brand", "created_at")
    list_filter = ("brand",)
    list_select_related = ("brand",)
    search_fields = ("name", "domain")


@admin.register(Order)
class OrderAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CUSTOMERS
    list_display = (
        "number",
        "customer",
        "status",
        "amount",
        "currency",
        "placed_at",
        "promised_delivery_on",
        "delivered_on",
    )
    list_filter = ("status", "brand", "currency")
    list_select_related = ("customer", "brand")
    search_fields = ("number", "customer__crn", "customer__name")
    date_hierarchy = "placed_at"


@admin.register(CustomerEvent)
class CustomerEventAdmin(EventAdmin):
    list_display = ("created_at", "type", "customer", "actor", "actor_label")
    list_select_related = ("customer", "actor")


@admin.register(OrganizationEvent)
class OrganizationEventAdmin(EventAdmin):
    list_display = ("created_at", "type", "organization", "actor", "actor_label")
    list_select_related = ("organization", "actor")


for admin_class, model in (
    (CustomerAdmin, Customer),
    (CustomerIdentityAdmin, CustomerIdentity),
    (OrganizationAdmin, Organization),
    (OrderAdmin, Order),
):
    readonly_all_fields(admin_class, model)
