"""Saved inbox views and who has read which conversation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.models import Team
from atiende.brands.models import Brand
from atiende.conversations.models import Conversation
from atiende.core.actions import ActionWrittenModel
from atiende.core.events import EventRecord


class SavedView(ActionWrittenModel):
    """A named inbox filter: its owner's alone, or shared with a team (whose members see it)."""

    name = models.CharField(_("name"), max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("shared with team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_views",
    )
    # The brand a shared view belongs to (its team's); for scoping in the admin.
    brand = models.ForeignKey(
        Brand,
        verbose_name=_("brand"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    # The base view ("mine", "unassigned", "teams", "all") it narrows.
    view = models.CharField(_("view"), max_length=16, default="all")
    # atiende.inbox.filters.filter_to_dict: the conditions as they appear in the address.
    filter = models.JSONField(_("filter"), default=dict, blank=True)
    sort = models.CharField(_("sort"), max_length=16, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["position", "name", "id"]
        indexes = [models.Index(fields=["owner", "position"], name="saved_view_owner")]

    def __str__(self) -> str:
        return self.name


class SavedViewEvent(EventRecord):
    """History of saved views: created, deleted. The view id stays when the view is gone."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    saved_view = models.ForeignKey(
        SavedView, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta(EventRecord.Meta):
        verbose_name = _("saved view event")
        verbose_name_plural = _("saved view events")


class ConversationRead(ActionWrittenModel):
    """When a staff user last opened a conversation: newer messages make it unread for them.

    A receipt, not a change to the conversation: it writes no event (opening a page is not
    something that happened to the case), the same way delivery bookkeeping is kept on its rows.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(_("read at"))

    class Meta:
        verbose_name = _("conversation read")
        verbose_name_plural = _("conversations read")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "conversation"], name="one_read_marker_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.conversation_id}"
