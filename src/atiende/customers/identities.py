"""Normalising the ways a customer can be reached, so that one address always has one spelling.

Emails are lower-cased and validated; phones become E.164 (``+34912345678``) read in the brand's
country when no country code is given; social handles lose their ``@`` and are lower-cased.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

EMAIL = "email"
PHONE = "phone"
SOCIAL = "social"

SOCIAL_NETWORKS = ("whatsapp", "telegram", "facebook", "instagram", "x", "tiktok", "linkedin")
_HANDLE = re.compile(r"^[a-z0-9._-]{1,64}$")


def normalize_email(value: str) -> str:
    text = value.strip().lower()
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError(
            _("%(value)s is not a valid email address."),
            code="invalid_email",
            params={"value": value},
        ) from None
    return text


def normalize_phone(value: str, default_region: str) -> str:
    try:
        number = phonenumbers.parse(value, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _(
                "%(value)s is not a valid phone number (write it with its country code, e.g. +34 600 123 456)."
            ),
            code="invalid_phone",
            params={"value": value},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_handle(value: str, network: str) -> str:
    if network not in SOCIAL_NETWORKS:
        raise ValidationError(
            _("%(network)s is not a known social network."),
            code="invalid_network",
            params={"network": network},
        )
    handle = value.strip().lstrip("@").lower()
    if not _HANDLE.match(handle):
        raise ValidationError(
            _("%(value)s is not a valid handle."), code="invalid_handle", params={"value": value}
        )
    return handle


def display_identity(kind: str, value: str) -> str:
    """How a stored identity is shown: phones grouped the international way (+34 600 12 34 56)."""
    if kind == PHONE:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return value
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if kind == SOCIAL:
        return f"@{value}"
    return value


def normalize_identity(
    kind: str, value: str, *, network: str = "", default_region: str = ""
) -> str:
    if kind == EMAIL:
        return normalize_email(value)
    if kind == PHONE:
        return normalize_phone(value, default_region)
    if kind == SOCIAL:
        return normalize_handle(value, network)
    raise ValidationError(
        _("%(kind)s is not a kind of identity."), code="invalid_kind", params={"kind": kind}
    )
