"""A brand is a client company served from this installation (PF1).

Every conversation, customer, channel, team and policy belongs to exactly one brand; a BPO runs
several in one installation, a single company runs one.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.core.events import EventRecord

number_prefix_validator = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,7}$",
    _("Use 2 to 8 capital letters or digits, starting with a letter (e.g. ACME)."),
)


class Brand(models.Model):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    # Prefix of the human conversation number: ACME-1042.
    number_prefix = models.CharField(
        _("number prefix"), max_length=8, unique=True, validators=[number_prefix_validator]
    )
    default_language = models.CharField(
        _("default language"),
        max_length=8,
        default="es",
        choices=[("es", _("Spanish")), ("en", _("English"))],
    )
    # ISO 3166-1 alpha-2: the region phone numbers without a country code are read in.
    country = models.CharField(_("country"), max_length=2, default="ES")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BrandEvent(EventRecord):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="events")

    class Meta(EventRecord.Meta):
        verbose_name = _("brand event")
        verbose_name_plural = _("brand events")
