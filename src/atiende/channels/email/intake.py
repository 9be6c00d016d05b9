"""Every way mail comes in ends here: the raw bytes are stored, once, then processed.

IMAP polling, the SMTP receiver, the raw-MIME webhook and ``atiende import-mail`` all call
:func:`receive_email`; none of them parses or writes anything else before the bytes are committed.
"""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.policy import compat32

from atiende.brands.models import Brand
from atiende.channels.email.parsing import normalize_message_id
from atiende.core.actors import system_actor
from atiende.pipeline.actions import Receipt, receive_inbound

_HEADERS = BytesHeaderParser(policy=compat32)


def dedupe_key(raw: bytes) -> str:
    """The Message-ID (what makes two deliveries of one mail the same), else the bytes' hash.

    Only the header block is read: a full parse would cost more than the whole of storing.
    """
    try:
        headers = _HEADERS.parsebytes(_header_block(raw))
        message_id = normalize_message_id(str(headers.get("Message-ID", "") or ""))
    except Exception:
        message_id = ""
    if message_id:
        # The key column holds 512 characters; a longer id is keyed by its hash, still stable.
        if len(message_id) > 400:
            return f"mid-sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"
        return f"mid:{message_id}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _header_block(raw: bytes) -> bytes:
    """``raw`` up to its first empty line: the headers, and never less.

    The header parser reads (decodes, splits into lines) everything it is given, the body too,
    though it keeps only the headers: for a message with a 25 MB attachment, all of it.
    Cut at the first empty line in any of its usual forms; one in a rarer form (a bare CR) is
    further on, and the parser stops at it anyway.
    """
    ends = [end for end in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if end >= 0]
    if not ends:
        return raw
    end = min(ends)
    return raw[: end + (2 if raw[end] == 0x0A else 4)]


def receive_email(*, brand: Brand, raw: bytes, source: str, process: bool = True) -> Receipt:
    return receive_inbound(
        brand=brand,
        channel="email",
        raw=raw,
        dedupe_key=dedupe_key(raw),
        source=source,
        actor=system_actor("channel:email"),
        process=process,
    )
