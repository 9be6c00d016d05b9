"""Signed outbound webhooks: subscriptions per brand, one delivery row per event, retried."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "atiende.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from atiende.conversations.events import listen_to_conversation_events
        from atiende.customers.events import listen_to_customer_events
        from atiende.sla.models import SlaEvent
        from atiende.webhooks import dispatch

        listen_to_conversation_events(dispatch.on_conversation_event)
        listen_to_customer_events(dispatch.on_customer_event)
        # SLA events have no listener hook (see dispatch): their append-only rows' creation,
        # inside the recording action's transaction, stands in for one.
        post_save.connect(
            dispatch.on_sla_event_saved, sender=SlaEvent, dispatch_uid="webhooks.sla_event"
        )
