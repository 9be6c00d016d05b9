"""Every way mail comes in ends here: the raw bytes are stored, once, then processed.

IMAP polling, the SMTP receiver, the raw-MIME webhook and ``atiende import-mail`` all call
:func:`receive_email` (or, holding several at once, :func:`receive_emails`); none of them parses
or writes anything else before the bytes are committed.
"""

from __future__ import annotations

import hashlib

from atiende.brands.models import Brand
from atiende.channels.email.parsing import first_header_value, normalize_message_id, read_headers
from atiende.core.actors import system_actor
from atiende.pipeline.actions import Arrival, Receipt, receive_inbound, receive_inbound_many


def dedupe_key(raw: bytes) -> str:
    """The Message-ID (what makes two deliveries of one mail the same), else the bytes' hash.

    Only the header block is read: a full parse would cost more than the whole of storing; and
    it is read without the parser where the block is plain (``parsing.first_header_value``).
    """
    try:
        value = first_header_value(raw, "Message-ID")
        if value is None:  # (a rarer header block: the parser reads it)
            value = str(read_headers(raw).get("Message-ID", "") or "")
        message_id = normalize_message_id(value)
    except Exception:
        message_id = ""
    if message_id:
        # The key column holds 512 characters; a longer id is keyed by its hash, still stable.
        if len(message_id) > 400:
            return f"mid-sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"
        return f"mid:{message_id}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


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


def receive_emails(mails: list[tuple[Brand, bytes, str]], *, process: bool = True) -> list[Receipt]:
    """Store several mails (brand, raw bytes, source) in one transaction: a receipt for each."""
    return receive_inbound_many(
        arrivals=[
            Arrival(
                brand=brand, channel="email", raw=raw, dedupe_key=dedupe_key(raw), source=source
            )
            for brand, raw, source in mails
        ],
        actor=system_actor("channel:email"),
        process=process,
    )
