from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrandsConfig(AppConfig):
    name = "atiende.brands"
    label = "brands"
    verbose_name = _("Brands")
