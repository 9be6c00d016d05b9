"""``atiende manage revoke_api_token PREFIX``: stop a token from working, at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atiende.api.actions import revoke_token
from atiende.api.models import ApiToken
from atiende.core.actors import system_actor


class Command(BaseCommand):
    help = "Revoke the API token whose visible prefix is given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="The token's first characters, as listed in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        tokens = list(ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True))
        if len(tokens) != 1:
            raise CommandError(f"{len(tokens)} active tokens have the prefix {options['prefix']}")
        revoke_token(token=tokens[0], actor=system_actor("command line"))
        self.stdout.write(f"Revoked {tokens[0]}")
