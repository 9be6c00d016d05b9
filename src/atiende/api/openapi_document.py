"""The OpenAPI document as committed in ``openapi.json`` at the repository's root."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.utils import translation

from atiende.api.v1 import api

DEFAULT_PATH = Path(settings.PACKAGE_DIR).parent.parent / "openapi.json"


def openapi_text() -> str:
    """The document as text, the same on every machine (English, keys in a stable order)."""
    with translation.override("en"):
        schema = api.get_openapi_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
