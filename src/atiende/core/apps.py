from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "atiende.core"
    label = "core"
    verbose_name = "Atiende core"
