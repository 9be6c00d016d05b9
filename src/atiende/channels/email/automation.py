"""Is this mail from a machine? Bounces, auto-replies, read receipts and abuse reports.

Used by :func:`atiende.channels.email.parsing.parse_mail`; pure standard library. The answer is a
kind ("", "auto_reply" or "bounce") and a reason in words. The rules follow RFC 3464 (DSN),
RFC 3834 (Auto-Submitted), RFC 5965 (ARF) and RFC 8098 (MDN), then the habits of real servers that
send none of those (MAILER-DAEMON text bounces, Exchange "Undeliverable:", vacation programs).
Mailing-list mail is not automatic: a Google Group used as the support address carries
"Precedence: list" on every customer's message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr

AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"

_DAEMONS = frozenset(
    {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon", "mail.daemon"}
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|returned to sender|delivery status notification"
    r"|delivery (?:has )?fail|mail delivery fail|failure notice|delivery failure|non[- ]?remis"
    r"|no se puede entregar|no se ha podido entregar|mensaje no entregado|no entregado"
    r"|notificación de estado de entrega|unzustellbar|nicht zustellbar|delivery notification"
    r"|could not be delivered|delayed mail|warning: could not send",
    re.IGNORECASE,
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|respuesta automática"
    r"|respuesta automatica|réponse automatique|automatische antwort|risposta automatica"
    r"|resposta automática|out of office(?: autoreply| reply)?|fuera de la oficina|abwesenheitsnotiz"
    r"|ausente)\s*:|out of (?:the )?office\b|fuera de la oficina\b)",
    re.IGNORECASE,
)
# Starts only where an address can start and never backtracks: linear on any text.
_ADDRESS = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@[\w-]++(?:\.[\w-]++)++"
)
# Where a text bounce starts quoting the returned message; addresses after it are not failures.
_ORIGINAL_FOLLOWS = re.compile(
    r"^[ \t]*+(?:-++[ \t]*+)?(?:original message|this is a copy of the message|original message follows"
    r"|the original message was received|returned message|undelivered message|below this line)",
    re.IGNORECASE | re.MULTILINE,
)
_MESSAGE_ID_LINE = re.compile(
    r"^Message-ID:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)
_MAX_PARTS_EXAMINED = 50
_MAX_BOUNCE_TEXT = 65_536
_MAX_REASON = 240


@dataclass(frozen=True)
class Automation:
    kind: str = ""
    reason: str = ""
    bounced_recipients: tuple[str, ...] = ()
    bounced_message_id: str = ""


NOT_AUTOMATIC = Automation()


def classify(message: Message) -> tuple[str, str]:
    """(kind, reason) of a parsed message: kind is "", "auto_reply" or "bounce"."""
    result = examine(message)
    return result.kind, result.reason


def examine(
    message: Message,
    *,
    headers: Mapping[str, list[str]] | None = None,
    subject: str | None = None,
    sender: str | None = None,
    text: str = "",
) -> Automation:
    """Everything classify() decides, with the failed recipients and the returned Message-ID.

    ``headers`` (lower-case name → raw values), ``subject``, ``sender`` (lower-case address) and
    ``text`` (the whole text body) are what parse_mail already has; they are derived when absent.
    """
    if headers is None:
        headers = raw_headers(message)
    if subject is None:
        subject = _first(headers, "subject")
    if sender is None:
        sender = parseaddr(_first(headers, "from"))[1].lower()
    report = _report(message)
    if report is not None:
        return report
    failed = _addresses(" ".join(headers.get("x-failed-recipients", [])))
    if failed or _looks_like_text_bounce(headers, subject, sender):
        return _text_bounce(message, headers, subject, sender, text, failed)
    return _auto_reply(headers, subject)


def raw_headers(message: Message) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        found.setdefault(name.lower(), []).append(str(value))
    return found


def _first(headers: Mapping[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _token(value: str) -> str:
    """The leading keyword of a header such as "auto-replied; owner-email=..." in lower case."""
    return value.split(";", 1)[0].strip().strip('"').lower()


# --- multipart/report ------------------------------------------------------------------------


def _report(message: Message) -> Automation | None:
    content_type = message.get_content_type()
    if content_type == "message/delivery-status":
        return _delivery_report(message, [message], original_id="")
    if content_type != "multipart/report":
        return None
    report_type = str(message.get_param("report-type") or "").lower()
    parts = list(_report_parts(message))
    types = {part.get_content_type() for part in parts}
    if report_type == "feedback-report" or "message/feedback-report" in types:
        feedback = _feedback_type(parts)
        return Automation(
            AUTO_REPLY, f"abuse report (ARF feedback-report{': ' + feedback if feedback else ''})"
        )
    if report_type == "disposition-notification" or "message/disposition-notification" in types:
        return Automation(AUTO_REPLY, "read receipt (MDN disposition-notification)")
    statuses = [
        part
        for part in parts
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    ]
    if report_type in ("delivery-status", "global-delivery-status") or statuses:
        return _delivery_report(message, statuses, original_id=_returned_message_id(parts))
    return Automation(
        AUTO_REPLY, f"automatic report (multipart/report; report-type={report_type or 'unknown'})"
    )


def _report_parts(message: Message) -> Iterator[Message]:
    """The parts of a report, not descending into the returned message itself."""
    pending = [message]
    seen = 0
    while pending and seen < _MAX_PARTS_EXAMINED:
        part = pending.pop(0)
        seen += 1
        if part is not message:
            yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                pending.extend(child for child in payload if isinstance(child, Message))


def _feedback_type(parts: list[Message]) -> str:
    for part in parts:
        if part.get_content_type() != "message/feedback-report":
            continue
        for block in _status_blocks(part):
            value = block.get("feedback-type", "")
            if value:
                return value.lower()
    return ""


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status (or feedback-report) part, names in lower case.

    The email package parses each block into a Message; a part it could not split (another
    transfer encoding, a broken layout) is read as text.
    """
    payload = part.get_payload()
    parsed = (
        [block for block in payload if isinstance(block, Message)]
        if isinstance(payload, list)
        else []
    )
    if parsed:
        return [
            {name.lower(): _unfold(str(value)) for name, value in block.raw_items()}
            for block in parsed
        ]
    raw = part.get_payload(decode=True)
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", body):
        fields: dict[str, str] = {}
        for match in re.finditer(
            r"^([A-Za-z][\w-]*):[ \t]*(.*(?:\r?\n[ \t].*)*)", chunk, re.MULTILINE
        ):
            fields.setdefault(match.group(1).lower(), _unfold(match.group(2)))
        if fields:
            blocks.append(fields)
    return blocks


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _delivery_report(message: Message, statuses: list[Message], *, original_id: str) -> Automation:
    failed: list[str] = []
    delayed: list[str] = []
    delivered: list[str] = []
    details: list[str] = []
    for part in statuses:
        for block in _status_blocks(part):
            recipients = _dsn_recipients(block)
            if not recipients:
                continue
            action = block.get("action", "").lower()
            status = block.get("status", "").split(" ", 1)[0]
            if action == "failed" or (not action and status.startswith("5")):
                failed.extend(recipients)
                details.append(_detail(block, status))
            elif action == "delayed" or (not action and status.startswith("4")):
                delayed.extend(recipients)
                details.append(_detail(block, status))
            else:
                delivered.extend(recipients)
    if failed:
        reason = f"DSN multipart/report: delivery failed ({'; '.join(details)})"
        return Automation(BOUNCE, reason[:_MAX_REASON], _unique(failed), original_id)
    if delayed:
        # A warning that the server is still trying: a bounce notice, but no address has failed.
        reason = f"DSN multipart/report: delivery delayed, still being retried for {', '.join(_unique(delayed))} ({'; '.join(details)})"
        return Automation(BOUNCE, reason[:_MAX_REASON], (), original_id)
    if delivered:
        return Automation(AUTO_REPLY, "DSN multipart/report: delivery succeeded (success notice)")
    return Automation(BOUNCE, "DSN multipart/report without recipient details", (), original_id)


def _dsn_recipients(block: Mapping[str, str]) -> list[str]:
    """Original-Recipient (the address we wrote to) first, then Final-Recipient (after aliases)."""
    found: list[str] = []
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = block.get(name, "")
        if ";" in value:
            value = value.split(";", 1)[1]
        found.extend(_addresses(value))
    return found


def _detail(block: Mapping[str, str], status: str) -> str:
    diagnostic = block.get("diagnostic-code", "")
    return (
        f"status {status}{', ' + diagnostic if diagnostic else ''}"
        if status
        else diagnostic or "no status"
    )


def _returned_message_id(parts: list[Message]) -> str:
    for part in parts:
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = _message_id_of(payload[0])
                if found:
                    return found
        elif content_type in (
            "text/rfc822-headers",
            "message/rfc822-headers",
            "text/global-headers",
        ):
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                found = _message_id_in_text(raw.decode("utf-8", "replace"))
                if found:
                    return found
    return ""


def _message_id_of(message: Message) -> str:
    for name, value in message.raw_items():
        if name.lower() == "message-id":
            return _clean_id(str(value))
    return ""


def _message_id_in_text(text: str) -> str:
    match = _MESSAGE_ID_LINE.search(text)
    return _clean_id(match.group(1)) if match else ""


def _clean_id(value: str) -> str:
    match = re.search(r"<([^<>]+)>", value)
    found = match.group(1) if match else value
    return "".join(found.split()).strip("<>")


def _addresses(value: str) -> list[str]:
    found: list[str] = []
    for _name, address in getaddresses([value]):
        address = address.strip().strip("<>").lower()
        if _ADDRESS.fullmatch(address):
            found.append(address)
    if not found:
        found = [match.lower() for match in _ADDRESS.findall(value)]
    return found


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --- bounces without a DSN -------------------------------------------------------------------


def _is_daemon(sender: str) -> bool:
    return sender.split("@", 1)[0].lower() in _DAEMONS


def _looks_like_text_bounce(headers: Mapping[str, list[str]], subject: str, sender: str) -> bool:
    """MAILER-DAEMON or postmaster, or a null return path, with a bounce subject.

    A subject alone is not enough: a customer may well write "Undelivered parcel".
    """
    if sender.split("@", 1)[0].lower() in ("mailer-daemon", "mailerdaemon", "mail-daemon"):
        return True
    if not _BOUNCE_SUBJECT.search(subject):
        return False
    null_path = "return-path" in headers and _first(headers, "return-path").strip() in ("<>", "")
    display = _first(headers, "from").lower()
    return _is_daemon(sender) or null_path or "mail delivery" in display


def _text_bounce(
    message: Message,
    headers: Mapping[str, list[str]],
    subject: str,
    sender: str,
    text: str,
    failed: list[str],
) -> Automation:
    # The human part of a bounce is short; what follows is the returned message.
    text = text[:_MAX_BOUNCE_TEXT]
    own = {sender, *_addresses(" ".join(headers.get("to", []) + headers.get("delivered-to", [])))}
    if not failed:
        before_original = _ORIGINAL_FOLLOWS.split(text, maxsplit=1)[0]
        failed = [
            address
            for address in _addresses(before_original)
            if address not in own and not _is_daemon(address)
        ][:20]
    original_id = _message_id_in_text(text) or _returned_message_id(list(_report_parts(message)))
    how = (
        "X-Failed-Recipients"
        if headers.get("x-failed-recipients")
        else f"from {sender or 'unknown sender'}"
    )
    reason = f"delivery failure notice without DSN ({how}; subject {subject.strip()[:80]!r})"
    return Automation(BOUNCE, reason, _unique(failed), original_id)


# --- auto-replies ----------------------------------------------------------------------------


def _auto_reply(headers: Mapping[str, list[str]], subject: str) -> Automation:
    auto_submitted = _token(_first(headers, "auto-submitted"))
    if auto_submitted and auto_submitted != "no":
        return Automation(AUTO_REPLY, f"Auto-Submitted: {auto_submitted}")
    for name in (
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-autogenerated",
        "x-auto-reply",
    ):
        value = _token(_first(headers, name))
        if name in headers and value not in ("no", "false", "0"):
            return Automation(AUTO_REPLY, f"{_header_name(name)}: {value or 'present'}")
    precedence = _token(_first(headers, "precedence"))
    if precedence in ("auto_reply", "auto-reply", "junk") or (
        precedence == "bulk" and not _from_a_list(headers)
    ):
        return Automation(AUTO_REPLY, f"Precedence: {precedence}")
    if _AUTO_REPLY_SUBJECT.match(subject):
        return Automation(AUTO_REPLY, f"automatic reply subject {subject.strip()[:80]!r}")
    if "return-path" in headers and _first(headers, "return-path").strip() == "<>":
        return Automation(AUTO_REPLY, "null return path (Return-Path: <>), sent by a machine")
    return NOT_AUTOMATIC


def _from_a_list(headers: Mapping[str, list[str]]) -> bool:
    """Discussion lists (which older list servers mark "Precedence: bulk") carry people's mail."""
    if any(name in headers for name in ("list-id", "list-post", "mailing-list", "x-mailing-list")):
        return True
    envelope = f"{_first(headers, 'sender')} {_first(headers, 'return-path')}".lower()
    return bool(re.search(r"owner-|-owner@|-request@|-bounces[@+]", envelope))


def _header_name(name: str) -> str:
    return "-".join(piece.capitalize() for piece in name.split("-"))
