"""The SMTP receiver: mail delivered to us directly (MX, or an MTA relaying to us LMTP-style).

A recipient that is none of our addresses is refused at RCPT time (550), so a sender learns at
once; a message is answered "250" only after its raw bytes are committed, so a crash before that
makes the sending server try again (451) instead of losing the mail.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.db import close_old_connections

from atiende.brands.models import Brand
from atiende.channels.email.intake import receive_email
from atiende.channels.email.models import EmailAddress

logger = logging.getLogger(__name__)


def brand_for_address(address: str) -> Brand | None:
    """The brand an envelope recipient belongs to (plus-addressed tokens included)."""
    local, _at, domain = address.strip().strip("<>").lower().rpartition("@")
    mailbox = f"{local.split('+', 1)[0]}@{domain}"
    found = (
        EmailAddress.objects.filter(address__iexact=mailbox, is_active=True)
        .select_related("brand")
        .first()
    )
    return found.brand if found is not None else None


def store_delivery(recipients: list[str], raw: bytes, peer: str) -> int:
    """Store the message once per brand among its recipients; returns how many were new."""
    close_old_connections()
    try:
        stored = 0
        by_brand: dict[int, tuple[Brand, list[str]]] = {}
        for recipient in recipients:
            brand = brand_for_address(recipient)
            if brand is not None:
                by_brand.setdefault(brand.pk, (brand, []))[1].append(recipient)
        for brand, addresses in by_brand.values():
            # What an MTA adds on final delivery: the envelope recipients, which may differ from
            # To/Cc (Bcc, forwards) and carry the plus-addressed token.
            trace = "".join(f"Delivered-To: {address}\r\n" for address in addresses).encode()
            receipt = receive_email(brand=brand, raw=trace + raw, source=f"smtp:{peer}")
            stored += receipt.created
        return stored
    finally:
        close_old_connections()


class InboundHandler:
    """aiosmtpd handler; the database work runs in a thread so the event loop keeps serving."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        brand = await asyncio.to_thread(_brand_in_fresh_connection, address)
        if brand is None:
            return "550 5.1.1 No mailbox here by that name"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        peer = session.peer[0] if session.peer else "unknown"
        try:
            await asyncio.to_thread(store_delivery, list(envelope.rcpt_tos), raw, peer)
        except Exception:
            logger.exception("could not store a message from %s", peer)
            return "451 4.3.0 Could not store the message now; please try again later"
        return "250 2.0.0 Message accepted for delivery"


def _brand_in_fresh_connection(address: str) -> Brand | None:
    close_old_connections()
    try:
        return brand_for_address(address)
    finally:
        close_old_connections()
