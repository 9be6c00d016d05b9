"""Configuring a brand's email addresses."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.events import record_brand_event
from atiende.brands.models import Brand
from atiende.channels.email.models import EmailAddress
from atiende.core.actions import action


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@action
def issue_inbound_secret(*, address: EmailAddress, actor: Actor) -> str:
    """A new secret for the address's raw-MIME webhook; the old one stops working. Shown once."""
    require(actor, Capability.CONFIGURE_BRAND, address.brand_id)
    secret = secrets.token_urlsafe(32)
    EmailAddress.objects.filter(pk=address.pk).update(inbound_secret_hash=secret_hash(secret))
    record_brand_event(
        address.brand,
        "email.inbound_secret_issued",
        actor=actor,
        payload={"address": address.address},
    )
    return secret


@action
def add_email_address(
    *,
    brand: Brand,
    address: str,
    actor: Actor,
    display_name: str = "",
    is_default: bool = False,
) -> EmailAddress:
    """A support address of the brand; as the default, it replaces the brand's previous one."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    address = address.strip().lower()
    validate_email(address)
    if EmailAddress.objects.filter(address__iexact=address).exists():
        raise ValidationError(
            _("%(address)s is already an address of Atiende.") % {"address": address}
        )
    if is_default:
        EmailAddress.objects.filter(brand=brand, is_default=True).update(is_default=False)
    created = EmailAddress.objects.create(
        brand=brand, address=address, display_name=display_name, is_default=is_default
    )
    record_brand_event(
        brand,
        "email.address_added",
        actor=actor,
        payload={"address": address, "is_default": is_default},
    )
    return created
