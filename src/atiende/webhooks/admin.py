"""Webhooks in the administration site: each brand's subscriptions, and the delivery log with
"Redeliver". Saving goes through the actions; the signing secret is shown once, when it is made."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from atiende.accounts.roles import Capability
from atiende.core.admin import ScopedAdmin, acting_user, readonly_all_fields
from atiende.webhooks import actions, registry
from atiende.webhooks.models import WebhookDelivery, WebhookSubscription


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "Where events are posted. It must start with https:// (http:// only to "
            "localhost, for testing)."
        ),
    )
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=registry.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ("brand", "url", "description", "event_types", "is_active")

    def clean_url(self) -> str:
        return actions.check_url(self.cleaned_data.get("url", ""))

    def clean_event_types(self) -> list[str]:
        return actions.check_event_types(self.cleaned_data.get("event_types", []))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ScopedAdmin):
    form = WebhookSubscriptionForm
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "url",
        "brand",
        "is_active",
        "paused_at",
        "consecutive_failures",
        "created_at",
    )
    list_filter = ("brand", "is_active")
    list_select_related = ("brand",)
    search_fields = ("url", "description")
    actions = ["pause_selected", "resume_selected", "rotate_secrets"]
    state_fields = ("paused_at", "pause_reason", "consecutive_failures", "created_at", "updated_at")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (None, {"fields": ("brand", "url", "description", "event_types", "is_active")}),
            (_("Deliveries"), {"fields": self.state_fields}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("brand", *self.state_fields) if obj is not None else self.state_fields

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in actions.EDITABLE_FIELDS}
        if change:
            changed = {name: value for name, value in fields.items() if name in form.changed_data}
            saved = actions.update_subscription(
                subscription=obj, actor=acting_user(request), **changed
            )
        else:
            saved, secret = actions.create_subscription(
                brand=form.cleaned_data["brand"], actor=acting_user(request), **fields
            )
            self._show_secret(request, saved, secret)
        obj.pk = saved.pk

    def _show_secret(
        self, request: HttpRequest, subscription: WebhookSubscription, secret: str
    ) -> None:
        self.message_user(
            request,
            _(
                "Signing secret of %(url)s: %(secret)s — copy it now into the receiving "
                "system; it will not be shown again."
            )
            % {"url": subscription.url, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Pause the selected subscriptions"), permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            actions.pause_subscription(subscription=subscription, actor=acting_user(request))
        self.message_user(request, _("Deliveries to the selected subscriptions are on hold."))

    @admin.action(description=_("Resume the selected subscriptions"), permissions=["change"])
    def resume_selected(
        self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]
    ) -> None:
        for subscription in queryset:
            actions.resume_subscription(subscription=subscription, actor=acting_user(request))
        self.message_user(
            request, _("The selected subscriptions receive events again; waiting ones are sent.")
        )

    @admin.action(description=_("Make new signing secrets"), permissions=["change"])
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            secret = actions.rotate_secret(subscription=subscription, actor=acting_user(request))
            self._show_secret(request, subscription, secret)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdmin):
    """The delivery log: read-only, with "Redeliver"."""

    view_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "created_at",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "subscription",
        "short_error",
    )
    list_filter = ("status", "event_type", "brand")
    list_select_related = ("subscription",)
    search_fields = ("event_id",)
    date_hierarchy = "created_at"
    actions = ["redeliver_selected"]
    show_full_result_count = False

    @admin.display(description=_("last error"))
    def short_error(self, delivery: WebhookDelivery) -> str:
        return delivery.last_error[:120]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A list of many rows need not carry every payload; a delivery's own page loads it.
        return super().get_queryset(request).defer("payload")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """A delivery id (as a receiver logged it) finds its delivery."""
        try:
            return queryset.filter(delivery_id=uuid.UUID(search_term.strip())), False
        except ValueError:
            return super().get_search_results(request, queryset, search_term)

    @admin.action(description=_("Redeliver"))
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset:
            try:
                actions.redeliver(delivery=delivery, actor=acting_user(request))
            except (ValidationError, PermissionDenied) as error:
                reason = " ".join(getattr(error, "messages", [])) or str(error)
                self.message_user(request, f"{delivery.delivery_id}: {reason}", messages.WARNING)
            else:
                queued += 1
        if queued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery queued again, with the same delivery id.",
                    "%(count)d deliveries queued again, with the same delivery ids.",
                    queued,
                )
                % {"count": queued},
                messages.SUCCESS,
            )


readonly_all_fields(WebhookDeliveryAdmin, WebhookDelivery)
