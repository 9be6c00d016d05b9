"""What the email stages look up, read for a whole batch of inbound messages at once.

One message at a time, the stages ask the database a handful of small questions each: is this
Message-ID stored already, which message do its In-Reply-To/References name, is the sender one of
our own addresses, whose identity is it and how much did they write lately. Each question costs
more to build in the ORM than to answer. :func:`prepare_batch` parses the batch's messages and asks
each question once for all of them (a few set-based queries); the stages then take the answers
from here.

An answer is as the database was when the batch began, and a batch writes as it goes: an earlier
message of the same batch may create the identity, the message or the conversation a later one
asks about, or change it. So every row the chain writes during a batch is noted (post_save
receivers, below) and a stage trusts a prepared answer only for rows no message of the batch has
written, asking the database otherwise, exactly as it would without a batch. A key noted stays
noted when its message rolls back: that costs a query, never a wrong answer.

Writes are seen through ``post_save``, so through ``save()`` and ``create()``: what the chain's
actions use. A bulk ``QuerySet.update()`` (merges and splits move rows that way) is not seen by
itself; those actions also save the conversation or customer they change, which is noted, and an
answer naming a noted conversation or customer is asked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, QuerySet
from django.db.models.signals import post_save
from django.utils import timezone

from atiende.channels.email.models import EmailAddress
from atiende.channels.email.parsing import ParsedMail, UnparseableMail, parse_mail
from atiende.conversations.models import Conversation, Message
from atiende.core.batching import batch_memo, in_batch, note_batch_write, written_in_batch
from atiende.core.prepared import PreparedRead
from atiende.customers.models import Customer, CustomerIdentity

CHANNEL = "email"
EXTERNAL_ID_LENGTH = Message._meta.get_field("external_id").max_length or 512
# Of a message's In-Reply-To and References, the ones the thread stage considers (the newest
# references matter; a hostile header may list thousands).
IN_REPLY_TO_CONSIDERED = 10
REFERENCES_CONSIDERED = 50
# Window of the loop guard's rate check (kept in atiende.channels.email.guard, imported there).
RATE_WINDOW = timedelta(minutes=10)
# Values per IN (...) list: well under SQLite's limit on bound parameters.
_CHUNK = 500

CONVERSATION_FIELDS = [f.attname for f in Conversation._meta.concrete_fields]
_CUSTOMER_FIELDS = [f.attname for f in Customer._meta.concrete_fields]
_CUSTOMER_ID = _CUSTOMER_FIELDS.index(Customer._meta.pk.attname)


@dataclass
class Prepared:
    """The answers for one brand's messages of a batch, as the database was when it began."""

    # Parsed mail by inbound row id (parsing is pure: the parse stage takes it from here).
    mails: dict[int, ParsedMail] = field(default_factory=dict)
    # Message-IDs asked about, and of those the stored ones: (created_at, message id, conversation).
    asked_ids: set[str] = field(default_factory=set)
    stored_ids: dict[str, tuple[datetime, int, tuple[Any, ...]]] = field(default_factory=dict)
    # Sender addresses asked about (as written, and lower-case for our own addresses).
    asked_senders: set[str] = field(default_factory=set)
    own_addresses: set[str] = field(default_factory=set)
    # Sender address → (customer id, the customer's row).
    identities: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)
    # Messages each of those customers wrote by email since ``recent_since``.
    recent_since: datetime | None = None
    recent: dict[int, int] = field(default_factory=dict)
    counted_customers: set[int] = field(default_factory=set)


def _memo_key(brand_id: int) -> tuple[str, int]:
    return ("email prepared lookups", brand_id)


def _store_prepared(brand_id: int, prepared: Prepared) -> None:
    batch_memo(_memo_key(brand_id), lambda: prepared)


def prepared_for(brand_id: int) -> Prepared | None:
    return batch_memo(_memo_key(brand_id), lambda: None) if in_batch() else None


def prepare_batch(rows: Sequence[Any]) -> None:
    """The batch preparer of the email channel (see atiende.pipeline.chain.BatchPreparer)."""
    by_brand: dict[int, list[Any]] = {}
    for inbound in rows:
        by_brand.setdefault(inbound.brand_id, []).append(inbound)
    for brand_id, brand_rows in by_brand.items():
        prepared = _prepare_brand(brand_id, brand_rows)
        # Stored only once complete: a failure above leaves the stages to query on their own.
        _store_prepared(brand_id, prepared)


def _prepare_brand(brand_id: int, rows: Sequence[Any]) -> Prepared:
    prepared = Prepared()
    for inbound in rows:
        try:
            prepared.mails[inbound.pk] = parse_mail(
                bytes(inbound.raw), max_attachment_bytes=settings.ATIENDE_MAX_ATTACHMENT_BYTES
            )
        except UnparseableMail:
            continue  # the parse stage meets it again, in that message's own savepoint
    for mail in prepared.mails.values():
        if mail.message_id:
            prepared.asked_ids.add(mail.message_id[:EXTERNAL_ID_LENGTH])
        prepared.asked_ids.update(mail.in_reply_to[:IN_REPLY_TO_CONSIDERED])
        prepared.asked_ids.update(mail.references[-REFERENCES_CONSIDERED:])
        if mail.sender is not None and mail.sender.address:
            prepared.asked_senders.add(mail.sender.address)
    prepared.asked_ids.discard("")
    _read_stored_ids(brand_id, prepared)
    _read_senders(brand_id, prepared)
    return prepared


_Key = TypeVar("_Key", int, str)


def _chunks(values: Iterable[_Key]) -> list[list[_Key]]:
    ordered = sorted(values)
    return [ordered[start : start + _CHUNK] for start in range(0, len(ordered), _CHUNK)]


# The batch's IN (...) reads, compiled a few times per process (a list is padded to a power of
# two, core.prepared) instead of built and compiled by the ORM for every batch, value by value
# (bench/README.md, 60c0f87).


def _stored_ids_read(brand_id: int, ids: list[str]) -> QuerySet[Any]:
    # ``external_id <> ''`` lets SQLite use the partial unique index (see the stages).
    return (
        Message.objects.filter(brand_id=brand_id, channel=CHANNEL, external_id__in=ids)
        .exclude(external_id="")
        .order_by()
        .values_list(
            "external_id",
            "created_at",
            "pk",
            *(f"conversation__{name}" for name in CONVERSATION_FIELDS),
        )
    )


def _own_addresses_read(addresses: list[str]) -> QuerySet[Any]:
    return EmailAddress.objects.filter(address__in=addresses).order_by().values_list("address")


def _identities_read(brand_id: int, values: list[str]) -> QuerySet[Any]:
    return (
        CustomerIdentity.objects.filter(
            brand_id=brand_id, kind="email", network="", value__in=values
        )
        .order_by()
        .values_list("value", "customer_id", *(f"customer__{name}" for name in _CUSTOMER_FIELDS))
    )


def _recent_counts_read(brand_id: int, customer_ids: list[int], since: datetime) -> QuerySet[Any]:
    return (
        Message.objects.filter(
            brand_id=brand_id,
            channel=CHANNEL,
            author_customer_id__in=customer_ids,
            created_at__gte=since,
        )
        .order_by()
        .values_list("author_customer_id")
        .annotate(count=Count("pk"))
    )


_STORED_IDS = PreparedRead(_stored_ids_read, brand_id=int, ids=list[str])
_RECENT_COUNTS = PreparedRead(_recent_counts_read, brand_id=int, customer_ids=list, since=datetime)
_OWN_ADDRESSES = PreparedRead(_own_addresses_read, addresses=list[str])
_IDENTITIES = PreparedRead(_identities_read, brand_id=int, values=list[str])


def _read_stored_ids(brand_id: int, prepared: Prepared) -> None:
    for chunk in _chunks(prepared.asked_ids):
        for external_id, created_at, pk, *conversation in _STORED_IDS.rows(
            brand_id=brand_id, ids=chunk
        ):
            prepared.stored_ids[external_id] = (created_at, pk, tuple(conversation))


def _read_senders(brand_id: int, prepared: Prepared) -> None:
    lowered = {address.lower() for address in prepared.asked_senders}
    for chunk in _chunks(lowered):
        prepared.own_addresses.update(
            address for (address,) in _OWN_ADDRESSES.rows(addresses=chunk)
        )
    for chunk in _chunks(prepared.asked_senders):
        for value, customer_id, *customer in _IDENTITIES.rows(brand_id=brand_id, values=chunk):
            prepared.identities[value] = (customer_id, tuple(customer))
    # Counted from the start of the window as it is now: a later check's window starts later,
    # so this count (plus what the batch adds) is never below the one it would find.
    prepared.recent_since = timezone.now() - RATE_WINDOW
    prepared.counted_customers = {customer_id for customer_id, _row in prepared.identities.values()}
    for customer_ids in _chunks(prepared.counted_customers):
        prepared.recent.update(
            _RECENT_COUNTS.rows(
                brand_id=brand_id, customer_ids=customer_ids, since=prepared.recent_since
            )
        )


# --- answers, each None when the database must be asked ------------------------------------


def prepared_mail(context: Any) -> ParsedMail | None:
    prepared = prepared_for(context.brand.pk)
    return None if prepared is None else prepared.mails.pop(context.inbound.pk, None)


def message_id_stored(brand_id: int, external_id: str) -> bool | None:
    prepared = prepared_for(brand_id)
    if (
        prepared is None
        or external_id not in prepared.asked_ids
        or written_in_batch(("message", brand_id, external_id))
    ):
        return None
    return external_id in prepared.stored_ids


def conversation_for_ids(brand_id: int, ids: Sequence[str]) -> tuple[Conversation | None] | None:
    """The conversation of the newest stored message among ``ids``, as a 1-tuple; None: ask."""
    prepared = prepared_for(brand_id)
    if prepared is None or any(
        external_id not in prepared.asked_ids
        or written_in_batch(("message", brand_id, external_id))
        for external_id in ids
    ):
        return None
    found = [
        prepared.stored_ids[external_id]
        for external_id in ids
        if external_id in prepared.stored_ids
    ]
    if not found:
        return (None,)
    _created_at, _pk, row = max(found, key=lambda stored: (stored[0], stored[1]))
    conversation_id = row[CONVERSATION_FIELDS.index("id")]
    if written_in_batch(("conversation", conversation_id)):
        return None
    return (Conversation.from_db(DEFAULT_DB_ALIAS, CONVERSATION_FIELDS, row),)


def unwritten_in_batch(conversation: Conversation) -> bool:
    """Whether no message of the running batch has written ``conversation`` so far: a copy the
    chain read in the batch's transaction then still holds. False outside a batch, where no
    write is noted."""
    return in_batch() and not written_in_batch(("conversation", conversation.pk))


def is_own_address(brand_id: int, sender: str) -> bool | None:
    """``sender`` is one of our addresses (of any brand); None: ask. The chain writes none."""
    prepared = prepared_for(brand_id)
    if prepared is None or sender not in prepared.asked_senders:
        return None
    return sender.lower() in prepared.own_addresses


def sender_customer(brand_id: int, sender: str) -> Customer | None:
    """The customer whose email identity ``sender`` is, if any: as prepared for the batch when
    that answer still holds, else from the database (all four fields of the identity's unique
    index, one index search). The identify stage asks it; the loop guard only its id
    (:func:`sender_customer_id`)."""
    row = _sender_customer_row(brand_id, sender)
    return None if row is None else Customer.from_db(DEFAULT_DB_ALIAS, _CUSTOMER_FIELDS, row)


def sender_customer_id(brand_id: int, sender: str) -> int | None:
    """The id of :func:`sender_customer`'s customer, without making the customer."""
    row = _sender_customer_row(brand_id, sender)
    return None if row is None else row[_CUSTOMER_ID]


def _sender_customer_row(brand_id: int, sender: str) -> tuple[Any, ...] | None:
    """The row (``_CUSTOMER_FIELDS``) of the customer whose email identity ``sender`` is."""
    prepared = _prepared_sender_row(brand_id, sender)
    if prepared is not None:
        return prepared[0]
    rows = _SENDER_CUSTOMER.rows(brand_id=brand_id, sender=sender)
    return rows[0] if rows else None


def _sender_customer_read(brand_id: int, sender: str) -> QuerySet[Any]:
    return CustomerIdentity.objects.filter(
        brand_id=brand_id, kind="email", network="", value=sender
    ).values_list(*(f"customer__{name}" for name in _CUSTOMER_FIELDS))


# Asked whenever the batch's own writes make the prepared answer stale (a sender writing twice
# in one batch): compiled once, as building it cost the ORM more than answering it.
_SENDER_CUSTOMER = PreparedRead(_sender_customer_read, brand_id=int, sender=str)


def _prepared_sender_row(brand_id: int, sender: str) -> tuple[tuple[Any, ...] | None] | None:
    """The row (``_CUSTOMER_FIELDS``) of the customer whose email identity ``sender`` is, as a
    1-tuple (None inside: nobody's); None: ask the database."""
    prepared = prepared_for(brand_id)
    if (
        prepared is None
        or sender not in prepared.asked_senders
        or written_in_batch(("identity", brand_id, sender))
    ):
        return None
    known = prepared.identities.get(sender)
    if known is None:
        return (None,)
    customer_id, row = known
    if written_in_batch(("customer", customer_id)):
        return None
    return (row,)


def recent_messages_at_most(brand_id: int, customer_id: int, since: datetime) -> int | None:
    """An upper bound of the customer's email messages since ``since``; None: ask."""
    prepared = prepared_for(brand_id)
    if prepared is None or prepared.recent_since is None or since < prepared.recent_since:
        return None
    if written_in_batch(("customer created", customer_id)):
        # Made during the batch (a new sender's first message): nothing of theirs came before.
        return _authored().get(customer_id, 0)
    if customer_id not in prepared.counted_customers:
        return None
    added = _authored().get(customer_id, 0)
    return prepared.recent.get(customer_id, 0) + added


_AUTHORED = ("email prepared lookups", "messages authored in this batch")


def _authored() -> dict[int, int]:
    """Customer id → messages the batch added with that customer as author."""
    authored: dict[int, int] = batch_memo(_AUTHORED, dict)
    return authored


# --- noting the batch's writes ------------------------------------------------------------


def _message_saved(sender: Any, instance: Message, created: bool, **kwargs: Any) -> None:
    if not in_batch():
        return
    if instance.external_id:
        note_batch_write(("message", instance.brand_id, instance.external_id))
    if created and instance.author_customer_id is not None:
        authored = _authored()
        authored[instance.author_customer_id] = authored.get(instance.author_customer_id, 0) + 1


def _identity_saved(sender: Any, instance: CustomerIdentity, **kwargs: Any) -> None:
    if in_batch():
        note_batch_write(("identity", instance.brand_id, instance.value))


def _conversation_saved(sender: Any, instance: Conversation, **kwargs: Any) -> None:
    if in_batch():
        note_batch_write(("conversation", instance.pk))


def _customer_saved(sender: Any, instance: Customer, created: bool, **kwargs: Any) -> None:
    if in_batch():
        note_batch_write(("customer", instance.pk))
        if created:
            note_batch_write(("customer created", instance.pk))


def connect_batch_receivers() -> None:
    post_save.connect(_message_saved, sender=Message, dispatch_uid="email_batch_message")
    post_save.connect(_identity_saved, sender=CustomerIdentity, dispatch_uid="email_batch_identity")
    post_save.connect(
        _conversation_saved, sender=Conversation, dispatch_uid="email_batch_conversation"
    )
    post_save.connect(_customer_saved, sender=Customer, dispatch_uid="email_batch_customer")
