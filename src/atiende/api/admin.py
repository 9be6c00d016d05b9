"""Tokens in the admin: listed as their owner or a brand's administrator may see them, never
their secret; revoked from here. Issuing happens with ``atiende manage issue_api_token``, which
can show the secret once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from atiende.accounts.roles import Capability
from atiende.api.actions import revoke_token
from atiende.api.models import ApiToken, ApiTokenEvent, IdempotencyRecord
from atiende.api.queries import tokens_visible_to
from atiende.core.admin import EventAdmin, ScopedAdmin, acting_user, readonly_all_fields


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = None
    list_display = ("name", "prefix", "user", "brand", "scopes", "last_used_at", "revoked_at")
    list_filter = ("brand",)
    search_fields = ("name", "prefix", "user__email")
    readonly_fields = (
        "name",
        "prefix",
        "user",
        "brand",
        "scopes",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    exclude = ("hash",)
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        return tokens_visible_to(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self.has_module_permission(request):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = acting_user(request)
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            revoke_token(token=token, actor=actor)
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", len(tokens))
            % {"count": len(tokens)},
            messages.SUCCESS,
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Revoking is allowed wherever the token is visible (the action checks again).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(ApiTokenEvent)
class ApiTokenEventAdmin(EventAdmin):
    """Issued and revoked, by whom. Personal tokens' events have no brand: installation
    administrators see them."""

    view_capability = Capability.CONFIGURE_BRAND
    list_display = ("created_at", "type", "token", "actor", "actor_label")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ScopedAdmin):
    """The replies kept for retried POSTs, for diagnosis; read-only."""

    brand_path = "token__brand"
    view_capability = Capability.CONFIGURE_BRAND
    list_display = ("created_at", "method", "path", "key", "response_status")
    search_fields = ("key", "path")


readonly_all_fields(IdempotencyRecordAdmin, IdempotencyRecord)
