from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "atiende.sla"
    label = "sla"
    verbose_name = _("Service levels (SLA)")

    def ready(self) -> None:
        from atiende.conversations.events import listen_to_conversation_events
        from atiende.sla import timers

        listen_to_conversation_events(timers.on_conversation_event)
