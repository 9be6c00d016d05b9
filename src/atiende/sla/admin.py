"""SLA configuration in the admin: calendars and policies (with their targets inline) are saved
through the actions, so each change is an event and open conversations are recomputed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.core.admin import EventAdmin, ScopedAdmin, acting_user, readonly_all_fields
from atiende.sla.actions import save_calendar, save_policy
from atiende.sla.calendar import WEEKDAYS
from atiende.sla.forms import CalendarForm
from atiende.sla.models import Calendar, Policy, PolicyTarget, SlaEvent, SlaTimer


@admin.register(Calendar)
class CalendarAdmin(ScopedAdmin):
    form = CalendarForm
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "name",
        "brand",
        "time_zone",
        "holiday_country",
        "holiday_subdivision",
        "updated_at",
    )
    list_filter = ("brand",)
    search_fields = ("name",)
    fieldsets = [
        (None, {"fields": ("brand", "name", "time_zone")}),
        (_("Weekly hours"), {"fields": tuple(f"hours_{day}" for day in WEEKDAYS)}),
        (
            _("Holidays and exceptions"),
            {
                "fields": (
                    "holiday_country",
                    "holiday_subdivision",
                    "closures",
                    "special_dates",
                    "date_breaks",
                )
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("brand",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Calendar, form: Any, change: bool) -> None:
        saved = save_calendar(
            brand=obj.brand,
            actor=acting_user(request),
            calendar=Calendar.objects.get(pk=obj.pk) if change else None,
            **form.stored_values(),
        )
        obj.pk = saved.pk


POLICY_FORM_FIELDS = (
    "name", "is_active", "parent", "precedence", "scope", "category", "team", "business_area",
    "organization", "customer", "calendar", "pause_when_pending", "pause_when_on_hold",
    "warning_percent", "breach_raises_priority", "breach_team",
)  # fmt: skip


class PolicyTargetInline(admin.TabularInline):
    """Targets on their policy's page, allowed to whoever may configure the policy's brand."""

    model = PolicyTarget
    extra = 1
    fields = ("metric", "priority", "minutes")

    def _configures(self, request: HttpRequest, obj: Any = None) -> bool:
        brands = brand_ids_with(request.user, Capability.CONFIGURE_BRAND)
        if brands is None:
            return True
        return obj.brand_id in brands if obj is not None else bool(brands)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._configures(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._configures(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._configures(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._configures(request, obj)


@admin.register(Policy)
class PolicyAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    inlines = [PolicyTargetInline]
    list_display = ("name", "brand", "scope", "parent", "calendar", "precedence", "is_active")
    list_filter = ("brand", "scope", "is_active")
    list_select_related = ("brand", "parent", "calendar")
    search_fields = ("name",)
    autocomplete_fields = ("customer", "organization")
    fieldsets = [
        (None, {"fields": ("brand", "name", "is_active", "parent", "precedence")}),
        (
            _("Applies to"),
            {"fields": ("scope", "category", "team", "business_area", "organization", "customer")},
        ),
        (
            _("Clock"),
            {"fields": ("calendar", "pause_when_pending", "pause_when_on_hold", "warning_percent")},
        ),
        (_("On a breach"), {"fields": ("breach_raises_priority", "breach_team")}),
    ]

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        """Nothing yet: the policy is saved with its targets in save_related, by one action."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj: Policy = form.instance
        targets = []
        for formset in formsets:
            # What the admin's change message reads; the action, not the formset, saves rows.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for inline_form in formset.forms:
                data = getattr(inline_form, "cleaned_data", None)
                if not data or data.get("DELETE") or not data.get("metric"):
                    continue
                targets.append(
                    {
                        "metric": data["metric"],
                        "priority": data.get("priority", ""),
                        "minutes": data["minutes"],
                    }
                )
        values: dict[str, Any] = {
            name: form.cleaned_data[name]
            for name in POLICY_FORM_FIELDS
            if name != "brand" and name in form.cleaned_data
        }
        saved = save_policy(
            brand=form.cleaned_data.get("brand") or obj.brand,
            actor=acting_user(request),
            policy=obj if change else None,
            targets=targets,
            **values,
        )
        obj.pk = saved.pk


@admin.register(SlaTimer)
class SlaTimerAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = ("conversation", "metric", "cycle", "state", "due_at", "met_at", "breached_at")
    list_filter = ("brand", "metric", "state")
    list_select_related = ("conversation",)


readonly_all_fields(SlaTimerAdmin, SlaTimer)


@admin.register(SlaEvent)
class SlaEventAdmin(EventAdmin):
    list_display = ("created_at", "type", "conversation", "timer", "actor_label")


@admin.register(PolicyTarget)
class PolicyTargetAdmin(ScopedAdmin):
    """Targets are edited on their policy's page (through its action); listed here to compare."""

    brand_path = "policy__brand"
    list_display = ("policy", "metric", "priority", "minutes")
    list_filter = ("metric", "priority")
    list_select_related = ("policy",)
