"""``atiende manage issue_api_token --user EMAIL [--brand SLUG] [--scopes read,write]``.

Without ``--brand``: a personal token acting as that user. With ``--brand``: an integration token
of the brand, issued by that user (who must configure the brand). The token is printed once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from atiende.accounts.models import User
from atiende.api.actions import issue_token
from atiende.brands.models import Brand
from atiende.core.actors import system_actor


class Command(BaseCommand):
    help = "Issue an API token and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The staff user's email.")
        parser.add_argument("--brand", help="A brand's slug: issue an integration token.")
        parser.add_argument("--scopes", default="read,write", help="read, write, admin")
        parser.add_argument("--name", default="", help="What the token is for.")
        parser.add_argument("--expires-days", type=int, default=0, help="0: never expires.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"No user with email {options['user']}")
        brand = None
        if options["brand"]:
            brand = Brand.objects.filter(slug=options["brand"]).first()
            if brand is None:
                raise CommandError(f"No brand {options['brand']}")
        expires_at = (
            timezone.now() + timedelta(days=options["expires_days"])
            if options["expires_days"] > 0
            else None
        )
        name = options["name"] or (f"{brand.slug} integration" if brand else user.email)
        try:
            issued = issue_token(
                # The command line is the installation's administrator for personal tokens; an
                # integration token is issued by the user named, whose role must allow it.
                actor=user if brand is not None else system_actor("command line"),
                name=name,
                user=None if brand is not None else user,
                brand=brand,
                scopes=options["scopes"].split(","),
                expires_at=expires_at,
            )
        except (ValidationError, PermissionDenied) as error:
            raise CommandError(str(error)) from error
        self.stderr.write(
            f"Token {issued.token.prefix}… ({', '.join(issued.token.scopes)}); "
            "store it now, it is not shown again."
        )
        self.stdout.write(issued.secret)
