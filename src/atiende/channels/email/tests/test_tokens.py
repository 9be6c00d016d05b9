"""The signed conversation token in Reply-To addresses: only tokens we issued are believed."""

import re

import pytest

from atiende.channels.email.models import EmailAddress
from atiende.channels.email.tokens import (
    conversation_id_from_addresses,
    conversation_token,
    reply_to_address,
)

SUPPORT = EmailAddress(address="soporte@tiendasol.es")


def altered(token: str) -> str:
    """The token with its last symbol changed (never to the symbol it already is)."""
    return token[:-1] + ("b" if token[-1] != "b" else "c")


def test_a_token_is_short_and_safe_in_a_local_part():
    token = conversation_token(42)
    assert re.fullmatch(r"c42-[a-z2-7]{10}", token)
    assert conversation_token(42) == token
    assert conversation_token(43) != token


def test_the_reply_to_address_carries_the_token_as_its_plus_part():
    token = conversation_token(42)
    assert reply_to_address(SUPPORT, 42) == f"soporte+{token}@tiendasol.es"


def test_a_reply_to_address_leads_back_to_its_conversation():
    assert conversation_id_from_addresses([reply_to_address(SUPPORT, 1042)]) == 1042


def test_addresses_without_a_token_lead_nowhere():
    assert conversation_id_from_addresses([]) is None
    assert conversation_id_from_addresses(["soporte@tiendasol.es", "not an address"]) is None
    assert conversation_id_from_addresses(["soporte+ventas@tiendasol.es"]) is None


@pytest.mark.parametrize(
    "forge",
    [
        altered,
        lambda token: token[:-1],  # truncated
        lambda token: "c43-" + token.split("-")[1],  # another conversation, same signature
        lambda token: "c42-" + "a" * 10,  # made up
        lambda token: "c042-" + token.split("-")[1],  # the same number written differently
    ],
)
def test_a_forged_or_altered_token_is_refused(forge):
    token = conversation_token(42)
    assert conversation_id_from_addresses([f"soporte+{forge(token)}@tiendasol.es"]) is None


def test_a_token_signed_with_another_key_is_refused(settings):
    address = reply_to_address(SUPPORT, 42)
    settings.SECRET_KEY = "another installation's key, long enough to be a real one"
    assert conversation_id_from_addresses([address]) is None


def test_tokens_issued_before_a_key_rotation_stay_valid_while_the_old_key_is_a_fallback(settings):
    address = reply_to_address(SUPPORT, 42)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the new key after a rotation, long enough to be a real one"
    assert conversation_id_from_addresses([address]) == 42
    settings.SECRET_KEY_FALLBACKS = []
    assert conversation_id_from_addresses([address]) is None


def test_letter_case_does_not_matter():
    # Some mail systems upper-case or lower-case whole addresses, domains most of all.
    address = reply_to_address(SUPPORT, 42)
    local, domain = address.split("@")
    assert conversation_id_from_addresses([f"{local}@{domain.upper()}"]) == 42
    assert conversation_id_from_addresses([address.upper()]) == 42


def test_the_token_works_on_another_mailbox_and_among_other_plus_parts():
    # By design: aliases and forwarders rewrite the mailbox; the brand is checked by the caller.
    token = conversation_token(42)
    assert conversation_id_from_addresses([f"ayuda+{token}@otra.example"]) == 42
    assert conversation_id_from_addresses([f"soporte+es+{token}@tiendasol.es"]) == 42


def test_the_first_genuine_token_among_display_names_and_other_addresses_wins():
    addresses = [
        "Carmen <carmen@example.com>",
        f"soporte+{altered(conversation_token(7))}@tiendasol.es",
        f"Tienda Sol <{reply_to_address(SUPPORT, 8)}>",
        reply_to_address(SUPPORT, 9),
    ]
    assert conversation_id_from_addresses(addresses) == 8
