"""What can happen to a saved view, as recorded in SavedViewEvent.type."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.permissions import actor_fields
from atiende.inbox.models import SavedView, SavedViewEvent


class SavedViewEventType(models.TextChoices):
    CREATED = "saved_view.created", _("Saved view created")
    DELETED = "saved_view.deleted", _("Saved view deleted")


def record_saved_view_event(
    saved_view: SavedView, type: str, *, actor: Any, payload: dict[str, Any] | None = None
) -> SavedViewEvent:
    return SavedViewEvent.objects.create(
        owner_id=saved_view.owner_id,
        saved_view=saved_view if saved_view.pk else None,
        brand_id=saved_view.brand_id,
        type=type,
        payload=payload or {},
        **actor_fields(actor),
    )
