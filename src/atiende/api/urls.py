"""Mounted at /api/ by atiende.config.urls; the API object lives in atiende.api.v1."""

urlpatterns: list = []
