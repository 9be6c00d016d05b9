"""The event types a webhook subscription can ask for.

Subscriptions store their event types as plain codes and actions validate them against this
registry, so a feature added later (survey answers, say) registers its type from its app's
``ready()`` and touches no model or migration here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class WebhookEventType:
    code: str
    label: str | Promise


_registry: dict[str, WebhookEventType] = {}


def register(code: str, label: str | Promise) -> None:
    existing = _registry.get(code)
    if existing is not None and existing.label != label:
        raise ValueError(f"Webhook event type {code!r} is already registered differently")
    _registry[code] = WebhookEventType(code, label)


def is_registered(code: str) -> bool:
    return code in _registry


def all_types() -> list[WebhookEventType]:
    return sorted(_registry.values(), key=lambda kind: kind.code)


def choices() -> list[tuple[str, str]]:
    return [(kind.code, str(kind.label)) for kind in all_types()]


CONVERSATION_CREATED = "conversation.created"
MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
STATUS_CHANGED = "conversation.status_changed"
ASSIGNED = "conversation.assigned"
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
CUSTOMER_CREATED = "customer.created"

# Internal notes are deliberately absent: they are for colleagues and never leave Atiende.
register(CONVERSATION_CREATED, _("Conversation created"))
register(MESSAGE_RECEIVED, _("Message received from the customer"))
register(MESSAGE_SENT, _("Reply sent to the customer"))
register(STATUS_CHANGED, _("Conversation status changed"))
register(ASSIGNED, _("Conversation assigned"))
register(SLA_WARNING, _("SLA warning"))
register(SLA_BREACHED, _("SLA breached"))
register(CUSTOMER_CREATED, _("Customer created"))
