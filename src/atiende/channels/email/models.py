"""A brand's email addresses: where its customers write, and who its replies come from."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.brands.models import Brand


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

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]
