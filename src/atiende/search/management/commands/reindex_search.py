"""Rebuild the search index: after a restore, an import done outside the actions, or to check."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from atiende.brands.models import Brand
from atiende.conversations.models import Conversation
from atiende.search.rebuild import BATCH, rebuild_index


class Command(BaseCommand):
    help = "Rebuild the full-text search index of conversations and messages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--brand", help="Only this brand (its slug).")
        parser.add_argument("--batch", type=int, default=BATCH, help="Conversation ids per batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        brand_id = None
        if options["brand"]:
            brand = Brand.objects.filter(slug=options["brand"]).first()
            if brand is None:
                raise CommandError(f"No brand with slug {options['brand']!r}")
            brand_id = brand.pk
        conversations = Conversation.objects.all()
        if brand_id is not None:
            conversations = conversations.filter(brand_id=brand_id)
        with tqdm(
            total=conversations.count(),
            unit="conversation",
            disable=options["verbosity"] < 1,
            file=sys.stderr,
        ) as bar:
            total = rebuild_index(brand_id=brand_id, batch=options["batch"], progress=bar.update)
        self.stdout.write(f"Indexed {total} conversations and their messages.")
