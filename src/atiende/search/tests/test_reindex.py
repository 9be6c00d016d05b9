"""``reindex_search`` rebuilds the index from the conversations and messages it mirrors."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from atiende.search.queries import search_for


def _found(user: Any, text: str) -> list[int]:
    return [hit.conversation.pk for hit in search_for(user, text).hits]


def _wipe_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_message")
        cursor.execute("DELETE FROM search_conversation")


def test_reindex_rebuilds_a_lost_index(
    agent: Any, outsider: Any, conversation: Any, other_conversation: Any
) -> None:
    _wipe_index()
    assert _found(agent, "lunes") == []
    out = StringIO()
    call_command("reindex_search", "--batch", "1", verbosity=0, stdout=out)
    assert "Indexed 2 conversations" in out.getvalue()
    assert _found(agent, "lunes") == [conversation.pk]
    assert _found(agent, "carmen") == [conversation.pk]
    assert _found(outsider, "portar") == [other_conversation.pk]


def test_reindex_twice_leaves_one_document_per_row(agent: Any, conversation: Any) -> None:
    call_command("reindex_search", verbosity=0, stdout=StringIO())
    call_command("reindex_search", verbosity=0, stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM search_message")
        assert cursor.fetchone()[0] == conversation.messages.count()
        cursor.execute("SELECT count(*) FROM search_conversation")
        assert cursor.fetchone()[0] == 1


def test_reindex_of_one_brand_leaves_the_others_alone(
    agent: Any, outsider: Any, brand: Any, conversation: Any, other_conversation: Any
) -> None:
    _wipe_index()
    call_command("reindex_search", "--brand", brand.slug, verbosity=0, stdout=StringIO())
    assert _found(agent, "lunes") == [conversation.pk]
    assert _found(outsider, "portar") == []


def test_reindex_refuses_an_unknown_brand(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("reindex_search", "--brand", "nope", verbosity=0)
