"""Which brand a message belongs to, from the addresses it was sent to."""

from __future__ import annotations

from email.utils import getaddresses

from django.db.models.functions import Lower

from atiende.brands.models import Brand
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.parsing import read_headers

_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def recipients(raw: bytes) -> list[str]:
    """Recipient addresses in the order that best names the mailbox, plus-parts removed."""
    headers = read_headers(raw)
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for _display, address in getaddresses([str(value) for value in headers.get_all(name, [])]):
            if "@" in address:
                local, _at, domain = address.strip().lower().rpartition("@")
                found.append(f"{local.split('+', 1)[0]}@{domain}")
    return found


def brand_for_message(raw: bytes) -> Brand | None:
    """The brand of the first recipient that is one of our addresses; with a single brand, it."""
    addresses = recipients(raw)
    if addresses:
        known = {
            row.address.lower(): row.brand
            for row in EmailAddress.objects.annotate(lowered=Lower("address"))
            .filter(lowered__in=addresses, is_active=True)
            .select_related("brand")
        }
        for address in addresses:
            if address in known:
                return known[address]
    brands = list(Brand.objects.filter(is_active=True)[:2])
    return brands[0] if len(brands) == 1 else None
