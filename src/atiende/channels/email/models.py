"""A brand's email addresses: where its customers write, and who its replies come from."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand
from atiende.core.actions import ActionWrittenModel


class EmailAddress(models.Model):
    """A support address of a brand (soporte@tiendasol.es).

    Mail arriving for it becomes the brand's conversations; replies leave from it, with a Reply-To
    that carries the conversation's signed token (soporte+c42-k3j9x1@tiendasol.es) so that a reply
    finds its conversation even when a mail client drops the threading headers.
    """

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="email_addresses")
    address = models.EmailField(_("address"), unique=True)
    display_name = models.CharField(_("sender name"), max_length=120, blank=True)
    # The address replies are sent from when a message arrives on an address of no brand.
    is_default = models.BooleanField(_("default for the brand"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    # SHA-256 of the secret a mail provider's inbound webhook presents (shown once when issued).
    inbound_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        ordering = ["brand", "address"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand"],
                condition=models.Q(is_default=True),
                name="one_default_address_per_brand",
            )
        ]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.address}>" if self.display_name else self.address

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One spelling per address, so that lookups are exact matches on the unique index.
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


class ImapSecurity(models.TextChoices):
    SSL = "ssl", _("SSL/TLS (port 993)")
    STARTTLS = "starttls", _("STARTTLS (port 143)")
    NONE = "none", _("None (only on a trusted network)")


class ImapMailbox(ActionWrittenModel):
    """A mailbox Atiende reads by IMAP: new mail in its folder becomes the brand's conversations.

    Polling never changes the mailbox (the folder is opened read-only and bodies are fetched with
    BODY.PEEK): what has been read is remembered here as the highest UID stored, valid while the
    folder's UIDVALIDITY stays the same.
    """

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="imap_mailboxes")
    host = models.CharField(_("server"), max_length=255)
    port = models.PositiveIntegerField(
        _("port"), default=993, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    security = models.CharField(
        _("connection security"),
        max_length=10,
        choices=ImapSecurity.choices,
        default=ImapSecurity.SSL,
    )
    username = models.CharField(_("user name"), max_length=255)
    # Stored as given, not hashed: IMAP LOGIN needs the password itself, so a hash could not
    # log in. It is never listed, logged or shown back (the admin form is write-only); prefer an
    # app password limited to this mailbox, and keep database backups as secret as the mail.
    password = models.CharField(_("password"), max_length=255)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    is_active = models.BooleanField(_("active"), default=True)
    # The folder's UIDVALIDITY when last_uid was read; a different value means the server
    # renumbered the folder and every UID we remember is meaningless.
    uidvalidity = models.PositiveBigIntegerField(_("UIDVALIDITY"), null=True, blank=True)
    last_uid = models.PositiveBigIntegerField(_("highest UID stored"), default=0)
    last_polled_at = models.DateTimeField(_("last read"), null=True, blank=True)
    # Why the last attempt failed, in words; empty once a poll succeeds again.
    last_error = models.TextField(_("last error"), blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    # The last thing worth knowing that was no failure (a message skipped as too large, the
    # folder renumbered).
    last_note = models.TextField(_("last note"), blank=True)
    # A poller holds the mailbox until then, so overlapping runs of the periodic task (or the
    # task next to `atiende poll-mail`) do not read it twice at once. Claimed with a
    # conditional UPDATE, which works alike on SQLite and PostgreSQL.
    polling_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("IMAP mailbox")
        verbose_name_plural = _("IMAP mailboxes")
        ordering = ["brand", "username", "host"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "host", "port", "username", "folder"],
                name="imap_mailbox_once_per_brand",
            )
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.host}/{self.folder}"
