from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from atiende.accounts import actions
from atiende.accounts.models import (
    AccountEvent,
    AgentSkill,
    BrandMembership,
    Skill,
    Team,
    TeamMembership,
    User,
)
from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.core.admin import EventAdmin, ScopedAdmin, acting_user, is_installation_admin


class StaffCreationForm(forms.ModelForm):
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ("email", "full_name", "language", "time_zone", "is_staff")


class StaffChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "full_name",
            "language",
            "time_zone",
            "is_active",
            "is_staff",
            "is_superuser",
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff accounts: every administrator sees the people of their brands; only installation
    administrators create accounts or change them here (roles are granted per brand below)."""

    form = StaffChangeForm
    add_form = StaffCreationForm
    ordering = ("full_name", "email")
    list_display = ("full_name", "email", "language", "is_staff", "is_active", "last_login")
    list_filter = (
        "is_active",
        "is_staff",
        "memberships__role",
        ("memberships__brand", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("email", "full_name")
    filter_horizontal = ()
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        (_("Preferences"), {"fields": ("language", "time_zone")}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("email", "full_name", "password", "language", "time_zone", "is_staff")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        queryset = super().get_queryset(request)
        brand_ids = brand_ids_with(request.user, Capability.CONFIGURE_BRAND)
        if brand_ids is None:
            return queryset
        return queryset.filter(memberships__brand_id__in=brand_ids).distinct()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        brand_ids = brand_ids_with(request.user, Capability.CONFIGURE_BRAND)
        if brand_ids is None:
            return True
        if not brand_ids:
            return False
        return obj is None or obj.memberships.filter(brand_id__in=brand_ids).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_installation_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_installation_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are deactivated, never deleted: their history stays attributed.
        return False

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = actions.create_staff_user(
            email=obj.email,
            full_name=obj.full_name,
            password=form.cleaned_data["password"],
            language=obj.language,
            time_zone=obj.time_zone,
            is_staff=obj.is_staff,
            actor=acting_user(request),
        )
        obj.pk = created.pk


@admin.register(BrandMembership)
class BrandMembershipAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    deletable = True
    list_display = ("user", "brand", "role", "created_at")
    list_filter = ("role", "brand")
    search_fields = ("user__email", "user__full_name")
    list_select_related = ("user", "brand")
    autocomplete_fields = ("user",)

    def save_model(
        self, request: HttpRequest, obj: BrandMembership, form: Any, change: bool
    ) -> None:
        saved = actions.grant_brand_role(
            user=obj.user, brand=obj.brand, role=obj.role, actor=acting_user(request)
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: BrandMembership) -> None:
        actions.revoke_brand_role(user=obj.user, brand=obj.brand, actor=acting_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[BrandMembership]) -> None:
        for membership in queryset.select_related("user", "brand"):
            self.delete_model(request, membership)


@admin.register(Team)
class TeamAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("name", "brand", "is_active", "created_at")
    list_filter = ("brand", "is_active")
    search_fields = ("name",)
    fields = ("brand", "name", "is_active")

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> tuple[str, ...]:
        return ("brand",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        if change:
            actions.update_team(
                team=obj, name=obj.name, is_active=obj.is_active, actor=acting_user(request)
            )
            return
        obj.pk = actions.create_team(brand=obj.brand, name=obj.name, actor=acting_user(request)).pk


@admin.register(TeamMembership)
class TeamMembershipAdmin(ScopedAdmin):
    brand_path = "team__brand"
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    deletable = True
    list_display = ("user", "team", "is_lead", "created_at")
    list_filter = ("team__brand", "is_lead")
    list_select_related = ("user", "team")
    autocomplete_fields = ("user",)

    def save_model(
        self, request: HttpRequest, obj: TeamMembership, form: Any, change: bool
    ) -> None:
        obj.pk = actions.add_team_member(
            team=obj.team, user=obj.user, is_lead=obj.is_lead, actor=acting_user(request)
        ).pk

    def delete_model(self, request: HttpRequest, obj: TeamMembership) -> None:
        actions.remove_team_member(team=obj.team, user=obj.user, actor=acting_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TeamMembership]) -> None:
        for membership in queryset.select_related("team", "user"):
            self.delete_model(request, membership)


@admin.register(Skill)
class SkillAdmin(ScopedAdmin):
    """Brand skills (products) are edited by the brand's administrators; shared ones (languages,
    channels) by installation administrators."""

    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("name", "kind", "code", "brand")
    list_filter = ("kind", "brand")
    search_fields = ("name", "code")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Skill]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        brand_ids = self._brand_ids(request, self.view_capability)
        if brand_ids is None:
            return queryset
        from django.db.models import Q

        return (
            queryset.filter(Q(brand_id__in=brand_ids) | Q(brand__isnull=True))
            if brand_ids
            else queryset.none()
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.brand_id is None:
            return is_installation_admin(request)
        return super().has_change_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.brand_id is None:
            return self._allowed(request, self.view_capability)
        return super().has_view_permission(request, obj)


@admin.register(AgentSkill)
class AgentSkillAdmin(ScopedAdmin):
    brand_path = "skill__brand"
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("user", "skill", "level")
    list_select_related = ("user", "skill")
    autocomplete_fields = ("user",)

    def save_model(self, request: HttpRequest, obj: AgentSkill, form: Any, change: bool) -> None:
        obj.pk = actions.set_agent_skill(
            user=obj.user, skill=obj.skill, level=obj.level, actor=acting_user(request)
        ).pk


@admin.register(AccountEvent)
class AccountEventAdmin(EventAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    list_display = ("created_at", "type", "user", "team", "brand", "actor", "actor_label")
    list_select_related = ("user", "team", "brand", "actor")
