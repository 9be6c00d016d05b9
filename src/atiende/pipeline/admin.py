"""The service chain in the administration site: every inbound message with its state, replay of
those that need attention, each brand's order of stages, and the time each stage takes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from atiende.accounts.roles import Capability
from atiende.core.admin import ScopedAdmin, acting_user, readonly_all_fields
from atiende.pipeline import actions, chain
from atiende.pipeline.models import InboundMessage, ServiceChain
from atiende.pipeline.queries import stage_latency_for

LATENCY_SAMPLE = 5000


@admin.register(InboundMessage)
class InboundMessageAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "id",
        "received_at",
        "brand",
        "channel",
        "source",
        "status",
        "outcome",
        "attempts",
        "short_error",
    )
    list_filter = ("status", "outcome", "channel", "brand")
    list_select_related = ("brand",)
    search_fields = ("dedupe_key", "source", "error")
    date_hierarchy = "received_at"
    exclude = ("raw",)
    actions = ["replay"]
    show_full_result_count = False

    @admin.display(description=_("error"))
    def short_error(self, inbound: InboundMessage) -> str:
        return inbound.error[:120]

    @admin.display(description=_("raw message (start)"))
    def raw_preview(self, inbound: InboundMessage) -> str:
        return bytes(inbound.raw[:20000]).decode("utf-8", errors="replace")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "raw_preview")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Process the selected messages again"))
    def replay(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        replayed = 0
        for inbound in queryset:
            try:
                actions.replay_inbound(inbound=inbound, actor=acting_user(request))
            except ValidationError as error:
                self.message_user(
                    request, f"#{inbound.pk}: {' '.join(error.messages)}", messages.WARNING
                )
            else:
                replayed += 1
        if replayed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message queued again.", "%(count)d messages queued again.", replayed
                )
                % {"count": replayed},
                messages.SUCCESS,
            )

    def get_urls(self) -> list[Any]:
        latency = path(
            "latency/",
            self.admin_site.admin_view(self.latency_view),
            name="pipeline_inboundmessage_latency",
        )
        return [latency, *super().get_urls()]

    def latency_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        context = {
            **self.admin_site.each_context(request),
            "latencies": stage_latency_for(request.user, last=LATENCY_SAMPLE),
            "sample_size": LATENCY_SAMPLE,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/pipeline/stage_latency.html", context)


readonly_all_fields(InboundMessageAdmin, InboundMessage)
InboundMessageAdmin.readonly_fields = tuple(
    name for name in InboundMessageAdmin.readonly_fields if name != "raw"
)


class ServiceChainForm(forms.ModelForm):
    stages = forms.CharField(
        label=_("stages, in order"),
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_(
            "One stage name per line. An order in which a stage comes before what it needs is refused."
        ),
    )

    class Meta:
        model = ServiceChain
        fields = ("brand", "channel", "stages", "acknowledge_new", "acknowledgement_text")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["stages"] = "\n".join(self.instance.stages)

    def clean_stages(self) -> list[str]:
        names = [line.strip() for line in self.cleaned_data["stages"].splitlines() if line.strip()]
        try:
            chain.validate(self.cleaned_data.get("channel", ""), names)
        except chain.ChainError as error:
            raise ValidationError(str(error)) from None
        return names


@admin.register(ServiceChain)
class ServiceChainAdmin(ScopedAdmin):
    form = ServiceChainForm
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("brand", "channel", "updated_at")
    list_filter = ("brand", "channel")

    def save_model(self, request: HttpRequest, obj: ServiceChain, form: Any, change: bool) -> None:
        saved = actions.configure_service_chain(
            brand=obj.brand,
            channel=obj.channel,
            stages=form.cleaned_data["stages"],
            acknowledge_new=obj.acknowledge_new,
            acknowledgement_text=obj.acknowledgement_text,
            actor=acting_user(request),
        )
        obj.pk = saved.pk
