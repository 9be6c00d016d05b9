"""The signed conversation token that rides in a reply's Reply-To (soporte+c42-k3j9x1abcd@...).

Some mail clients drop In-Reply-To and References, and customers change the subject; the address
they answer to survives both. The token is ``c<conversation id>-<signature>``: the signature is
the first 50 bits of an HMAC-SHA256 of the id under SECRET_KEY (Django's ``salted_hmac`` with its
own salt), in lower-case base32 so that it survives mail systems that lower-case local parts and
never needs quoting in an address.

What a valid token proves is only "this installation issued it for conversation N": the mailbox
before the ``+`` and the domain are deliberately not signed, so the token keeps working through
aliases and forwarders that rewrite the mailbox (help+c42-...@ → soporte+c42-...@). The caller
must still look the conversation up within the brand the mail arrived for; a token never lets
mail cross brands on its own.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from email.utils import parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

if TYPE_CHECKING:
    from atiende.channels.email.models import EmailAddress

SALT = "atiende.email.reply-to"
# 10 base32 symbols = 50 bits: guessing one conversation's token takes ~10^15 tries by mail.
SIGNATURE_LENGTH = 10
_TOKEN = re.compile(rf"c([1-9][0-9]{{0,18}})-([a-z2-7]{{{SIGNATURE_LENGTH}}})")


def _signature(conversation_id: int, secret: str | bytes) -> str:
    digest = salted_hmac(SALT, f"c{conversation_id}", secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SIGNATURE_LENGTH]


def conversation_token(conversation_id: int) -> str:
    """``c42-k3j9x1abcd``: the conversation's id and its signature, safe in an address's local part."""
    return f"c{conversation_id}-{_signature(conversation_id, settings.SECRET_KEY)}"


def reply_to_address(address: EmailAddress, conversation_id: int) -> str:
    """The brand's address with the conversation's token as its plus part."""
    return f"{address.local_part}+{conversation_token(conversation_id)}@{address.domain}"


def _is_genuine(conversation_id: int, signature: str) -> bool:
    # Tokens handed out before a key rotation stay valid while the old key is a fallback, so
    # customers answering week-old mail still land in their conversation.
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return any(constant_time_compare(_signature(conversation_id, key), signature) for key in keys)


def conversation_id_from_addresses(addresses: Iterable[str]) -> int | None:
    """The conversation of the first genuine token in ``addresses``; None if there is none.

    Accepts bare addresses or "Name <address>" forms, in any letter case; a token may be any
    ``+`` part of the local part. Forged, altered or truncated tokens are ignored.
    """
    for candidate in addresses:
        address = parseaddr(candidate)[1] or candidate
        local, at, _domain = address.strip().strip("<>").lower().rpartition("@")
        if not at:
            continue
        for part in local.split("+")[1:]:
            match = _TOKEN.fullmatch(part)
            if match is not None and _is_genuine(int(match.group(1)), match.group(2)):
                return int(match.group(1))
    return None
