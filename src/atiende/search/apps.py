from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "atiende.search"
    label = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        from atiende.conversations.events import (
            listen_to_conversation_events,
            listen_to_conversation_imports,
        )
        from atiende.customers.events import listen_to_customer_events
        from atiende.search import listeners

        listen_to_conversation_events(listeners.on_conversation_event)
        listen_to_conversation_imports(listeners.on_conversations_imported)
        listen_to_customer_events(listeners.on_customer_event)
        post_migrate.connect(_fill_empty_index, sender=self)


def _fill_empty_index(using: str = "default", **kwargs: Any) -> None:
    """An installation that had conversations before search existed gets them indexed once,
    at the migration that created the index; an empty database costs two tiny queries."""
    from django.db import connection

    from atiende.conversations.models import Conversation
    from atiende.search import index
    from atiende.search.rebuild import rebuild_index

    if using != "default" or "search_conversation" not in connection.introspection.table_names():
        return
    if Conversation.objects.exists() and index.is_empty():
        rebuild_index()
