"""Rebuilding the index from the tables it mirrors (``atiende manage reindex_search``).

Conversations are taken in ranges of ids, each range one transaction of two set-based
statements per table, so a million conversations need a few hundred short transactions and
the live product keeps writing in between. Rebuilding is idempotent: a range is deleted and
written again, whatever it held.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import Max, Min

from atiende.conversations.models import Conversation
from atiende.search import index

BATCH = 20_000


def rebuild_index(
    *,
    brand_id: int | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rewrite the documents of every conversation (of one brand) and its messages; returns
    how many conversations were indexed. ``progress`` hears each batch's count."""
    conversations = Conversation.objects.all()
    if brand_id is not None:
        conversations = conversations.filter(brand_id=brand_id)
    bounds = conversations.aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is None:
        return 0
    total = 0
    start = bounds["first"]
    while start <= bounds["last"]:
        end = start + batch - 1
        with transaction.atomic():
            index.index_range(start, end, brand_id=brand_id)
        count = conversations.filter(id__range=(start, end)).count()
        total += count
        if progress is not None:
            progress(count)
        start = end + 1
    index.optimize()
    return total
