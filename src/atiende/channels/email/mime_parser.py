"""The standard library's MIME parser, without a regular expression compiled per multipart.

``email.feedparser`` compiles, for every multipart message it reads, a regular expression that
finds the lines holding that message's boundary. Boundaries are unique per message, so the ``re``
module's cache never helps: the compiles were a twentieth of processing inbound mail
(bench/README.md).

:func:`message_from_bytes` runs the standard library's own parser, code and all, with one thing
changed: its ``_parsegen`` is given a stand-in for the ``re`` module whose ``compile`` recognises
that boundary pattern and returns a matcher doing the same test with a string comparison and one
pattern compiled once. Any other pattern, or a boundary pattern of another shape (a future
Python's), goes to the real ``re.compile``. The standard library itself is not modified; what it
fixes in its parser reaches us unchanged, and a test parses every corpus message both ways and
compares the results.

:class:`HeaderIndexedMessage`, the message class the parsing policy gives the parser, answers
header lookups by name through an index of the names and remembers a part's content type; a
test holds its answers to ``EmailMessage``'s after any change to the headers.
"""

from __future__ import annotations

import email.feedparser
import re
import types
from email.message import EmailMessage, Message
from email.policy import Policy
from typing import Any

__all__ = ["HeaderIndexedMessage", "message_from_bytes"]

# The boundary line pattern email.feedparser builds: '(?P<sep>' + re.escape('--' + boundary)
# + _BOUNDARY_TAIL. After the separator, this is the whole of the test.
_BOUNDARY_HEAD = "(?P<sep>"
_BOUNDARY_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_AFTER_SEPARATOR = re.compile(_BOUNDARY_TAIL[1:])
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)  # re.escape puts a backslash before a character


class _BoundaryLine:
    """Matches a line as the compiled boundary pattern would: the separator, then the tail.

    The separator is a literal at the start of the pattern, so the pattern matches exactly when
    the line starts with it and the tail matches from there; ``match`` returns the tail's match
    object, whose ``end``, ``ws`` and ``linesep`` groups are the ones the parser reads.
    """

    __slots__ = ("separator", "start")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.start = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _AFTER_SEPARATOR.match(line, self.start)


class _PatternsForParser:
    """What the feed parser's ``_parsegen`` uses of the ``re`` module: ``escape`` and
    ``compile``, the latter answering a boundary pattern with a :class:`_BoundaryLine`."""

    escape = staticmethod(re.escape)

    @staticmethod
    def compile(pattern: str, flags: int = 0) -> Any:
        if not flags and pattern.startswith(_BOUNDARY_HEAD) and pattern.endswith(_BOUNDARY_TAIL):
            escaped = pattern[len(_BOUNDARY_HEAD) : -len(_BOUNDARY_TAIL)]
            separator = _ESCAPE.sub(r"\1", escaped)
            if re.escape(separator) == escaped:  # what the parser built, exactly
                return _BoundaryLine(separator)
        return re.compile(pattern, flags)


# The standard library's generator function, its code unchanged, with its module's names except
# ``re``. (Should a Python have no such function, the standard library's parser is used as is.)
_stdlib_parsegen = getattr(email.feedparser.FeedParser, "_parsegen", None)


class _FeedParser(email.feedparser.FeedParser):
    if isinstance(_stdlib_parsegen, types.FunctionType):
        _parsegen = types.FunctionType(
            _stdlib_parsegen.__code__,
            {**vars(email.feedparser), "re": _PatternsForParser},
            "_parsegen",
        )


def message_from_bytes(raw: bytes, policy: Policy) -> Message:
    """What ``email.message_from_bytes(raw, policy=policy)`` returns."""
    parser = _FeedParser(policy=policy)
    # As email.parser.BytesParser does: undecodable bytes kept as surrogates.
    parser.feed(raw.decode("ascii", errors="surrogateescape"))
    return parser.close()


class HeaderIndexedMessage(EmailMessage):
    """``EmailMessage`` whose lookups of a header by name (``get``, ``msg[name]``, ``in``)
    find it through an index of the lowercased names instead of lowercasing every name before it.

    The parser asks each part for its Content-Type again and again while splitting it (and the
    walk over the tree after it): about twenty lookups a message, each lowercasing the names of
    all the headers before the one asked, 450,000 ``str.lower`` calls for the ingest bench's
    2,208 mails (``bench/ingest.py --profile``). The index is rebuilt when the header list is
    replaced or grows (``email.message`` changes it no other way: ``replace_header`` keeps the
    name), and lookups read the value from the list, so they always answer as ``Message`` does.
    """

    _name_index: tuple[list[Any], int, dict[str, int]] | None = None

    def _first_position(self, name: str) -> int | None:
        headers = self._headers  # type: ignore[attr-defined]
        index = self._name_index
        if index is None or index[0] is not headers or index[1] != len(headers):
            positions: dict[str, int] = {}
            for position, (key, _value) in enumerate(headers):
                positions.setdefault(key.lower(), position)
            index = (headers, len(headers), positions)
            self._name_index = index
        return index[2].get(name.lower())

    def get(self, name: str, failobj: Any = None) -> Any:
        position = self._first_position(name)
        if position is None:
            return failobj
        key, value = self._headers[position]  # type: ignore[attr-defined]
        return self.policy.header_fetch_parse(key, value)

    def __contains__(self, name: str) -> bool:
        return self._first_position(name) is not None

    _content_type_memo: tuple[Any, Any, str] | None = None

    def get_content_type(self) -> str:
        """``Message.get_content_type``, remembered for the Content-Type header it was read from
        (the parser asks twelve times a message; a changed header is a new entry in the list)."""
        position = self._first_position("content-type")
        if position is None:
            return self.get_default_type()
        entry = self._headers[position]  # type: ignore[attr-defined]
        memo = self._content_type_memo
        if memo is not None and memo[0] is entry and memo[1] is self.policy:
            return memo[2]
        content_type = super().get_content_type()
        self._content_type_memo = (entry, self.policy, content_type)
        return content_type
