"""The registry channel plug-ins add themselves to.

A channel (email, chat, phone, a messaging network...) registers a :class:`ChannelKind` from its
app's ``ready()``; models store the code as plain text and validate against this registry, so a new
channel touches no central model, URL list or setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.functional import Promise


class OutboundAdapter(Protocol):
    """How a channel plug-in sends what agents write.

    ``prepare`` runs inside the reply's transaction and fills in what the channel needs on the
    message before it is committed (an email's Message-ID in ``external_id``); ``deliver_later``
    runs after commit and hands the message to the channel's delivery task.
    """

    def prepare(self, message: Any) -> list[str]:
        """Set channel fields on ``message``; return the names of the fields it changed."""

    def deliver_later(self, message_id: int) -> None: ...


@dataclass(frozen=True)
class ChannelKind:
    code: str
    label: str | Promise
    # Name of the icon in web/static/web/icons.svg.
    icon: str
    # Whether an agent can send a reply on it (a phone call log cannot be "sent").
    can_reply: bool = True
    # None: replies are recorded but nothing is sent yet (the plug-in has not landed).
    outbound: OutboundAdapter | None = None
    # The customer identity kind a reply goes to ("email"), or None for a channel that answers
    # within a session the customer opened (chat, portal, API): a reply on an address channel
    # needs the customer to have such an address.
    address_kind: str | None = None
    # A URL module of the plug-in (webhooks, widgets), mounted under /channels/<code>/.
    urls: str | None = None


_registry: dict[str, ChannelKind] = {}


def register(kind: ChannelKind) -> None:
    existing = _registry.get(kind.code)
    if existing is not None and existing != kind:
        raise ValueError(f"Channel {kind.code!r} is already registered differently")
    _registry[kind.code] = kind


def get(code: str) -> ChannelKind:
    try:
        return _registry[code]
    except KeyError:
        raise LookupError(f"No channel {code!r} is registered") from None


def is_registered(code: str) -> bool:
    return code in _registry


def all_kinds() -> list[ChannelKind]:
    return sorted(_registry.values(), key=lambda kind: kind.code)


def choices() -> list[tuple[str, str]]:
    return [(kind.code, str(kind.label)) for kind in all_kinds()]
