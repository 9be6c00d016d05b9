from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from atiende.accounts.roles import Capability
from atiende.brands.actions import EDITABLE_BRAND_FIELDS, create_brand, update_brand
from atiende.brands.models import Brand, BrandEvent
from atiende.core.admin import EventAdmin, ScopedAdmin, acting_user, is_installation_admin


@admin.register(Brand)
class BrandAdmin(ScopedAdmin):
    brand_path = "id"
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "name",
        "slug",
        "number_prefix",
        "country",
        "time_zone",
        "default_language",
        "is_active",
    )
    list_filter = ("is_active", "country")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_installation_admin(request)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Brand | None = None
    ) -> tuple[str, ...]:
        return ("slug",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Brand, form: Any, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in EDITABLE_BRAND_FIELDS
            if name in form.cleaned_data
        }
        if change:
            changed = {name: value for name, value in fields.items() if name in form.changed_data}
            saved = update_brand(brand=obj, actor=acting_user(request), **changed)
        else:
            fields.pop("name", None)
            fields.pop("number_prefix", None)
            saved = create_brand(
                slug=obj.slug,
                name=obj.name,
                number_prefix=obj.number_prefix,
                actor=acting_user(request),
                **fields,
            )
        obj.pk = saved.pk


@admin.register(BrandEvent)
class BrandEventAdmin(EventAdmin):
    list_display = ("created_at", "brand", "type", "actor", "actor_label")
