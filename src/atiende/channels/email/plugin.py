"""The email channel as a plug-in: its kind (with the adapter that sends agents' replies and the
raw-MIME webhook under /channels/email/) and its stages of the service chain."""

from django.utils.translation import gettext_lazy as _

from atiende.channels.email.outbound import EmailOutbound
from atiende.channels.email.stages import register_email_stages
from atiende.channels.registry import ChannelKind, register


def register_email_channel() -> None:
    register(
        ChannelKind(
            "email",
            _("Email"),
            "mail",
            outbound=EmailOutbound(),
            address_kind="email",
            urls="atiende.channels.email.urls",
        )
    )
    register_email_stages()
