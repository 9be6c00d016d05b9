"""``atiende manage export_openapi [--check] [--output PATH]``: write the API's OpenAPI document
(``openapi.json`` at the repository's root), or, with ``--check``, fail if it is out of date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atiende.api.openapi_document import DEFAULT_PATH, openapi_text


class Command(BaseCommand):
    help = "Export the OpenAPI document, or check that the committed one is current."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the file is stale.")
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["output"]
        text = openapi_text()
        if options["check"]:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                raise CommandError(
                    f"{path} is out of date: run `atiende manage export_openapi` and commit it."
                )
            self.stdout.write(f"{path} is current.")
            return
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {path}")
