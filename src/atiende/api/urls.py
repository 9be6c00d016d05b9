"""Mounted at /api/ by atiende.config.urls: version 1 under /api/v1/, Swagger UI at /api/docs.

Any other path under /api/ answers a JSON 404 with its code, not the web interface's HTML page.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path

from atiende.api.errors import error_body
from atiende.api.v1 import api


def unknown_api_path(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(error_body("not_found"), status=404)


urlpatterns = [path("", api.urls), re_path(r"^(?P<rest>.*)$", unknown_api_path)]
