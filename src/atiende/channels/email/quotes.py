"""Separating what a customer wrote from the history their mail client quoted below (or above) it.

Pure standard library, no Django. Conservative by design: when unsure, text stays in the new part,
because an agent who misses the customer's words is worse off than one who reads a quote twice.
The quoted part is returned, never thrown away.

Also home of :func:`html_to_text`, since finding quotes in HTML works on the text the same
walker produces.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from html import unescape

# Attribution lines: "On Mon, 2 Apr 2012 at 18:26, Ana <a@b.c> wrote:", "El 3 abr 2012, a las
# 16:19, Ana escribió:", "Am 07.05.2012 08:10, schrieb Martin:", Android's "<date> пользователь …
# написал:". Recognised by the verb at the end, confirmed by a digit or "@" (a date or address) so
# that "My colleague wrote:" in the customer's own words is not taken for the start of a quote.
_VERBS = (
    r"wrote|writes|escribió|escribio|ha escrito|schrieb|a écrit|ha scritto|escreveu|schreef|skrev"
    r"|kirjoitti|napisał|написал|написала|написал\(а\)|yazdı"
)
_ATTRIBUTION_END = re.compile(rf"(?:{_VERBS})\s*:\s*$", re.IGNORECASE)
_ATTRIBUTION_TAIL = re.compile(rf"^(?:{_VERBS})\b", re.IGNORECASE)
# "Am 07.05.2012 08:10, schrieb X:" puts the verb first; German and Dutch clients do this.
_ATTRIBUTION_VERB_FIRST = re.compile(
    r"^(?:Am|Op)\s.*\d.*,\s*(?:schrieb|schreef)\s.*:\s*$", re.IGNORECASE
)
# The first half of an attribution wrapped over two lines starts like one.
_ATTRIBUTION_START = re.compile(
    r"^(?:On|El|Am|Le|Il|Em|Op|Den|Dne|W dniu|-{2,}\s*On|\d)", re.IGNORECASE
)
_MAX_ATTRIBUTION = 300
_DIGIT_OR_AT = re.compile(r"[\d@]")

_ORIGINAL_MESSAGE = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:Original Message|Mensaje original|Mensaje Original|Message d'origine"
    r"|Ursprüngliche Nachricht|Messaggio originale|Mensagem original|Oorspronkelijk bericht"
    r"|Исходное сообщение)\s*[-=_*]{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:Forwarded message|Mensaje reenviado|Begin forwarded message)",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")

# Outlook-style header blocks, in the languages our customers write in (and a few more clients send).
_FROM_KEYS = "from|de|von|от|da|van"
_DATE_KEYS = "sent|date|enviado|enviada|fecha|gesendet|datum|envoyé|data|отправлено|дата|verzonden"
_OTHER_KEYS = (
    "to|para|an|à|a|кому|subject|asunto|betreff|objet|oggetto|assunto|тема|onderwerp|cc|aan"
)
# Possessive: a line of ten thousand spaces must not make the engine try every split of them.
_HEADER_LINE = re.compile(
    rf"^[ \t]*+>?[ \t]*+\**+[ \t]*+({_FROM_KEYS}|{_DATE_KEYS}|{_OTHER_KEYS})[ \t]*+\**+[ \t]*+:",
    re.IGNORECASE,
)
_FROM_KEY = re.compile(rf"^(?:{_FROM_KEYS})$", re.IGNORECASE)
_DATE_KEY = re.compile(rf"^(?:{_DATE_KEYS})$", re.IGNORECASE)
_HEADER_WINDOW = 7

# A cheap test that lets most messages skip the line-by-line scan.
_ANY_MARKER = re.compile(r"[>:]|---|___")


def split_quoted(text: str) -> tuple[str, str]:
    """(new_text, quoted_history) of a plain-text message.

    The new text is never empty when the message has words outside the quotation; signatures
    stay in it. Interleaved answers ("> question / my answer / > question") are left whole.
    """
    if not text or not _ANY_MARKER.search(text):
        return text, ""
    lines = text.split("\n")
    leading = _leading_quote_end(lines)
    if leading is not None:
        new = "\n".join(lines[leading:]).strip("\n")
        if new.strip():
            return new, "\n".join(lines[:leading]).strip("\n")
    cut = find_quote_start(lines)
    if cut is None:
        return text, ""
    new = "\n".join(lines[:cut]).rstrip()
    if not new.strip():
        return text, ""
    return new, "\n".join(lines[cut:]).strip("\n")


def find_quote_start(lines: list[str]) -> int | None:
    """Index of the first line of the quoted history, or None.

    The earliest explicit marker wins (separator, header block, attribution); failing those, a
    block of ">" lines that runs to the end of the message.
    """
    interleaved: list[bool] | None = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        # Cheap tests first: every marker starts with a dash-like character or holds a colon.
        if not stripped or stripped[0] == ">":
            continue
        if stripped[0] in "-=_*" and _separator_at(lines, index, stripped):
            return index
        if ":" not in stripped:
            continue
        if _header_block_at(lines, index) and not _after_forward_marker(lines, index):
            return index
        if stripped.endswith(":") and _is_attribution(stripped):
            if interleaved is None:
                interleaved = _interleaving_from(lines)
            if not interleaved[index + 1]:
                return _attribution_start(lines, index)
    return _trailing_quote_start(lines)


def _separator_at(lines: list[str], index: int, stripped: str) -> bool:
    """ "-----Original Message-----", or Outlook's line of underscores above a header block."""
    if _ORIGINAL_MESSAGE.match(stripped):
        return True
    return bool(_UNDERSCORES.match(stripped)) and _header_block_at(
        lines, _next_filled(lines, index + 1)
    )


def _next_filled(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _is_attribution(line: str) -> bool:
    if len(line) > _MAX_ATTRIBUTION or not _DIGIT_OR_AT.search(line):
        return False
    if _ATTRIBUTION_END.search(line):
        return True
    # The verb-first pattern backtracks; only lines holding its verb are worth the try.
    lowered = line.lower()
    return ("schrieb" in lowered or "schreef" in lowered) and bool(
        _ATTRIBUTION_VERB_FIRST.match(line)
    )


def _attribution_start(lines: list[str], index: int) -> int:
    """Where an attribution begins: clients wrap long ones ("On …, Ana <\\nana@x> wrote:")."""
    if index == 0:
        return index
    previous = lines[index - 1].strip()
    current = lines[index].strip()
    if (
        previous
        and _ATTRIBUTION_START.match(previous)
        and not _ATTRIBUTION_START.match(current)
        and not previous.endswith((".", "!", "?"))
        and len(previous) + len(current) <= _MAX_ATTRIBUTION
    ) or (previous and _ATTRIBUTION_TAIL.match(current)):
        return index - 1
    return index


def _header_block_at(lines: list[str], index: int) -> bool:
    """An Outlook-style block: a From line with a date line and a To/Subject line close by."""
    if index >= len(lines):
        return False
    first = _HEADER_LINE.match(lines[index])
    if first is None:
        return False
    keys: set[str] = set()
    for line in lines[index : index + _HEADER_WINDOW]:
        match = _HEADER_LINE.match(line)
        if match is not None:
            keys.add(match.group(1).lower())
    has_from = any(_FROM_KEY.match(key) for key in keys)
    has_date = any(_DATE_KEY.match(key) for key in keys)
    others = {key for key in keys if not _FROM_KEY.match(key) and not _DATE_KEY.match(key)}
    return has_from and has_date and bool(others)


def _after_forward_marker(lines: list[str], index: int) -> bool:
    """A forwarded message's header block is content the customer chose to send, not history."""
    for line in reversed(lines[max(0, index - 3) : index]):
        if line.strip():
            return bool(_FORWARD.match(line))
    return False


def _interleaving_from(lines: list[str]) -> list[bool]:
    """For each line: do a ">" line, then an unquoted line, then a ">" line follow from there
    (answers written between quoted lines)? One backward pass, so that many attribution-like
    lines cost no more than one."""
    result = [False] * (len(lines) + 1)
    quote_after = text_then_quote = quote_text_quote = False
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith(">"):
            quote_text_quote = quote_text_quote or text_then_quote
            quote_after = True
        elif stripped:
            text_then_quote = text_then_quote or quote_after
        result[index] = quote_text_quote
    return result


def _trailing_quote_start(lines: list[str]) -> int | None:
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and (lines[start - 1].lstrip().startswith(">") or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    if start >= end:
        return None
    previous = _previous_filled(lines, start)
    if previous is not None and _looks_like_attribution(lines[previous].strip()):
        start = _attribution_start(lines, previous)
    return start


def _previous_filled(lines: list[str], index: int) -> int | None:
    index -= 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    return index if index >= 0 else None


def _looks_like_attribution(line: str) -> bool:
    """The line right above a quote block: any short line ending in ":" with a date or address."""
    return _is_attribution(line) or (
        line.endswith(":") and len(line) <= _MAX_ATTRIBUTION and bool(_DIGIT_OR_AT.search(line))
    )


def _leading_quote_end(lines: list[str]) -> int | None:
    """Thunderbird's top-quoting: attribution and ">" lines first, the answer after them."""
    index = _next_filled(lines, 0)
    if index >= len(lines):
        return None
    if not lines[index].lstrip().startswith(">"):
        if not _is_attribution(lines[index].strip()):
            return None
        index = _next_filled(lines, index + 1)
        if index >= len(lines) or not lines[index].lstrip().startswith(">"):
            return None
    while index < len(lines) and (
        lines[index].lstrip().startswith(">") or not lines[index].strip()
    ):
        index += 1
    if index >= len(lines) or any(line.lstrip().startswith(">") for line in lines[index:]):
        return None
    return index


# --- HTML ------------------------------------------------------------------------------------
#
# A small tokenizer rather than html.parser: in the Python we run, html.parser is quadratic on
# some malformed input (24 KB of "<a " took 11 s), and mail is the one input anyone can send us.
# Every scan below moves forward with str.find or a regex that cannot backtrack far, so the
# work grows with the size of the HTML, whatever it holds.

# Elements whose content is not text; the raw-text ones end only at their own closing tag.
_SKIPPED = frozenset(
    {"script", "style", "head", "title", "template", "xml", "svg", "object", "noembed"}
)
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp", "noembed"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul", "caption",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "ul", "ol"}
)
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u200b\ufeff]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:_-]{0,40}")
_QUOTE_OPEN = re.compile(r"=[ \t\r\n]*+([\"'])")
_ATTRIBUTE = re.compile(
    r"([^\s=/>\"']++)(?:[ \t\r\n]*+=[ \t\r\n]*+(\"[^\"]*+\"|'[^']*+'|[^\s\"'>]++))?"
)
# Quote containers of the common clients: Gmail, Apple/Thunderbird (type=cite, moz-cite-prefix),
# Outlook on the web and desktop (divRplyFwdMsg, appendonsend), Yahoo, Hotmail (stopSpelling),
# Proton, Zoho.
_QUOTE_CLASSES = (
    "gmail_quote",
    "yahoo_quoted",
    "moz-cite-prefix",
    "protonmail_quote",
    "zmail_extra",
)
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "stopspelling", "olk_src_body_section")
_MAX_HTML_CHARS = 1_000_000


def _tag_end(html: str, start: int) -> int:
    """Index of the ">" closing a tag whose attributes start at ``start``; quoted attribute
    values may hold ">". -1 when the tag never closes."""
    position = start
    while True:
        end = html.find(">", position)
        if end < 0:
            return -1
        opening = _QUOTE_OPEN.search(html, position, end)
        if opening is None:
            return end
        closing = html.find(opening.group(1), opening.end())
        if closing < 0:
            return end
        position = closing + 1


def _attributes(source: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(source):
        value = match.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found.setdefault(match.group(1).lower(), unescape(value))
    return found


class _HtmlWalker:
    """One pass over HTML producing text, and, when asked, where in the HTML each line starts."""

    def __init__(self, html: str, *, track: bool) -> None:
        self.html = html
        self.track = track
        self.pieces: list[str] = []
        self.length = 0
        self.skipping: list[str] = []
        self.pre = 0
        self.pending = 0
        # (html offset, text offset): a place where the HTML may be cut for a text line start.
        self.breaks: list[tuple[int, int]] = []
        self.containers: list[tuple[int, int]] = []
        # Top-level blockquotes: [html start, text start, text end (-1 while open)].
        self.blockquotes: list[list[int]] = []
        self.quote_depth = 0

    def run(self) -> None:
        html = self.html
        position = 0
        while position < len(html):
            start = html.find("<", position)
            if start < 0:
                self._data(html[position:])
                return
            if start > position:
                self._data(html[position:start])
            position = self._markup(start)

    def _markup(self, start: int) -> int:
        """Handle the markup at ``start`` ("<"); returns where reading goes on."""
        html = self.html
        if html.startswith("<!--", start):
            end = html.find("-->", start + 4)
            return len(html) if end < 0 else end + 3
        if html.startswith(("<!", "<?"), start):
            end = html.find(">", start + 2)
            return len(html) if end < 0 else end + 1
        closing = html.startswith("</", start)
        name = _TAG_NAME.match(html, start + 2 if closing else start + 1)
        if name is None:
            self._data("<")
            return start + 1
        end = _tag_end(html, name.end())
        if end < 0:
            return len(html)  # a tag that never closes hides the rest, as in a browser
        tag = name.group(0).lower()
        if closing:
            self._end_tag(tag, end + 1)
            return end + 1
        self._start_tag(tag, html[name.end() : end], start, end + 1)
        if tag in _RAW_TEXT:
            closing_tag = re.compile(rf"</{re.escape(tag)}[\s/>]", re.IGNORECASE).search(
                html, end + 1
            )
            if closing_tag is None:
                return len(html)
            self._end_tag(tag, closing_tag.end())
            return _tag_end(html, closing_tag.end() - 1) + 1 or len(html)
        return end + 1

    def _break(self, html_offset: int, lines: int = 1, *, add: bool = False) -> None:
        """Line breaks are held back until text follows, so nested blocks make one break."""
        if self.length:
            self.pending = self.pending + lines if add else max(self.pending, lines)
        if self.track:
            self.breaks.append((html_offset, self.length))

    def _start_tag(self, tag: str, attributes: str, start: int, end: int) -> None:
        if tag in _SKIPPED:
            if not attributes.rstrip().endswith("/"):
                self.skipping.append(tag)
            return
        if tag == "body":
            self.skipping = [name for name in self.skipping if name not in ("head", "title")]
        if self.skipping:
            return
        if self.track:
            self._note_quote_start(tag, attributes, start)
        if tag == "br":
            self._break(end, add=True)
        elif tag in _BLOCKS:
            self._break(start, 2 if tag in _PARAGRAPHS else 1)
        elif tag in _CELLS and not self.pending and self.length:
            self._emit(" ")
        if tag == "pre":
            self.pre += 1

    def _end_tag(self, tag: str, end: int) -> None:
        if tag in _SKIPPED:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if self.skipping:
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag == "blockquote" and self.track and self.quote_depth:
            self.quote_depth -= 1
            if not self.quote_depth:
                self.blockquotes[-1][2] = self.length
        if tag in _BLOCKS:
            self._break(end, 2 if tag in _PARAGRAPHS else 1)

    def _data(self, data: str) -> None:
        if self.skipping:
            return
        text = unescape(data) if "&" in data else data
        if not self.pre:
            text = _SPACES.sub(" ", text)
        if self.pending:
            if not text.strip():
                return
            self._emit("\n" * self.pending)
            self.pending = 0
        self._emit(text)

    def _emit(self, text: str) -> None:
        self.pieces.append(text)
        self.length += len(text)

    def _note_quote_start(self, tag: str, source: str, offset: int) -> None:
        if tag not in ("div", "blockquote", "hr", "section", "table", "span", "p"):
            return
        values = _attributes(source) if "=" in source else {}
        classes = values.get("class", "").lower()
        element_id = values.get("id", "").lower().removeprefix("x_")
        if (
            any(name in classes for name in _QUOTE_CLASSES)
            or element_id in _QUOTE_IDS
            or (tag == "blockquote" and values.get("type", "").lower() == "cite")
        ):
            self.containers.append((offset, self.length))
        if tag == "blockquote":
            if not self.quote_depth:
                self.blockquotes.append([offset, self.length, -1])
            self.quote_depth += 1


def _walk(html: str, *, track: bool) -> _HtmlWalker:
    walker = _HtmlWalker(html, track=track)
    walker.run()
    return walker


def _tidy(text: str) -> str:
    lines = [line.strip(" \t") for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: no script/style/head, blocks on their own lines,
    entities unescaped, runs of whitespace collapsed. Very long HTML is read up to a limit."""
    if not html:
        return ""
    walker = _walk(html[:_MAX_HTML_CHARS], track=False)
    return _tidy("".join(walker.pieces))


@dataclass(frozen=True)
class HtmlSplit:
    new_html: str
    quoted_html: str
    new_text: str
    quoted_text: str


def split_quoted_html(html: str) -> tuple[str, str]:
    """(new_html, quoted_html): best effort, cutting the HTML where the quoted history starts.

    The halves may hold unbalanced tags; the caller's sanitiser closes them.
    """
    split = split_html_reply(html)
    return split.new_html, split.quoted_html


def split_html_reply(html: str) -> HtmlSplit:
    """split_quoted_html and the text of both halves, from one pass of the HTML parser."""
    if not html or len(html) > _MAX_HTML_CHARS:
        return HtmlSplit(html, "", html_to_text(html), "")
    walker = _walk(html, track=True)
    text = "".join(walker.pieces)
    cut = _cut_point(walker, text, html)
    if cut is None:
        return HtmlSplit(html, "", _tidy(text), "")
    html_offset, text_offset = cut
    return HtmlSplit(
        html[:html_offset], html[html_offset:], _tidy(text[:text_offset]), _tidy(text[text_offset:])
    )


def _cut_point(walker: _HtmlWalker, text: str, html: str) -> tuple[int, int] | None:
    """The earliest of: a known quote container, an explicit marker in the text, a trailing
    blockquote; only where some text comes before it."""
    candidates = list(walker.containers[:1])
    line_starts = _text_line_starts(text)
    lines = text.split("\n")
    explicit = _find_explicit_cut(lines)
    if explicit is not None:
        candidates.append((_html_cut(walker, text, line_starts[explicit]), line_starts[explicit]))
    trailing = _trailing_blockquote(walker, text, lines, line_starts)
    if trailing is not None:
        candidates.append(trailing)
    for html_offset, text_offset in sorted(candidates, key=lambda item: item[1]):
        if text[:text_offset].strip() and html[html_offset:].strip():
            return html_offset, text_offset
    return None


def _find_explicit_cut(lines: list[str]) -> int | None:
    """Like find_quote_start, without the trailing ">" rule (HTML quotes are blockquotes)."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] in "-=_*" and _separator_at(lines, index, stripped):
            return index
        if ":" not in stripped:
            continue
        if _header_block_at(lines, index) and not _after_forward_marker(lines, index):
            return index
        if stripped.endswith(":") and _is_attribution(stripped):
            return _attribution_start(lines, index)
    return None


def _text_line_starts(text: str) -> list[int]:
    starts = [0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    return starts


def _html_cut(walker: _HtmlWalker, text: str, text_offset: int) -> int:
    """The HTML offset of the break before a text position, moved back over breaks that only
    separate whitespace (so a divider line or an empty paragraph goes with the quote)."""
    text_offsets = [item[1] for item in walker.breaks]
    index = bisect_right(text_offsets, text_offset) - 1
    if index < 0:
        return 0
    while index > 0 and not text[walker.breaks[index - 1][1] : walker.breaks[index][1]].strip():
        index -= 1
    return walker.breaks[index][0]


def _trailing_blockquote(
    walker: _HtmlWalker, text: str, lines: list[str], line_starts: list[int]
) -> tuple[int, int] | None:
    """The last top-level blockquote when nothing but whitespace follows it, with the
    attribution line above it ("26.06.2014, Alexander L <a@b.c>:")."""
    if not walker.blockquotes:
        return None
    html_offset, text_offset, text_end = walker.blockquotes[-1]
    if text_end >= 0 and text[text_end:].strip():
        return None
    line = bisect_right(line_starts, text_offset) - 1
    previous = _previous_filled(
        lines, line + 1 if text[line_starts[line] : text_offset].strip() else line
    )
    if previous is not None and _looks_like_attribution(lines[previous].strip()):
        start = line_starts[_attribution_start(lines, previous)]
        return _html_cut(walker, text, start), start
    return html_offset, text_offset
