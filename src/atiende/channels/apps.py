from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "atiende.channels"
    label = "atiende_channels"  # "channels" is Django Channels' label
    verbose_name = _("Channels")

    def ready(self) -> None:
        from atiende.channels import builtin

        builtin.register_builtin_channels()
