"""The channel kinds every installation knows, before any channel plug-in adds its own.

Their inbound and outbound code arrives with each channel's issue; until then they name where a
conversation came from and how a message travelled.
"""

from django.utils.translation import gettext_lazy as _

from atiende.channels.registry import ChannelKind, register

CHAT = ChannelKind("chat", _("Web chat"), "chat")
PHONE = ChannelKind("phone", _("Phone"), "phone", can_reply=False)
SOCIAL = ChannelKind("social", _("Social and messaging"), "social", address_kind="social")
PORTAL = ChannelKind("portal", _("Customer portal"), "portal")
API = ChannelKind("api", _("API"), "api")
INTERNAL = ChannelKind("internal", _("Internal"), "note", can_reply=False)


def register_builtin_channels() -> None:
    # Email is registered by its plug-in, atiende.channels.email, with its outbound adapter.
    for kind in (CHAT, PHONE, SOCIAL, PORTAL, API, INTERNAL):
        register(kind)
