"""The administration site, limited to each staff user's brands.

Every model is registered, but the admin is not a back door:

* rows are filtered to the brands where the user holds the capability the admin class names, so
  an administrator of brand A never sees brand B's data, not even by guessing URLs;
* aggregates that change only through actions (conversations, customers, events) are read-only
  here: changing them belongs to the workspace and the API, which record the event;
* configuration (brands, teams, memberships) saved here goes through the same actions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest

from atiende.accounts.models import User
from atiende.accounts.permissions import brand_ids_with, is_unrestricted
from atiende.accounts.roles import Capability


class ScopedAdmin(admin.ModelAdmin):
    """Base of every Atiende admin class.

    ``brand_path`` is the lookup from the model to its Brand ("brand", "customer__brand"...);
    ``view_capability`` lets a user see rows of a brand; ``edit_capability`` (None: read-only)
    lets them add and change rows there.
    """

    brand_path: str = "brand"
    view_capability: str = Capability.CONFIGURE_BRAND
    edit_capability: str | None = None
    deletable: bool = False

    def _brand_ids(self, request: HttpRequest, capability: str) -> set[int] | None:
        return brand_ids_with(request.user, capability)

    def _allowed(self, request: HttpRequest, capability: str | None, obj: Any = None) -> bool:
        user = request.user
        if capability is None or not (user.is_active and user.is_staff):
            return False
        brand_ids = self._brand_ids(request, capability)
        if brand_ids is None:
            return True
        if not brand_ids:
            return False
        if obj is None:
            return True
        return self._brand_of(obj) in brand_ids

    def _brand_of(self, obj: Any) -> int | None:
        value = obj
        for part in self.brand_path.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return getattr(value, "pk", value)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)
        brand_ids = self._brand_ids(request, self.view_capability)
        if brand_ids is None:
            return queryset
        return queryset.filter(**{f"{self.brand_path}__in": brand_ids})

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Relation filters offer only values found in the (scoped) rows: the brand filter of an
        administrator of brand A must not list brand B's name."""
        return [scoped_filter(self.model, entry) for entry in super().get_list_filter(request)]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.view_capability)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.view_capability, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, self.edit_capability)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, self.edit_capability, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.deletable and self._allowed(request, self.edit_capability, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Offer only brands (and brand-owned rows) the user may configure."""
        brand_ids = self._brand_ids(request, self.edit_capability or self.view_capability)
        related = db_field.remote_field.model
        if brand_ids is not None:
            if related._meta.label == "brands.Brand":
                kwargs["queryset"] = related.objects.filter(pk__in=brand_ids)
            elif any(field.name == "brand" for field in related._meta.get_fields()):
                kwargs["queryset"] = related.objects.filter(brand_id__in=brand_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def scoped_filter(model: type[models.Model], entry: Any) -> Any:
    if not isinstance(entry, str):
        return entry
    field: Any = None
    current = model
    for part in entry.split("__"):
        field = current._meta.get_field(part)
        if not field.is_relation:
            return entry
        current = field.related_model
    return (
        (entry, admin.RelatedOnlyFieldListFilter)
        if field is not None and field.is_relation
        else entry
    )


class EventAdmin(ScopedAdmin):
    """Append-only history: visible, never editable."""

    list_display: tuple[str, ...] = ("created_at", "type", "actor", "actor_label")
    list_filter = ("type",)
    readonly_fields = ("type", "payload", "actor", "actor_label", "created_at")
    view_capability = Capability.VIEW_REPORTS
    date_hierarchy = "created_at"


def readonly_all_fields(admin_class: type[admin.ModelAdmin], model: type[models.Model]) -> None:
    """Show every field of ``model`` read-only in ``admin_class``'s change page."""
    admin_class.readonly_fields = tuple(field.name for field in model._meta.concrete_fields)


def acting_user(request: HttpRequest) -> User:
    """The signed-in staff user behind an admin request (the admin lets nobody else this far)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def is_installation_admin(request: HttpRequest) -> bool:
    return is_unrestricted(request.user)
