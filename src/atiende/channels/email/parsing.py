"""Raw mail bytes → :class:`ParsedMail`: who wrote, to whom, what is new, what is attached.

Pure standard library, no Django, so the service chain, imports and tests share one parser. Mail is
hostile and often broken; nothing here raises for a malformed message (only
:class:`UnparseableMail` for empty input): what could not be read is named in ``defects``.

The module is longer than our usual limit because one message passes through it top to bottom
(bytes → headers → charsets → MIME walk → bodies); split, its pieces would only call each other.
"""

from __future__ import annotations

import binascii
import codecs
import email.feedparser
import functools
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Compat32, EmailPolicy, compat32, default
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from html import escape
from io import BytesIO
from types import MappingProxyType
from typing import Any

from atiende.channels.email import automation
from atiende.channels.email.mime_parser import HeaderIndexedMessage, message_from_bytes
from atiende.channels.email.quotes import html_to_text, split_html_reply, split_quoted

__all__ = [
    "Address",
    "MailAttachment",
    "OmittedAttachment",
    "ParsedMail",
    "UnparseableMail",
    "decode_bytes",
    "decode_header_value",
    "html_to_text",
    "normalize_message_id",
    "parse_mail",
    "read_headers",
]


@dataclass(frozen=True)
class Address:
    """A mailbox: ``name`` decoded ("" if none), ``address`` the lower-cased addr-spec, or "" when
    the header held nothing usable as an address (a defect says so)."""

    name: str
    address: str


@dataclass(frozen=True)
class MailAttachment:
    """A part kept as a file. ``filename`` is decoded and stripped of any path; "" when the part
    has none (the caller names it). Unnamed parts of known kinds get their usual name
    ("winmail.dat", "invite.ics", "delivery-status.txt"), enclosed messages "<subject>.eml".
    ``inline`` means the HTML can reference it as ``cid:<content_id>``."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)
    content_id: str = ""
    inline: bool = False


@dataclass(frozen=True)
class OmittedAttachment:
    """An attachment over ``max_attachment_bytes``: named, measured, its content not kept."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedMail:
    """What the service chain needs of one message.

    Identifiers (``message_id``, ``in_reply_to``, ``references``) are without "<>", case kept.
    ``text`` is what the customer wrote now (from the text/plain body, else derived from the
    HTML) and ``quoted_text`` the history split off it; ``html`` is the HTML body as found,
    NOT sanitised. ``date`` is in UTC. ``automation`` is "", "auto_reply" or "bounce" (see
    atiende.channels.email.automation), explained in ``automation_reason``. ``defects`` name in
    words what could not be read. ``headers`` holds a few raw headers, lower-case names.
    ``omitted_attachments`` lists attachments over ``max_attachment_bytes``, not in
    ``attachments``. The subject is at most 998 characters.
    """

    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    quoted_text: str
    html: str
    attachments: tuple[MailAttachment, ...]
    automation: str
    automation_reason: str
    bounced_recipients: tuple[str, ...]
    bounced_message_id: str
    defects: tuple[str, ...]
    headers: Mapping[str, str]
    omitted_attachments: tuple[OmittedAttachment, ...] = ()


class UnparseableMail(ValueError):
    """Raised only for empty input: anything else parses, with defects."""


# --- the email package, policy.default semantics, fast ---------------------------------------


class _MemoPolicy(EmailPolicy):
    """policy.default with memoised header objects and a per-message parsing budget.

    The feedparser asks for a part's Content-Type several times while splitting it, and
    policy.default re-parses the header every time: that alone cost ~1 ms per ordinary message.
    Header objects are immutable, so sharing them between lookups and messages is safe. Past the
    budget a header is returned as the plain string compat32 would give (see _policy_header).
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        parsed = _policy_header(name, value)
        # The compat32 parameter reader is quadratic in the number of parameters: cut it short.
        return parsed if parsed is not None else _LINE_BREAKS.sub("", value[:_PLAIN_HEADER_LIMIT])


# policy.default reads headers at ~150 KB/s: a message of long, many-parameter Content-Type
# headers would cost seconds. Each parse_mail call may have this many characters read that way;
# the rest is read like compat32 does (plain strings), which the code below accepts everywhere.
_HEADER_BUDGET = 16_000
_BUDGET: ContextVar[list[int] | None] = ContextVar("atiende_mail_header_budget", default=None)
_HEADER_CACHE: dict[tuple[str, str], Any] = {}
_HEADER_CACHE_SIZE = 4096
_PLAIN_HEADER_LIMIT = 8000
# No person writes a subject or a recipient list this long; what is beyond is not read.
_MAX_HEADER_READ = 65_536
_MAX_SUBJECT = 998
_CACHEABLE_LENGTH = 1000


def _policy_header(name: str, value: str) -> Any | None:
    """policy.default's header object, or None once this message has spent its budget."""
    key = (name, value)
    found = _HEADER_CACHE.get(key)
    if found is not None:
        return found
    budget = _BUDGET.get()
    if budget is not None:
        if budget[0] < len(value):
            budget[1] = 1
            return None
        budget[0] -= len(value)
    parsed = _plain_content_type(value) if name.lower() == "content-type" else None
    if parsed is None:
        parsed = default.header_fetch_parse(name, value)
    if len(value) <= _CACHEABLE_LENGTH:
        if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[key] = parsed
    return parsed


class _PlainContentType(str):
    """A plain Content-Type read as policy.default reads it (its text, unfolded, and its
    ``params``), without policy.default's reader, among the slowest steps of parsing
    (bench/README.md); a multipart's header is unique (its boundary), so the memo never spared
    it."""

    params: Mapping[str, str]


def _plain_content_type(value: str) -> _PlainContentType | None:
    unfolded = _LINE_BREAKS.sub("", value)
    if len(unfolded) > _CACHEABLE_LENGTH or not _PLAIN_CONTENT_TYPE.fullmatch(unfolded):
        return None
    header = _PlainContentType(unfolded)
    params: dict[str, str] = {}
    for name, token, quoted in _PLAIN_PARAMETER.findall(unfolded):
        params.setdefault(name.lower(), token or quoted)  # the first of a repeated name
    header.params = MappingProxyType(params)
    return header


_POLICY = _MemoPolicy(message_factory=HeaderIndexedMessage)


class _RawPolicy(Compat32):
    """Writes an enclosed message back as it came: header values untouched (compat32 would
    rebuild each through email.header.Header, the slowest step of a forward), 8-bit kept."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        return f"{name}: {value}{self.linesep}".encode("utf-8", "surrogateescape")


_RAW_POLICY = _RawPolicy(cte_type="8bit", max_line_length=0)
# policy.default reads headers at ~150 KB/s (a 200 KB subject took 0.8 s): longer ones are read
# with our own decoder or the compat32 address reader.
_LONG_HEADER = 2000
_MAX_DEPTH = 60
_MAX_BOUNDARIES = 100
_MAX_DEFECTS = 40

_LINE_BREAKS = re.compile(r"\r?\n")
# A Content-Type read alike by policy.default and by the simple reader below: a type, then
# name=atom or name="printable text" parameters; nothing encoded (no "=?", no RFC 2231 "*"), no
# comments, escapes, 8-bit bytes or empty parameters.
_ATOM = r"[A-Za-z0-9!#$&^_.+-]+"
_PLAIN_CONTENT_TYPE = re.compile(
    rf'[ \t]*{_ATOM}/{_ATOM}(?:[ \t]*;[ \t]*{_ATOM}=(?:{_ATOM}|"(?:[ !#-<>-\[\]-~]|=(?!\?))*"))*'
    r"[ \t]*"
)
_PLAIN_PARAMETER = re.compile(rf';[ \t]*({_ATOM})=(?:({_ATOM})|"([^"]*)")')
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]+")
_SURROGATES = re.compile("[\udc80-\udcff]+")
# Bounded: an unclosed "=?" must not make every later one scan to the end of the header.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,40}+)\?([QqBb])\?(.{0,1000}?)\?=", re.DOTALL)
_ADJACENT_WORDS = re.compile(r"\?=\s+=\?")
_ID = re.compile(r"<([^<>]*)>")
# Starts only where an address can start and never backtracks: linear on any text.
_PLAUSIBLE_ADDRESS = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@[\w-]++(?:\.[\w-]++)++"
)
# "Ana Pérez <ana@example.com>" or "ana@example.com": most headers, read without a parser.
_SINGLE_MAILBOX = re.compile(
    r"[ \t]*+(?:([A-Za-z0-9][A-Za-z0-9 .'_-]{0,100}+)?<([\w.+'-]++@[\w-]++(?:\.[\w-]++)++)>"
    r"|([\w.+'-]++@[\w-]++(?:\.[\w-]++)++))[ \t]*+"
)
# The same with a name holding encoded words ("Ana =?utf-8?q?P=C3=A9rez?= <ana@example.com>"),
# each between spaces or at an end of the name, and the header possibly folded: the name is
# decoded by decode_header_value, as the compat32 path decodes it.
_NAME_WORD = r"(?>[A-Za-z0-9.'_-]++|=\?[A-Za-z0-9_-]{1,40}\?[QqBb]\?[!->@-~]{0,300}?\?=)"
_ENCODED_MAILBOX = re.compile(  # atomic words, possessive repeats: linear on any text
    rf"\s*+({_NAME_WORD}(?:\s++{_NAME_WORD}){{0,40}}+)"
    r"\s*+<([\w.+'-]++@[\w-]++(?:\.[\w-]++)++)>\s*+"
)
_SIMPLE_ADDRESSES = re.compile(r"[A-Za-z0-9 \t\r\n.,@<>_+'&!#$%*/^`{|}~-]*")
_INVALID_IN_ADDRESS = re.compile(r"[\s<>()\[\]\\,;:\"]")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
# A declared boundary, "boundary" in any case: matched against the message lowercased, where
# the pattern starts with a literal the regular expression engine searches for quickly (with
# IGNORECASE it tries a match at every position, and a mail with an attachment is tens of
# kilobytes of base64). bytes.lower() changes only A-Z, so every span is the same in both; the
# values are read from the message itself, boundaries being case-sensitive.
_BOUNDARY_IN_LOWERCASE = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_ODD_BOUNDARY = re.compile(
    rb'(;\s*boundary\s*=\s*)([^"\s;]*[=()<>@,:\\/\[\]?][^"\s;]*)', re.IGNORECASE
)
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)

_KEPT_HEADERS = (
    "auto-submitted", "precedence", "x-mailer", "user-agent", "list-id", "list-unsubscribe",
    "list-post", "x-autoreply", "x-autorespond", "x-auto-response-suppress", "return-path",
    "x-failed-recipients", "x-loop", "x-spam-flag", "x-spam-status", "feedback-type",
    "content-type", "sender", "organization", "x-priority", "importance",
)  # fmt: skip
# Transfer encodings the email package decodes itself, spelt as it expects them.
_EXACT_ENCODINGS = frozenset(
    {"quoted-printable", "base64", "x-uuencode", "uuencode", "uue", "x-uue"}
)
_ENCLOSED_MESSAGES = frozenset({"message/rfc822", "message/global", "message/news"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_DEFAULT_NAMES = {
    "application/ms-tnef": "winmail.dat",
    "application/vnd.ms-tnef": "winmail.dat",
    "text/calendar": "invite.ics",
    "application/ics": "invite.ics",
    "message/delivery-status": "delivery-status.txt",
    "message/global-delivery-status": "delivery-status.txt",
    "text/rfc822-headers": "returned-headers.txt",
    "message/feedback-report": "feedback-report.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "application/pgp-signature": "signature.asc",
    "application/pkcs7-signature": "smime.p7s",
    "application/x-pkcs7-signature": "smime.p7s",
}


def normalize_message_id(value: str) -> str:
    """ "<Abc@x>" → "Abc@x": case kept, brackets and whitespace (folding) removed."""
    if not value:
        return ""
    match = _ID.search(value)
    if match is not None:
        return "".join(match.group(1).split())
    tokens = value.split()
    return tokens[0].strip("<>") if tokens else ""


# --- charsets --------------------------------------------------------------------------------

# Labels that mean "we don't know": decode by guessing instead of trusting them.
_UNKNOWN_CHARSETS = frozenset(
    {"unknown-8bit", "x-unknown", "unknown", "default", "x-user-defined", "none", "charset", "8bit", ""}
)  # fmt: skip
# Labels mail clients write for a superset they actually use (as browsers treat them, WHATWG).
_SUPERSETS = {
    "utf8": "utf-8",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "iso2022_jp": "iso2022_jp_ext",
}
_FAMILIES = (
    ("cp932", "euc_jp", "iso2022_jp_2", "iso2022_jp_ext", "shift_jis_2004"),
    ("cp949", "johab", "iso2022_kr"),
    ("gb18030", "big5hkscs", "cp950"),
)


@functools.lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when unknown or meaningless."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UNKNOWN_CHARSETS:
        return None
    name = {
        "iso-8859-8-i": "iso-8859-8",
        "iso-8859-6-i": "iso-8859-6",
        "x-mac-roman": "mac_roman",
    }.get(name, name)
    for candidate in (name, name.removeprefix("x-"), name.replace("_", "-")):
        try:
            found = codecs.lookup(candidate).name
        except LookupError:
            continue
        return _SUPERSETS.get(found, found)
    return None


def _fallbacks(codec: str | None, hint: str | None) -> list[str]:
    """UTF-8 first (it rarely fits bytes by accident), then the hinted CJK family with the
    declared or hinted codec ahead of its relatives, then Windows-1252, which fits nearly all."""
    order = ["utf-8"]
    for family in _FAMILIES:
        if codec in family or hint in family:
            order.extend(name for name in (codec, hint) if name is not None and name in family)
            order.extend(family)
    order.append("cp1252")
    return list(dict.fromkeys(order))


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a broken sequence or two (a name cut in the middle of a character)."""
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    if (
        broken
        and broken <= max(1, len(text) // 40)
        and any(ord(char) > 127 and char != "\ufffd" for char in text)
    ):
        return text
    return None


def decode_bytes(data: bytes, charset: str | None, hint: str | None = None) -> tuple[str, str]:
    """(text, problem): decoded by the declared charset, else by the likeliest one.

    ``problem`` is "" when the declared charset fitted; ``hint`` is a charset the message uses
    elsewhere (a Japanese mail's raw header bytes are likelier Shift_JIS than Windows-1252).
    """
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec), ""
        except (UnicodeDecodeError, LookupError):
            pass
    if data.isascii():
        return data.decode("ascii"), ""
    problem = f"charset {charset or 'undeclared'} did not fit the bytes; read as"
    for candidate in _fallbacks(codec, _codec(hint)):
        if candidate == "cp1252":
            nearly = _mostly_utf8(data)
            if nearly is not None:
                return nearly, f"{problem} broken utf-8"
        try:
            return data.decode(candidate), f"{problem} {candidate}"
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "utf-8", "replace"), f"{problem} {codec or 'utf-8'}, bytes replaced"


def _fix_surrogates(text: str, hint: str | None = None) -> str:
    """Raw 8-bit bytes that the email package kept as surrogates, decoded for real.

    Decoded as one run when everything else is ASCII: in Shift_JIS or Big5 the second byte of a
    character may be an ASCII letter, so decoding run by run would split characters.
    """
    if not _SURROGATES.search(text):
        return text
    if _SURROGATES.sub("", text).isascii():
        return decode_bytes(text.encode("utf-8", "surrogateescape"), None, hint)[0]

    def decoded(run: re.Match[str]) -> str:
        return decode_bytes(run.group(0).encode("utf-8", "surrogateescape"), None, hint)[0]

    return _SURROGATES.sub(decoded, text)


def _one_line(value: str) -> str:
    """Whitespace collapsed, CR/LF and other controls gone: a header can never become two."""
    return _SPACE_OR_CONTROL.sub(" ", value).strip()


def decode_header_value(raw: str, hint: str | None = None) -> str:
    """RFC 2047 encoded words decoded permissively: spaces inside a word, a missing padding, a
    mislabelled charset, words split in the middle of a character all still read; whitespace
    between adjacent words is dropped, as the RFC says."""
    pieces: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0
    previous_was_word = False

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            pieces.append(decode_bytes(bytes(pending), pending_charset, hint)[0])
            pending.clear()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(raw):
        gap = raw[position : match.start()]
        if not (previous_was_word and not gap.strip()):
            flush()
            pieces.append(_fix_surrogates(gap, hint))
        charset = match.group(1).split("*", 1)[0]
        data = _word_bytes(match.group(2), match.group(3))
        if pending and charset.lower() != pending_charset.lower():
            flush()
        pending.extend(data)
        pending_charset = charset
        previous_was_word = True
        position = match.end()
    flush()
    pieces.append(_fix_surrogates(raw[position:], hint))
    return "".join(pieces)


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        return _lenient_base64(payload.encode("utf-8", "surrogateescape"))
    data = payload.replace("_", " ").encode("utf-8", "surrogateescape")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda match: bytes([int(match.group(1), 16)]), data)


def _lenient_base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(cleaned) % 4 == 1:
            cleaned = cleaned[:-1]
        try:
            return binascii.a2b_base64(cleaned + b"=" * (-len(cleaned) % 4))
        except binascii.Error:
            return b""


# --- reading the bytes -----------------------------------------------------------------------


def _limit_structure(raw: bytes, max_parts: int, defects: list[str]) -> bytes:
    """Cut a message with absurdly many parts or nesting levels before the email package sees it.

    The feedparser builds every part (and recurses once per nesting level) before we can stop
    walking; 10,000 parts cost seconds. Only boundary lines of declared boundaries are counted, so
    ordinary mail, whatever its text, is left alone.
    """
    found = _boundary_declarations(raw)
    declared = list(dict.fromkeys(value for _start, value in found))
    if not declared:
        return raw
    cut = len(raw)
    if len(declared) > _MAX_BOUNDARIES:
        cut = found[_MAX_BOUNDARIES][0]
        cut = raw.rfind(b"\n", 0, cut) + 1
    limit = 2 * max_parts + 2
    if sum(raw.count(b"\n--" + boundary) for boundary in declared) > limit:
        pattern = re.compile(
            rb"^--(?:" + b"|".join(re.escape(b) for b in declared) + rb")", re.MULTILINE
        )
        for count, match in enumerate(pattern.finditer(raw, 0, cut)):
            if count >= limit:
                cut = min(cut, match.start())
                break
    if cut >= len(raw):
        return raw
    defects.append(f"stopped after {max_parts} parts")
    return raw[:cut]


def _boundary_declarations(raw: bytes) -> list[tuple[int, bytes]]:
    """Where each ``boundary=`` parameter of ``raw`` starts, and its value (quotes removed)."""
    return [
        (match.start(), raw[slice(*match.span(1 if match.start(1) >= 0 else 2))])
        for match in _BOUNDARY_IN_LOWERCASE.finditer(raw.lower())
    ]


_HEADER_PARSER = BytesHeaderParser(policy=compat32)
# The parser's own test of a line of the header block.
_FEEDPARSER_HEADER_LINE: re.Pattern[str] = email.feedparser.headerRE  # type: ignore[attr-defined]


def _header_block(raw: bytes) -> bytes:
    """``raw`` up to and including its first empty line in either usual form (all of it when it
    has none): what :func:`read_headers` gives the parser."""
    ends = [end for end in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if end >= 0]
    if not ends:
        return raw
    end = min(ends)
    return raw[: end + (2 if raw[end] == 0x0A else 4)]


def first_header_value(raw: bytes, name: str) -> str | None:
    """``str(read_headers(raw).get(name, ""))``, found without the parser, or None where only the
    parser can say (a bare CR, which it takes for a line end; a value holding bytes that are not
    ASCII, which it wraps in a Header).

    Storing a mail reads its Message-ID for its key (``intake.dedupe_key``), and the standard
    library's header parser was 28 % of storing (``bench/stack_shares.py … --root
    receive_emails`` on a py-spy profile of ``bench/ingest.py``). This walks the header lines as
    ``email.feedparser`` does, by its own test of a header line (``headerRE``): continuation
    lines, an envelope ``From `` line, the first line that is no header ending the block;
    ``tests/test_parsing.py`` (and ``test_corpora.py``) hold it to the parser's answer.
    """
    text = _header_block(raw).decode("ascii", "surrogateescape")
    if "\r" in text.replace("\r\n", ""):
        return None
    try:
        return _first_header_value(text, name.lower())
    except LookupError:
        return None


def _first_header_value(text: str, wanted: str) -> str:
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    current: list[str] = []  # the lines of the header being read
    for line in [*lines, ""]:  # ("": past the last line, the block has ended)
        if line and line[0] in " \t":
            if current:
                current.append(line)
            continue  # (a continuation with no header before it is dropped)
        if current:
            found = _compat32_value(current, wanted)
            if found is not None:
                return found
            current = []
        if not _FEEDPARSER_HEADER_LINE.match(line):
            break  # the empty line, or the first line of a body without one
        if not line.startswith("From "):  # (an envelope line: no header, nor its lines)
            current = [line]  # (a line opening with a colon: a header of no name, never asked)
    return ""


def _compat32_value(lines: list[str], wanted: str) -> str | None:
    """The value ``compat32`` makes of a header's lines if it is named ``wanted``, else None;
    LookupError for a value it would wrap in a Header (then the parser is asked)."""
    header_name, value = lines[0].split(":", 1)
    if header_name.lower() != wanted:
        return None
    value = (value.lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n")
    if _SURROGATES.search(value):
        raise LookupError("not ASCII: the parser's Header")
    return value


def read_headers(raw: bytes) -> Message:
    """The headers of ``raw`` as compat32 reads them, its body not read at all: what storing and
    routing a message need (its Message-ID, its recipients) before anything is parsed.

    The standard library's header parser reads (decodes, splits into lines) everything it is
    given, though it keeps only the headers: for a message with a 25 MB attachment, all of it.
    It is given the bytes up to the first empty line in either usual form; one in a rarer form
    (a bare CR) lies further on, and the parser stops at it anyway.
    """
    return _HEADER_PARSER.parsebytes(_header_block(raw))


def _quote_boundaries(raw: bytes, defects: list[str]) -> bytes:
    """Quote unquoted boundaries holding characters that need quotes ("boundary=----=_Next"):
    Outlook Express wrote them, and policy.default stops reading the value at the "="."""
    if _ODD_BOUNDARY.search(raw) is None:
        return raw
    defects.append("unquoted boundary with special characters read as if quoted")
    return _ODD_BOUNDARY.sub(rb'\1"\2"', raw)


def _read(raw: bytes, max_parts: int, defects: list[str]) -> Message:
    raw = _quote_boundaries(_limit_structure(raw, max_parts, defects), defects)
    try:
        message = message_from_bytes(raw, _POLICY)
    except RecursionError:
        defects.append("MIME structure nested too deeply; body not read")
        message = BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
        message.set_payload("")
        return message
    if any(
        type(defect).__name__ == "MissingHeaderBodySeparatorDefect" for defect in message.defects
    ):
        repaired = _repair_header_block(raw)
        if repaired is not None:
            candidate = message_from_bytes(repaired, _POLICY)
            if len(candidate.keys()) > len(message.keys()):
                defects.append(
                    "broken header block repaired (stray lines before or inside the headers)"
                )
                return candidate
    return message


def _repair_header_block(raw: bytes) -> bytes | None:
    """Drop garbage lines before the headers and fold unindented continuation lines.

    Seen in the wild: a "---- Original email message ----" line above the headers, Received
    headers whose continuation lines lost their indentation.
    """
    lines = raw.split(b"\n")
    start = next((index for index, line in enumerate(lines[:4]) if _HEADER_LINE.match(line)), None)
    if start is None:
        return None
    end = next(
        (index for index in range(start, len(lines)) if not lines[index].strip()), len(lines)
    )
    block = lines[start:end]
    last_header = max(index for index, line in enumerate(block) if _HEADER_LINE.match(line))
    repaired = [
        line if _HEADER_LINE.match(line) or line[:1] in (b" ", b"\t") else b" " + line
        for line in block[: last_header + 1]
    ]
    newline_end = b"\r" if block[0].endswith(b"\r") else b""
    body = block[last_header + 1 :] + lines[end:]
    if body and body[0].strip():
        body = [newline_end, *body]
    return b"\n".join(repaired + body)


# --- the MIME walk ---------------------------------------------------------------------------


@dataclass
class _Body:
    text: str | None = None  # from text/plain
    html: str | None = None  # from text/html


def _merge(bodies: list[_Body]) -> _Body:
    """Inline text parts of a multipart/mixed in order (a text then an HTML signature, an
    Apple Mail message split around an image): each kind joined, the other kind converted."""
    present = [body for body in bodies if body.text is not None or body.html is not None]
    if len(present) <= 1:
        return present[0] if present else _Body()
    text = None
    if any(body.text is not None for body in present):
        text = "\n".join(
            body.text if body.text is not None else html_to_text(body.html or "")
            for body in present
        )
    html = None
    if any(body.html is not None for body in present):
        html = "".join(
            body.html if body.html is not None else f"<pre>{escape(body.text or '')}</pre>"
            for body in present
        )
    return _Body(text, html)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # an unreadable Content-Type is plain text (RFC 2045)
        return "text/plain"


def _params(part: Message, header: str) -> Mapping[str, str]:
    """Decoded parameters of a header, from its object (policy.default's, or a
    _PlainContentType) or, past the parsing budget, from the plain string by the compat32
    reader."""
    try:
        value = part.get(header)
        parsed = getattr(value, "params", None)
        if parsed is not None or not value:
            return parsed or {}
        params: dict[str, str] = {}
        for key, item in part.get_params(failobj=[], header=header)[1:]:
            # The first of a repeated name, as policy.default and get_param() take it.
            params.setdefault(key.lower(), collapse_rfc2231_value(item))
        return params
    except Exception:  # a broken parameter list has no usable parameters
        return {}


def _raw_header(part: Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


class _Walker:
    """Walks the MIME tree once: bodies found, attachments collected, parts counted."""

    def __init__(
        self, *, max_parts: int, max_attachment_bytes: int | None, defects: list[str]
    ) -> None:
        self.max_parts = max_parts
        self.max_attachment_bytes = max_attachment_bytes
        self.defects = defects
        self.parts = 0
        self.stopped = False
        self.attachments: list[MailAttachment] = []
        self.omitted: list[OmittedAttachment] = []
        self.charsets: list[str] = []
        self.package_defects: list[str] = []

    @property
    def hint(self) -> str | None:
        """A charset the message declares, preferring a non-Western one (it says more)."""
        for charset in self.charsets:
            if _codec(charset) not in (None, "ascii", "utf-8", "cp1252"):
                return charset
        return self.charsets[0] if self.charsets else None

    def visit(self, part: Message, depth: int = 0, *, body_allowed: bool = True) -> _Body:
        if self.stopped:
            return _Body()
        if self.parts >= self.max_parts:
            self.stopped = True
            return _Body()
        self.parts += 1
        self.package_defects.extend(type(defect).__name__ for defect in part.defects)
        content_type = _content_type(part)
        if content_type in _ENCLOSED_MESSAGES:
            self._attach_message(part)
            return _Body()
        if content_type.startswith("multipart/"):
            if not part.is_multipart():
                # Declared multipart, but the email package found no parts: the body is plain text.
                return self._text(part, "text/plain") if body_allowed else _Body()
            if depth >= _MAX_DEPTH:
                self.defects.append(
                    f"MIME parts nested deeper than {_MAX_DEPTH} levels were skipped"
                )
                return _Body()
            return self._multipart(part, content_type, depth)
        if body_allowed and content_type in _BODY_TYPES and not self._is_attachment(part):
            return self._text(part, content_type)
        self._attach(part, content_type)
        return _Body()

    def _multipart(self, part: Message, content_type: str, depth: int) -> _Body:
        payload = part.get_payload()
        children = (
            [child for child in payload if isinstance(child, Message)]
            if isinstance(payload, list)
            else []
        )
        if not children:
            return _Body()
        subtype = content_type.partition("/")[2]
        if subtype == "alternative":
            return self._alternative(children, depth)
        if subtype == "encrypted":
            for child in children:
                self.visit(child, depth + 1, body_allowed=False)
            return _Body()
        if subtype in ("related", "signed", "report"):
            # The first part is the message; the rest are its images, signature or report data.
            body = self.visit(children[0], depth + 1)
            for child in children[1:]:
                self.visit(child, depth + 1, body_allowed=False)
            return body
        return _merge([self.visit(child, depth + 1) for child in children])

    def _alternative(self, children: list[Message], depth: int) -> _Body:
        bodies: list[_Body] = []
        for child in children:
            content_type = _content_type(child)
            if (
                child.is_multipart()
                or content_type in _BODY_TYPES
                or content_type in _ENCLOSED_MESSAGES
                or content_type in _DEFAULT_NAMES
                or self._filename(child)
            ):
                bodies.append(self.visit(child, depth + 1))
            elif not self.stopped:
                # Other renderings of the same words (text/enriched, text/watch-html, AMP).
                self.parts += 1
        texts = [body.text for body in bodies if body.text is not None]
        text = next((value for value in texts if value.strip()), texts[0] if texts else None)
        html = next((body.html for body in bodies if body.html is not None), None)
        return _Body(text, html)

    def _is_attachment(self, part: Message) -> bool:
        return _disposition(part) == "attachment" or bool(self._filename(part))

    def _text(self, part: Message, content_type: str) -> _Body:
        data = self._payload(part)
        params = _params(part, "content-type")
        charset = params.get("charset")
        if content_type == "text/html" and not charset:
            sniffed = _META_CHARSET.search(data[:4096])
            charset = sniffed.group(1).decode("ascii") if sniffed else None
        if charset:
            self.charsets.append(charset)
        text, problem = decode_bytes(data, charset, self.hint)
        if problem:
            self.defects.append(f"{content_type} part: {problem}")
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").lstrip("\ufeff")
        if content_type == "text/html":
            return _Body(html=text)
        if params.get("format", "").lower() == "flowed":
            text = _unflow(text, delete_space=params.get("delsp", "").lower() == "yes")
        return _Body(text=text)

    def _payload(self, part: Message) -> bytes:
        """The decoded bytes of a leaf part, forgiving misspelt transfer encodings.

        get_payload(decode=True) is the one accessor that returns the raw bytes of an 8-bit body
        (without decode it re-decodes them by the declared charset, replacing errors); it
        decodes only the exact spellings, so "quoted printable" or "base64;" are handled here.
        """
        payload = part.get_payload()
        if isinstance(payload, list):
            return b"\n".join(_message_bytes(item) for item in payload if isinstance(item, Message))
        try:
            data = part.get_payload(decode=True)
        except Exception:  # a broken encoding leaves the payload as it came
            data = None
        if not isinstance(data, bytes):
            data = str(payload or "").encode("utf-8", "surrogateescape")
        declared = _raw_header(part, "content-transfer-encoding").strip().lower()
        if declared in _EXACT_ENCODINGS:
            return data
        encoding = re.sub(r"[^a-z0-9]", "", declared)
        if encoding == "base64":
            return _lenient_base64(data)
        if encoding.startswith("quotedprintable"):
            return binascii.a2b_qp(data)
        return data

    def _filename(self, part: Message) -> str:
        name = ""
        for header, param in (("content-disposition", "filename"), ("content-type", "name")):
            name = _lenient_param(
                _params(part, header).get(param, ""), _raw_header(part, header), param
            )
            if name:
                break
        if not name:
            location = _raw_header(part, "content-location").strip()
            name = (
                location.rsplit("/", 1)[-1]
                if location and "." in location.rsplit("/", 1)[-1]
                else ""
            )
        return _clean_filename(name, self.hint) if name else ""

    def _attach_message(self, part: Message) -> None:
        payload = part.get_payload()
        inner = (
            payload[0]
            if isinstance(payload, list) and payload and isinstance(payload[0], Message)
            else None
        )
        data = _message_bytes(inner) if inner is not None else self._payload(part)
        if not data.strip():
            return
        filename = self._filename(part) or _eml_name(inner, self.hint)
        self._keep(part, filename, _content_type(part), data)

    def _attach(self, part: Message, content_type: str) -> None:
        filename = self._filename(part) or _described_name(part, content_type)
        limit = self.max_attachment_bytes
        if limit is not None:
            estimate = _estimated_size(part)
            if estimate > limit + limit // 20 + 1024:
                self._omit(filename, content_type, estimate)
                return
        self._keep(part, filename, content_type, self._payload(part))

    def _keep(self, part: Message, filename: str, content_type: str, data: bytes) -> None:
        if self.max_attachment_bytes is not None and len(data) > self.max_attachment_bytes:
            self._omit(filename, content_type, len(data))
            return
        content_id = normalize_message_id(_raw_header(part, "content-id"))
        inline = bool(content_id) and _disposition(part) != "attachment"
        self.attachments.append(MailAttachment(filename, content_type, data, content_id, inline))

    def _omit(self, filename: str, content_type: str, size: int) -> None:
        self.omitted.append(OmittedAttachment(filename, content_type, size))
        self.defects.append(
            f"attachment {filename or content_type!r} ({size:,} bytes) is over the limit of "
            f"{self.max_attachment_bytes:,} bytes; its content was left out"
        )


def _lenient_param(parsed: str, raw: str, name: str) -> str:
    """A parameter as policy.default read it, unless the raw header says more: senders write
    unquoted names with spaces (name=My file.pdf) and unquoted encoded words (name==?utf-8?…)."""
    if not raw or f"{name}=" not in raw.lower():
        return parsed
    match = re.search(rf"(?:^|;)\s*{name}\s*=\s*(?:\"([^\"]*)\"|([^;\r\n]*))", raw, re.IGNORECASE)
    if match is None:
        return parsed
    value = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
    if not parsed or (
        len(value) > len(parsed) and value.startswith(parsed) and match.group(2) is not None
    ):
        return value
    return parsed


def _described_name(part: Message, content_type: str) -> str:
    """A name for an unnamed part: its Content-Description ("Delivery report") when short, with
    the usual extension, else the usual name of its type ("winmail.dat"), else none."""
    default = _DEFAULT_NAMES.get(content_type, "")
    description = _one_line(decode_header_value(_raw_header(part, "content-description")))
    if not description or len(description) > 60:
        return default
    extension = default.rpartition(".")[2] if "." in default else ""
    return _clean_filename(f"{description}.{extension}" if extension else description, None)


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # an unreadable disposition is no disposition
        return None


def _estimated_size(part: Message) -> int:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    if "base64" in _raw_header(part, "content-transfer-encoding").lower():
        # Exact for well-formed base64, without decoding what will not be kept.
        characters = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, characters * 3 // 4 - payload[-8:].rstrip().count("="))
    return len(payload)


def _message_bytes(message: Message) -> bytes:
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_RAW_POLICY).flatten(message)
    except Exception:  # a message too broken to write back is not kept
        return b""
    return buffer.getvalue()


def _eml_name(inner: Message | None, hint: str | None) -> str:
    subject = ""
    if inner is not None:
        subject = _one_line(decode_header_value(_raw_header(inner, "subject"), hint))
    return (_clean_filename(subject[:120], hint) or "forwarded-message") + ".eml"


def _clean_filename(name: str, hint: str | None) -> str:
    """A name safe to show and store: decoded, no path, no control characters."""
    if "=?" in name:
        name = decode_header_value(name, hint)
    name = _fix_surrogates(name, hint)
    name = re.split(r"[/\\]", name)[-1]
    name = _one_line(name).lstrip(". ")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = (
            (stem[: 190 - len(extension)] + dot + extension)
            if dot and len(extension) <= 10
            else name[:200]
        )
    return name


def _unflow(text: str, *, delete_space: bool) -> str:
    """RFC 3676 format=flowed: soft-broken lines joined, space-stuffing removed, quotes kept."""
    output: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if current is not None and depth != current_depth:
            output.append(_quoted_line(current_depth, current))
            current = None
        soft = content.endswith(" ") and content != "-- "
        if soft and delete_space:
            content = content[:-1]
        current = content if current is None else current + content
        current_depth = depth
        if not soft:
            output.append(_quoted_line(depth, current))
            current = None
    if current is not None:
        output.append(_quoted_line(current_depth, current))
    return "\n".join(output)


def _quoted_line(depth: int, content: str) -> str:
    return (">" * depth + " " + content) if depth else content


# --- headers ---------------------------------------------------------------------------------


def _salvage_address(raw: str) -> str:
    """An address standing on its own in a header no parser could read ("Test test@example.com"
    from a fax gateway), or "". Never a piece of an invalid bracketed address: from
    "<power quadrant system@example.com>" we must not make "system@example.com", someone else."""
    if re.search(r"<[^<>]*@[^<>]*>", raw):
        return ""
    found = _PLAUSIBLE_ADDRESS.search(raw)
    if found is None or raw[found.end() : found.end() + 1] not in ("", " ", ",", ";", ">", "\t"):
        return ""
    return found.group(0).lower()


class _Headers:
    """Header values of one message, read once, decoded on demand."""

    def __init__(
        self, message: Message, raw: Mapping[str, list[str]], hint: str | None, defects: list[str]
    ) -> None:
        self.message = message
        self.raw = raw
        self.hint = hint
        self.defects = defects

    def first(self, name: str) -> str:
        values = self.raw.get(name)
        return str(values[0]) if values else ""

    def text(self, name: str) -> str:
        """An unstructured header (Subject): policy.default's decoding, checked, else ours."""
        raw = self.first(name)[:_MAX_HEADER_READ]
        if "=?" not in raw and not _SURROGATES.search(raw):
            return _one_line(raw)[:_MAX_SUBJECT]
        if len(raw) > _LONG_HEADER:
            return _one_line(decode_header_value(raw, self.hint))[:_MAX_SUBJECT]
        try:
            value = str(self.message[name])
        except Exception as error:  # policy.default raises on some broken headers
            self.defects.append(
                f"{name} header unreadable by the email package ({type(error).__name__}); decoded directly"
            )
            value = "\ufffd"
        if (
            "\ufffd" in value
            or _ENCODED_WORD.search(value)
            or _SURROGATES.search(value)
            or _ADJACENT_WORDS.search(raw)
        ):
            value = decode_header_value(raw, self.hint)
        return _one_line(value)[:_MAX_SUBJECT]

    def addresses(self, name: str) -> tuple[Address, ...]:
        raw = ", ".join(str(value) for value in self.raw.get(name, []) if str(value).strip())
        if not raw:
            return ()
        if len(raw) > _MAX_HEADER_READ:
            self.defects.append(
                f"{name} header over {_MAX_HEADER_READ:,} characters; the rest was not read"
            )
            raw = raw[: raw.rfind(",", 0, _MAX_HEADER_READ) + 1 or _MAX_HEADER_READ].rstrip(",")
        found = self._policy_addresses(name, raw)
        result = [
            self._address(display, address)
            for display, address in (found if found is not None else self._compat(raw))
        ]
        if found is not None and (
            any(not item.address for item in result)
            or ("(" in raw and any(not item.name for item in result))
        ):
            result = self._better_of(
                result, [self._address(display, address) for display, address in self._compat(raw)]
            )
        valid = tuple(item for item in result if item.address)
        if valid or not result:
            return valid
        self.defects.append(
            f"{name} header holds no valid address: {_one_line(_fix_surrogates(raw, self.hint))[:120]!r}"
        )
        salvaged = _salvage_address(_fix_surrogates(raw, self.hint))
        if not salvaged:
            return (result[0],)
        return (Address(result[0].name, salvaged),)

    def _compat(self, raw: str) -> list[tuple[str, str]]:
        """The compat32 reading: it takes a "(Comment)" for the name, and reads some shapes
        policy.default rejects ("Max | [example.com] <max@example.com>")."""
        return [
            (decode_header_value(display, self.hint), address)
            for display, address in getaddresses([raw])
        ]

    @staticmethod
    def _better_of(primary: list[Address], other: list[Address]) -> list[Address]:
        valid = [item for item in primary if item.address]
        other_valid = [item for item in other if item.address]
        if len(other_valid) > len(valid):
            return other
        names = {item.address: item.name for item in other_valid}
        return [
            item if item.name else Address(names.get(item.address, ""), item.address)
            for item in primary
        ]

    def _policy_addresses(self, name: str, raw: str) -> list[tuple[str, str]] | None:
        """Addresses as policy.default reads them, or None when its reading cannot be trusted
        (undecodable bytes, or display names built of several encoded words, which it joins
        with a space the RFC forbids).

        Plain ASCII lists without quotes, comments, groups or encoded words read the same with
        the compat32 reader at a tenth of the cost, so they take that path.
        """
        single = _SINGLE_MAILBOX.fullmatch(raw)
        if single is not None:
            return [((single.group(1) or "").strip(), single.group(2) or single.group(3))]
        encoded = _ENCODED_MAILBOX.fullmatch(raw) if "=?" in raw else None
        if encoded is not None:
            return [(decode_header_value(encoded.group(1), self.hint), encoded.group(2))]
        if len(raw) > _LONG_HEADER or _SIMPLE_ADDRESSES.fullmatch(raw):
            return getaddresses([raw])
        try:
            header = _policy_header(name.title(), raw)
            if header is None:
                return None
            addresses = [(item.display_name, item.addr_spec) for item in header.addresses]
        except Exception as error:  # policy.default raises on some broken addresses
            self.defects.append(
                f"{name} header unreadable by the email package ({type(error).__name__}); read directly"
            )
            return None
        joined = "".join(display + address for display, address in addresses)
        if "\ufffd" in joined or _SURROGATES.search(joined) or _ADJACENT_WORDS.search(raw):
            fallback = [
                (decode_header_value(display, self.hint), address)
                for display, address in getaddresses([raw])
            ]
            if len(fallback) == len(addresses):
                return fallback
            return [
                (_fix_surrogates(display, self.hint), _fix_surrogates(address, self.hint))
                for display, address in addresses
            ]
        return addresses

    def _address(self, display: str, address: str) -> Address:
        address = _fix_surrogates(address, self.hint).strip().strip("<>").lower()
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or _INVALID_IN_ADDRESS.search(address):
            address = ""
        name = _one_line(_fix_surrogates(display, self.hint)).strip("\"' ")
        return Address(name, address)

    def ids(self, name: str) -> tuple[str, ...]:
        found: list[str] = []
        for value in self.raw.get(name, []):
            ids = ["".join(item.split()) for item in _ID.findall(str(value))]
            if not ids:
                ids = [token.strip("<>,;") for token in str(value).split()]
            found.extend(item for item in ids if "@" in item)
        return tuple(dict.fromkeys(found))

    def date(self) -> datetime | None:
        raw = _one_line(self.first("date"))
        if not raw:
            self.defects.append("no Date header")
            return None
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            self.defects.append(f"Date header unreadable: {raw[:80]!r}")
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)

    def delivered_to(self) -> tuple[str, ...]:
        found: list[str] = []
        for name in ("delivered-to", "x-original-to", "envelope-to"):
            for value in self.raw.get(name, []):
                found.extend(match.lower() for match in _PLAUSIBLE_ADDRESS.findall(str(value)))
        return tuple(dict.fromkeys(found))

    def kept(self) -> Mapping[str, str]:
        return MappingProxyType(
            {
                name: _one_line(_fix_surrogates(self.first(name), self.hint))[:1000]
                for name in _KEPT_HEADERS
                if name in self.raw
            }
        )


# --- putting it together ---------------------------------------------------------------------


def parse_mail(
    raw: bytes, *, max_parts: int = 500, max_attachment_bytes: int | None = None
) -> ParsedMail:
    """Parse one message. Raises :class:`UnparseableMail` only for empty input."""
    if not raw or not raw.strip():
        raise UnparseableMail("the message is empty")
    budget = [_HEADER_BUDGET, 0]
    token = _BUDGET.set(budget)
    try:
        mail = _parse(raw, max_parts=max_parts, max_attachment_bytes=max_attachment_bytes)
    except Exception as error:  # the promise: malformed mail never raises
        return _unreadable(raw, error)
    finally:
        _BUDGET.reset(token)
    if budget[1]:
        return replace(
            mail,
            defects=(
                *mail.defects,
                "very long or many headers: the rest read without full parsing",
            ),
        )
    return mail


def _parse(raw: bytes, *, max_parts: int, max_attachment_bytes: int | None) -> ParsedMail:
    defects: list[str] = []
    message = _read(raw, max_parts, defects)
    walker = _Walker(
        max_parts=max_parts, max_attachment_bytes=max_attachment_bytes, defects=defects
    )
    body = walker.visit(message)
    if walker.stopped and f"stopped after {max_parts} parts" not in defects:
        defects.append(f"stopped after {max_parts} parts")
    raw_headers = automation.raw_headers(message)
    headers = _Headers(message, raw_headers, walker.hint, defects)
    senders = headers.addresses("from")
    if not senders:
        defects.append("no From header")
    subject = headers.text("subject")
    message_id = normalize_message_id(headers.first("message-id"))
    if not message_id:
        defects.append("no Message-ID header")
    text, quoted, html, whole = _texts(body)
    sender = senders[0] if senders else None
    verdict = automation.examine(
        message,
        headers=raw_headers,
        subject=subject,
        sender=sender.address if sender else "",
        text=whole,
    )
    defects.extend(_package_defects(walker.package_defects))
    return ParsedMail(
        message_id=message_id,
        in_reply_to=headers.ids("in-reply-to"),
        references=headers.ids("references"),
        sender=sender,
        reply_to=headers.addresses("reply-to"),
        to=headers.addresses("to"),
        cc=headers.addresses("cc"),
        delivered_to=headers.delivered_to(),
        subject=subject,
        date=headers.date(),
        text=text,
        quoted_text=quoted,
        html=html,
        attachments=tuple(walker.attachments),
        automation=verdict.kind,
        automation_reason=verdict.reason,
        bounced_recipients=verdict.bounced_recipients,
        bounced_message_id=verdict.bounced_message_id,
        defects=tuple(dict.fromkeys(defects))[:_MAX_DEFECTS],
        headers=headers.kept(),
        omitted_attachments=tuple(walker.omitted),
    )


def _texts(body: _Body) -> tuple[str, str, str, str]:
    """(new text, quoted history, html, whole text) of the chosen bodies."""
    html = body.html or ""
    if body.text is not None and body.text.strip():
        new, quoted = split_quoted(body.text)
        return _trim(new), quoted, html, body.text
    if html:
        split = split_html_reply(html)
        if split.quoted_html:
            return (
                split.new_text,
                split.quoted_text,
                html,
                f"{split.new_text}\n\n{split.quoted_text}",
            )
        new, quoted = split_quoted(split.new_text)
        return _trim(new), quoted, html, split.new_text
    return _trim(body.text or ""), "", html, body.text or ""


def _trim(text: str) -> str:
    """Without the blank lines some clients put above a message, or trailing whitespace."""
    return re.sub(r"\A(?:[ \t]*\n)+", "", text).rstrip()


_DEFECT_WORDS = {
    "StartBoundaryNotFoundDefect": "multipart without its start boundary",
    "CloseBoundaryNotFoundDefect": "multipart without its closing boundary",
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "MultipartInvariantViolationDefect": "declared multipart but not split into parts",
    "MissingHeaderBodySeparatorDefect": "no blank line between headers and body",
    "FirstHeaderLineIsContinuationDefect": "the first header line is a continuation",
    "MisplacedEnvelopeHeaderDefect": "an mbox 'From ' line inside the headers",
    "InvalidBase64PaddingDefect": "base64 with wrong padding",
    "InvalidBase64CharactersDefect": "base64 with invalid characters",
    "InvalidMultipartContentTransferEncodingDefect": "a multipart with a transfer encoding",
}


def _package_defects(names: list[str]) -> list[str]:
    return [f"MIME: {_DEFECT_WORDS.get(name, name)}" for name in dict.fromkeys(names)]


def _unreadable(raw: bytes, error: Exception) -> ParsedMail:
    """The last resort when the parser itself failed: the bytes as text, for a person to read."""
    text = raw[:1_000_000].decode("utf-8", "replace")
    return ParsedMail(
        message_id="",
        in_reply_to=(),
        references=(),
        sender=None,
        reply_to=(),
        to=(),
        cc=(),
        delivered_to=(),
        subject="",
        date=None,
        text=text,
        quoted_text="",
        html="",
        attachments=(),
        automation="",
        automation_reason="",
        bounced_recipients=(),
        bounced_message_id="",
        defects=(
            f"internal parser error ({type(error).__name__}: {error}); the raw message is shown as text",
        ),
        headers=MappingProxyType({}),
    )
