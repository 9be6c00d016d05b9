"""URLs of the channel plug-ins, each under /channels/<code>/, collected from the registry."""

from django.urls import include, path

from atiende.channels.registry import all_kinds

urlpatterns = [path(f"{kind.code}/", include(kind.urls)) for kind in all_kinds() if kind.urls]
