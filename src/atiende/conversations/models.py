"""One conversation holds every message of a case, whatever the channel (CV1–CV3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from atiende.accounts.models import Team
from atiende.brands.models import Brand
from atiende.conversations.lifecycle import UNSOLVED, Status
from atiende.core.actions import ActionWrittenModel
from atiende.core.events import EventRecord
from atiende.core.schema import index_where_set
from atiende.customers.models import Customer


class ConversationStatus(models.TextChoices):
    NEW = Status.NEW.value, _("New")
    OPEN = Status.OPEN.value, _("Open")
    PENDING = Status.PENDING.value, _("Pending")
    ON_HOLD = Status.ON_HOLD.value, _("On hold")
    SOLVED = Status.SOLVED.value, _("Solved")
    CLOSED = Status.CLOSED.value, _("Closed")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Category(models.Model):
    """What a case is about (intent), defined per brand: "Delivery", "Billing", "Portability"..."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="categories")
    name = models.CharField(_("name"), max_length=120)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="category_name_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="tags")
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="tag_name_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.name


class ConversationCounter(ActionWrittenModel):
    """The last human number handed out in a brand; locked while a conversation is numbered."""

    brand = models.OneToOneField(
        Brand, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("conversation counter")
        verbose_name_plural = _("conversation counters")


# The inbox (atiende.inbox.queries) reads every view and sort as an index range scan with a
# LIMIT, never a sort of a brand's conversations. Open work (the unsolved statuses) has partial
# indexes, small because most conversations are solved or closed: one per view's leading column
# (brand for "all", assignee for "mine", team for "my teams", brand with no assignee for
# "unassigned") and per sort. The keyset conditions compare (sort value, id), so id closes each.
# Any status (solved, closed, everything) is sorted by update or creation time only.
# The assignee's and the team's indexes leave out the rows without one: a view asks for
# "assignee = me" or "team = mine", which implies "is not null" to SQLite's and PostgreSQL's
# planners, and a conversation that arrives unassigned and without a team (most mail) then
# writes 12 of these B-trees fewer.
_OPEN_WORK = models.Q(status__in=sorted(status.value for status in UNSOLVED))
_UNASSIGNED_OPEN_WORK = _OPEN_WORK & models.Q(assignee__isnull=True)
_ASSIGNED = models.Q(assignee__isnull=False)
_IN_A_TEAM = models.Q(team__isnull=False)
_INBOX_SORTS = {
    "due": ["sla_due_at", "id"],
    "upd": ["updated_at", "id"],
    "new": ["created_at", "id"],
    "pri": ["priority", "sla_due_at", "id"],
}
INBOX_INDEXES = [
    *(
        models.Index(
            fields=[leading, *sort_fields], condition=condition, name=f"inbox_{prefix}_{sort}"
        )
        for prefix, leading, condition in (
            ("brand", "brand", _OPEN_WORK),
            ("mine", "assignee", _OPEN_WORK & _ASSIGNED),
            ("team", "team", _OPEN_WORK & _IN_A_TEAM),
            ("free", "brand", _UNASSIGNED_OPEN_WORK),
        )
        for sort, sort_fields in _INBOX_SORTS.items()
    ),
    *(
        models.Index(
            fields=[leading, *_INBOX_SORTS[sort]],
            condition=condition,
            name=f"inbox_any_{prefix}_{sort}",
        )
        for prefix, leading, condition in (
            ("brand", "brand", None),
            ("mine", "assignee", _ASSIGNED),
            ("team", "team", _IN_A_TEAM),
        )
        for sort in ("upd", "new")
    ),
]


class Conversation(ActionWrittenModel):
    # No index of their own for brand, assignee and team: each leads composite indexes below
    # (the inbox's), which serve their lookups too; every index is written by every new
    # conversation and most updates (bench/ingest.py).
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    number = models.PositiveIntegerField(_("number"))
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="conversations")
    channel = models.CharField(_("origin channel"), max_length=32)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConversationStatus.choices,
        default=ConversationStatus.NEW,
    )
    priority = models.CharField(
        _("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # (conversation_category_set)
    )
    tags = models.ManyToManyField(
        Tag,
        verbose_name=_("tags"),
        blank=True,
        related_name="conversations",
        through="ConversationTag",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        db_index=False,
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        db_index=False,
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    # A message to a closed conversation starts a follow-up that points back here.
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        db_index=False,  # (conversation_follow_up_of_set)
    )
    # A conversation merged into another (CV5) stays as a pointer to the one that survived.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_conversations",
        db_index=False,  # (conversation_merged_into_set)
    )
    # The earliest running SLA deadline, kept here by the SLA timers so that the inbox can sort
    # and filter a million rows by it through an index (None: nothing is due).
    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    last_message_at = models.DateTimeField(_("last message at"))
    # The latest message's first line, kept here so that lists never fetch message bodies.
    last_message_preview = models.CharField(max_length=160, blank=True)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "number"], name="conversation_number_unique_per_brand"
            ),
        ]
        indexes = [
            models.Index(
                fields=["brand", "status", "-last_message_at"], name="conversation_brand_status"
            ),
            models.Index(
                fields=["assignee", "status", "-last_message_at"], name="conversation_assignee"
            ),
            models.Index(fields=["-last_message_at", "-id"], name="conversation_recent"),
            *INBOX_INDEXES,
            index_where_set("category", "conversation_category_set"),
            index_where_set("follow_up_of", "conversation_follow_up_of_set"),
            index_where_set("merged_into", "conversation_merged_into_set"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}".strip()

    @property
    def reference(self) -> str:
        """The human number, e.g. ACME-1042 (uses the brand, so select it with the conversation)."""
        return f"{self.brand.number_prefix}-{self.number}"

    @property
    def is_unsolved(self) -> bool:
        from atiende.conversations.lifecycle import UNSOLVED

        return Status(self.status) in UNSOLVED


class ConversationTag(ActionWrittenModel):
    """Explicit so that tagging, like every change to a conversation, happens only in actions."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "tag"], name="tag_once_per_conversation"
            )
        ]


class Direction(models.TextChoices):
    INBOUND = "inbound", _("From the customer")
    OUTBOUND = "outbound", _("To the customer")
    INTERNAL = "internal", _("Internal note")


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")


class DeliveryState(models.TextChoices):
    """How far an outbound message got on its channel (empty for inbound messages and notes)."""

    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    RETRYING = "retrying", _("Retrying")
    FAILED = "failed", _("Failed")


class Message(ActionWrittenModel):
    # brand is the conversation's, repeated so that scoping a message needs no join.
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    # (Indexed by message_timeline, which it leads.)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    author_kind = models.CharField(_("author"), max_length=16, choices=AuthorKind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # (message_author_user_set)
    )
    author_customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    channel = models.CharField(_("channel"), max_length=32)
    body_text = models.TextField(_("text"), blank=True)
    # Always sanitised before it is stored (atiende.conversations.html); never rendered raw otherwise.
    body_html = models.TextField(_("HTML"), blank=True)
    # The history a reply quoted (an email's "On ... wrote:" part), kept apart and shown folded.
    quoted_text = models.TextField(_("quoted history"), blank=True)
    # The channel's own id (an email Message-ID, a chat event id): one delivery, one message.
    external_id = models.CharField(_("external id"), max_length=512, blank=True)
    # Set when a merge or split moved this message here: where it came from, so undo can return it.
    moved_from = models.ForeignKey(
        "Conversation",
        verbose_name=_("moved from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # (message_moved_from_set)
    )
    delivery_state = models.CharField(
        _("delivery"), max_length=16, choices=DeliveryState.choices, blank=True
    )
    # The last answer of the channel's server, e.g. "550 5.1.1 mailbox unavailable".
    delivery_detail = models.TextField(_("delivery detail"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="message_external_id_unique_per_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_timeline"),
            index_where_set("author_user", "message_author_user_set"),
            index_where_set("moved_from", "message_moved_from_set"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} · {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Content-addressed under the brand: no user-controlled path segment ever reaches storage.
    return f"attachments/{instance.brand_id}/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(ActionWrittenModel):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    filename = models.CharField(_("file name"), max_length=255)
    # Sniffed from the bytes; what the sender declared is kept apart for diagnosis.
    content_type = models.CharField(_("content type"), max_length=127)
    declared_content_type = models.CharField(_("declared content type"), max_length=127, blank=True)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    # An inline image's Content-ID in an HTML body (cid:...).
    content_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class ConversationEvent(EventRecord):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    # (Indexed by conversation_event_timeline, which it leads.)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="events", db_index=False
    )

    class Meta(EventRecord.Meta):
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="conversation_event_timeline")
        ]
