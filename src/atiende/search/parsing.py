"""Reading what a person typed into the search box. Plain Python, no Django.

Nothing typed ever reaches a full-text engine's query syntax: the text is cut into words (letters
and digits only), and each word is later quoted (SQLite FTS5) or passed as a plain value
(PostgreSQL), so quotes, stars, minus signs, colons and parentheses are separators, not operators.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from atiende.customers import crn as crn_scheme

# Longer text is cut: a search box is not a document, and every word costs an index lookup.
MAX_TEXT = 200
MAX_TERMS = 12

_WORD = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REFERENCE = re.compile(r"^(?:(?P<prefix>[A-Za-z][A-Za-z0-9]{0,15})[-\s]?|#)(?P<number>\d{1,9})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")


def fold(text: str) -> str:
    """Lower case without diacritics: "Información" → "informacion" (as the indexes fold)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class Reference:
    """A conversation's human number: ``SOL-1042``, ``sol1042``, ``#1042`` (prefix None)."""

    prefix: str | None
    number: int


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    # Folded, de-duplicated words in the order typed; every one must match (AND).
    terms: tuple[str, ...]
    reference: Reference | None = None
    crn: str | None = None
    email: str | None = None
    phone: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.terms and self.reference is None and self.crn is None


def parse_query(raw: str) -> ParsedQuery:
    """What ``raw`` asks for. Never raises, whatever the input."""
    text = _CONTROL.sub(" ", raw or "")[:MAX_TEXT].strip()
    terms: list[str] = []
    for word in _WORD.findall(fold(text)):
        if word not in terms:
            terms.append(word)
    compact = text.replace(" ", "")
    reference = None
    if match := _REFERENCE.match(text):
        reference = Reference(
            prefix=match["prefix"].upper() if match["prefix"] else None,
            number=int(match["number"]),
        )
    crn = crn_scheme.normalize(text) if crn_scheme.is_valid(text) else None
    email = text.lower() if _EMAIL.match(text) else None
    digits = sum(char.isdigit() for char in compact)
    phone = text if _PHONE.match(text) and 7 <= digits <= 15 else None
    return ParsedQuery(
        text=text,
        terms=tuple(terms[:MAX_TERMS]),
        reference=reference,
        crn=crn,
        email=email,
        phone=phone,
    )


def fts5_match(terms: tuple[str, ...]) -> str:
    """An FTS5 MATCH expression requiring every term, each quoted as a string literal."""
    return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
