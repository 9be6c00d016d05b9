"""Configuring a brand's email addresses and IMAP mailboxes, and the pollers' bookkeeping."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from atiende.accounts.permissions import Actor, require
from atiende.accounts.roles import Capability
from atiende.brands.events import record_brand_event
from atiende.brands.models import Brand
from atiende.channels.email.intake import receive_emails
from atiende.channels.email.models import EmailAddress, ImapMailbox, ImapSecurity
from atiende.core.actions import action
from atiende.pipeline.actions import Receipt

logger = logging.getLogger(__name__)


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


EDITABLE_IMAP_FIELDS = frozenset(
    {"host", "port", "security", "username", "password", "folder", "is_active"}
)
# A change to any of these points at another folder: the UIDs remembered mean nothing there.
_IMAP_FOLDER_FIELDS = ("host", "port", "username", "folder")


@action
def add_imap_mailbox(
    *,
    brand: Brand,
    host: str,
    username: str,
    password: str,
    actor: Actor,
    port: int = 993,
    security: str = ImapSecurity.SSL,
    folder: str = "INBOX",
    is_active: bool = True,
) -> ImapMailbox:
    """A mailbox to read for the brand. Its folder is read from the start on the first poll."""
    require(actor, Capability.CONFIGURE_BRAND, brand.pk)
    mailbox = ImapMailbox(
        brand=brand,
        host=host.strip(),
        port=port,
        security=security,
        username=username.strip(),
        password=password,
        folder=folder.strip() or "INBOX",
        is_active=is_active,
    )
    mailbox.full_clean()
    mailbox.save()
    record_brand_event(
        brand,
        "email.imap_mailbox_added",
        actor=actor,
        payload={"mailbox": mailbox.pk, "server": mailbox.host, "username": mailbox.username},
    )
    return mailbox


@action
def update_imap_mailbox(*, mailbox: ImapMailbox, actor: Actor, **changes: Any) -> ImapMailbox:
    """Change a mailbox's settings; an empty password keeps the current one (it is write-only).

    Pointing it at another server, user or folder forgets the UIDs read so far: the new folder is
    read from the start, and messages already stored are recognised as duplicates.
    """
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    unknown = set(changes) - EDITABLE_IMAP_FIELDS
    if unknown:
        raise TypeError(f"Unknown IMAP mailbox fields: {', '.join(sorted(unknown))}")
    if "password" in changes and not changes["password"]:
        del changes["password"]  # write-only: an empty field keeps the stored password
    current = ImapMailbox.objects.select_for_update().get(pk=mailbox.pk)
    changed = sorted(name for name, value in changes.items() if getattr(current, name) != value)
    if not changed:
        return current
    for name in changed:
        setattr(current, name, changes[name])
    fields = list(changed)
    if any(name in _IMAP_FOLDER_FIELDS for name in changed):
        current.uidvalidity, current.last_uid = None, 0
        fields += ["uidvalidity", "last_uid"]
    current.full_clean()
    current.save(update_fields=fields)
    record_brand_event(
        current.brand,
        "email.imap_mailbox_updated",
        actor=actor,
        payload={"mailbox": current.pk, "changed": changed},
    )
    return current


@action
def claim_imap_mailbox(*, mailbox: ImapMailbox, until: datetime, actor: Actor) -> bool:
    """Hold an active mailbox for one poller until ``until``; False if another holds it now.

    One conditional UPDATE: of two pollers racing for the same mailbox, exactly one matches.
    """
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    now = timezone.now()
    free = Q(polling_until__isnull=True) | Q(polling_until__lt=now)
    claimed = ImapMailbox.objects.filter(free, pk=mailbox.pk, is_active=True).update(
        polling_until=until
    )
    return claimed == 1


@action
def hold_imap_mailbox(*, mailbox: ImapMailbox, until: datetime, actor: Actor) -> None:
    """Extend the hold of the poller that claimed the mailbox."""
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    ImapMailbox.objects.filter(pk=mailbox.pk).update(polling_until=until)


@action
def release_imap_mailbox(*, mailbox: ImapMailbox, actor: Actor) -> None:
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    ImapMailbox.objects.filter(pk=mailbox.pk).update(polling_until=None)


@action
def start_imap_folder(*, mailbox: ImapMailbox, uidvalidity: int, actor: Actor) -> bool:
    """Remember the folder's UIDVALIDITY; True when it changed and reading starts over at UID 0.

    Updates ``mailbox`` in place. Starting over is safe: every message read again is a
    duplicate of the one stored before, found by its dedupe key.
    """
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    current = ImapMailbox.objects.select_for_update().get(pk=mailbox.pk)
    mailbox.uidvalidity, mailbox.last_uid = current.uidvalidity, current.last_uid
    if current.uidvalidity == uidvalidity:
        return False
    if current.uidvalidity is None:
        ImapMailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity)
        mailbox.uidvalidity = uidvalidity
        return False
    note = _(
        "The server renumbered the folder (UIDVALIDITY %(old)d, now %(new)d); it was read again "
        "from the start, and the messages already stored were recognised as duplicates."
    ) % {"old": current.uidvalidity, "new": uidvalidity}
    ImapMailbox.objects.filter(pk=mailbox.pk).update(
        uidvalidity=uidvalidity, last_uid=0, last_note=note
    )
    logger.warning(
        "IMAP mailbox %s (%s): UIDVALIDITY changed from %s to %s; reading it again from UID 0",
        mailbox.pk, mailbox, current.uidvalidity, uidvalidity,
    )  # fmt: skip
    record_brand_event(
        mailbox.brand,
        "email.imap_folder_renumbered",
        actor=actor,
        payload={"mailbox": mailbox.pk, "old": current.uidvalidity, "new": uidvalidity},
    )
    mailbox.uidvalidity, mailbox.last_uid, mailbox.last_note = uidvalidity, 0, note
    return True


def _advance(mailbox: ImapMailbox, uid: int, until: datetime | None, **fields: Any) -> None:
    # Only forwards, and only in the numbering it was read in: a late poller cannot move a
    # renumbered folder's position, nor take it back to a UID another poller has passed.
    if until is not None:
        fields["polling_until"] = until
    ImapMailbox.objects.filter(
        pk=mailbox.pk, uidvalidity=mailbox.uidvalidity, last_uid__lt=uid
    ).update(last_uid=uid, **fields)
    mailbox.last_uid = max(mailbox.last_uid, uid)


@action
def advance_imap_uid(
    *, mailbox: ImapMailbox, uid: int, actor: Actor, until: datetime | None = None
) -> None:
    """Message ``uid`` is stored (committed): the next poll starts after it.

    Precondition: the message was committed first; ``until`` extends the poller's hold.
    """
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    _advance(mailbox, uid, until)


@action
def store_imap_messages(
    *,
    mailbox: ImapMailbox,
    messages: list[tuple[int, bytes]],
    actor: Actor,
    until: datetime | None = None,
) -> list[Receipt]:
    """Store fetched messages (UID, raw bytes; in UID order) and move ``last_uid`` past the last,
    in one transaction: a receipt for each.

    One commit, and on SQLite one sync to disk, for the fetch's messages and the mailbox's
    position, where one per message and one per move cost two each. Both commit or neither does:
    a crash leaves the position before the messages, and the next poll reads them again.
    """
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    receipts = receive_emails(
        [(mailbox.brand, raw, f"imap:{mailbox.pk}") for _uid, raw in messages], process=False
    )
    _advance(mailbox, max(uid for uid, _raw in messages), until)
    return receipts


@action
def skip_imap_message(
    *,
    mailbox: ImapMailbox,
    uid: int,
    size: int,
    limit: int,
    actor: Actor,
    until: datetime | None = None,
) -> None:
    """Pass over a message too large to store (ATIENDE_MAX_MESSAGE_BYTES), saying so."""
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    note = _(
        "The message with UID %(uid)d was not read: it is %(size)s, larger than the limit of "
        "%(limit)s."
    ) % {"uid": uid, "size": filesizeformat(size), "limit": filesizeformat(limit)}
    logger.warning(
        "IMAP mailbox %s (%s): skipped UID %s of %s bytes (limit %s)",
        mailbox.pk, mailbox, uid, size, limit,
    )  # fmt: skip
    _advance(mailbox, uid, until, last_note=note)
    mailbox.last_note = note
    record_brand_event(
        mailbox.brand,
        "email.imap_message_skipped",
        actor=actor,
        payload={"mailbox": mailbox.pk, "uid": uid, "size": size, "limit": limit},
    )


@action
def record_imap_poll(*, mailbox: ImapMailbox, actor: Actor) -> None:
    """A poll read everything new: the mailbox works (again)."""
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    current = ImapMailbox.objects.select_for_update().get(pk=mailbox.pk)
    now = timezone.now()
    ImapMailbox.objects.filter(pk=mailbox.pk).update(
        last_polled_at=now, last_error="", failing_since=None
    )
    if current.failing_since is not None:
        logger.info("IMAP mailbox %s (%s) works again", mailbox.pk, mailbox)
        record_brand_event(
            mailbox.brand,
            "email.imap_mailbox_recovered",
            actor=actor,
            payload={"mailbox": mailbox.pk, "failing_since": current.failing_since.isoformat()},
        )
    mailbox.last_polled_at, mailbox.last_error, mailbox.failing_since = now, "", None


@action
def record_imap_failure(*, mailbox: ImapMailbox, error: str, actor: Actor) -> None:
    """A poll failed; ``error`` says why in words. The first failure in a row is an event."""
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    current = ImapMailbox.objects.select_for_update().get(pk=mailbox.pk)
    failing_since = current.failing_since or timezone.now()
    ImapMailbox.objects.filter(pk=mailbox.pk).update(
        last_error=error[:4000], failing_since=failing_since
    )
    if current.failing_since is None:
        record_brand_event(
            mailbox.brand,
            "email.imap_mailbox_failing",
            actor=actor,
            payload={"mailbox": mailbox.pk, "error": error[:1000]},
        )
    mailbox.last_error, mailbox.failing_since = error[:4000], failing_since


@action
def request_imap_poll(*, mailbox: ImapMailbox, actor: Actor) -> None:
    """Read the mailbox now (in the background), instead of at the next poll."""
    require(actor, Capability.CONFIGURE_BRAND, mailbox.brand_id)
    mailbox_id = mailbox.pk
    transaction.on_commit(lambda: _queue_poll(mailbox_id))


def _queue_poll(mailbox_id: int) -> None:
    from atiende.channels.email.tasks import poll_imap_mailbox

    poll_imap_mailbox(mailbox_id)
