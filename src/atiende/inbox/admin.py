"""Saved views and read markers in the administration site: visible, changed only by actions.

A private saved view has no brand, so only installation administrators see it here; a view
shared with a team is visible to that brand's administrators.
"""

from django.contrib import admin

from atiende.accounts.roles import Capability
from atiende.core.admin import EventAdmin, ScopedAdmin, readonly_all_fields
from atiende.inbox.models import ConversationRead, SavedView, SavedViewEvent


@admin.register(SavedView)
class SavedViewAdmin(ScopedAdmin):
    list_display = ("name", "owner", "team", "view", "position", "created_at")
    list_filter = ("team",)
    list_select_related = ("owner", "team")
    search_fields = ("name",)


@admin.register(SavedViewEvent)
class SavedViewEventAdmin(EventAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    list_display = ("created_at", "type", "owner", "actor", "actor_label")
    list_select_related = ("owner", "actor")


@admin.register(ConversationRead)
class ConversationReadAdmin(ScopedAdmin):
    brand_path = "conversation__brand"
    view_capability = Capability.CONFIGURE_BRAND
    list_display = ("user", "conversation", "read_at")
    list_select_related = ("user", "conversation__brand")
    show_full_result_count = False


for admin_class, model in ((SavedViewAdmin, SavedView), (ConversationReadAdmin, ConversationRead)):
    readonly_all_fields(admin_class, model)
