"""Conversations in the administration site: visible to the brand's staff, changed only by actions.

Categories and tags are brand configuration and are edited here by the brand's administrators.
"""

from django.contrib import admin

from atiende.accounts.roles import Capability
from atiende.conversations.models import (
    Attachment,
    Category,
    Conversation,
    ConversationCounter,
    ConversationEvent,
    ConversationTag,
    Message,
    Tag,
)
from atiende.core.admin import EventAdmin, ScopedAdmin, readonly_all_fields


@admin.register(Conversation)
class ConversationAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = (
        "reference",
        "subject",
        "customer",
        "status",
        "priority",
        "channel",
        "assignee",
        "last_message_at",
    )
    list_filter = ("status", "priority", "channel", "brand")
    list_select_related = ("brand", "customer", "assignee")
    search_fields = ("subject", "customer__crn", "customer__name")
    date_hierarchy = "last_message_at"
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = ("conversation", "direction", "author_kind", "channel", "created_at")
    list_filter = ("direction", "channel", "brand")
    list_select_related = ("conversation__brand",)
    show_full_result_count = False


@admin.register(Attachment)
class AttachmentAdmin(ScopedAdmin):
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = ("filename", "content_type", "size", "message", "created_at")
    list_filter = ("content_type", "brand")


@admin.register(ConversationEvent)
class ConversationEventAdmin(EventAdmin):
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = ("created_at", "type", "conversation", "actor", "actor_label")
    list_select_related = ("conversation__brand", "actor")
    show_full_result_count = False


@admin.register(ConversationCounter)
class ConversationCounterAdmin(ScopedAdmin):
    list_display = ("brand", "last_number")


@admin.register(ConversationTag)
class ConversationTagAdmin(ScopedAdmin):
    brand_path = "conversation__brand"
    view_capability = Capability.VIEW_CONVERSATIONS
    list_display = ("conversation", "tag")
    list_select_related = ("conversation__brand", "tag")


@admin.register(Category)
class CategoryAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("name", "brand", "is_active")
    list_filter = ("brand", "is_active")
    search_fields = ("name",)


@admin.register(Tag)
class TagAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    # Not deletable: removing a tag from conversations is a change to them, made by an action.
    list_display = ("name", "brand")
    list_filter = ("brand",)
    search_fields = ("name",)


for admin_class, model in (
    (ConversationAdmin, Conversation),
    (MessageAdmin, Message),
    (AttachmentAdmin, Attachment),
    (ConversationCounterAdmin, ConversationCounter),
    (ConversationTagAdmin, ConversationTag),
):
    readonly_all_fields(admin_class, model)
