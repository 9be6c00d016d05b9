"""Snippets with the matched words marked, as safe HTML. Plain Python apart from ``escape``.

The same highlighter serves SQLite and PostgreSQL: it reads the stored text and marks each word
whose folded form matches a term, so the page looks the same on both databases. Everything but
the ``<mark>`` tags is escaped: customer text never becomes markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from atiende.search.parsing import fold

_WORD = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")


def word_matches(word: str, terms: Iterable[str]) -> bool:
    """``word`` (folded) answers one of the folded ``terms``: the same word, or one sharing its
    stem closely enough to be what PostgreSQL's stemmers matched ("pedidos" for "pedido")."""
    for term in terms:
        if word == term or word.startswith(term):
            return True
        stem = len(term) - 2
        if stem >= 4 and word.startswith(term[:stem]) and len(word) <= len(term) + 3:
            return True
    return False


def highlight(text: str, terms: Iterable[str], *, width: int = 180) -> SafeString:
    """About ``width`` characters of ``text`` around its first match, matches in ``<mark>``."""
    terms = tuple(terms)
    text = _SPACE.sub(" ", text or "").strip()
    spans = [
        (match.start(), match.end())
        for match in _WORD.finditer(text)
        if word_matches(fold(match.group()), terms)
    ]
    start = 0
    if spans and spans[0][0] > width // 3:
        start = text.rfind(" ", 0, spans[0][0] - width // 3) + 1
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    parts = ["…" if start > 0 else ""]
    position = start
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        parts.append(escape(text[position:span_start]))
        parts.append(f"<mark>{escape(text[span_start:span_end])}</mark>")
        position = span_end
    parts.append(escape(text[position:end]))
    parts.append("…" if end < len(text) else "")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped
