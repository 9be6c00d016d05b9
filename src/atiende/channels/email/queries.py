"""Reads the email channel makes to send a reply: who it comes from, who it goes to, its thread.

These are the system's own reads for a delivery the reply's action already authorised, so they
take the brand or the message rather than an acting user.
"""

from __future__ import annotations

from atiende.brands.models import Brand
from atiende.channels.email.models import EmailAddress
from atiende.conversations.models import Direction, Message
from atiende.customers.models import Customer, IdentityKind
from atiende.customers.queries import identities_of


def sending_address_for(brand: Brand | int) -> EmailAddress | None:
    """The address the brand's replies leave from: its active default, else its oldest active one."""
    return (
        EmailAddress.objects.filter(brand=brand, is_active=True)
        .order_by("-is_default", "created_at", "pk")
        .first()
    )


def recipient_for(customer: Customer) -> str | None:
    """The customer's primary email address, else their first one; None if they have none."""
    identity = identities_of(customer).filter(kind=IdentityKind.EMAIL).first()
    return identity.value if identity is not None else None


def email_thread_of(message: Message) -> list[tuple[str, str]]:
    """(external id, direction) of the conversation's email messages before ``message``, oldest first.

    Notes and other channels are left out: their ids are not Message-IDs a mail client knows.
    """
    rows = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            channel="email",
            direction__in=[Direction.INBOUND, Direction.OUTBOUND],
        )
        .exclude(external_id="")
        .exclude(pk=message.pk)
        .filter(created_at__lte=message.created_at)
        .order_by("created_at", "id")
        .values_list("external_id", "direction")
    )
    return list(rows)
