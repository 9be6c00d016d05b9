"""The email channel's stages of the service chain, in their default order.

parse → deduplicate → guard_loops → identify_customer → thread → detect_language → apply_status
→ acknowledge. Each declares what it reads and writes (see atiende.pipeline.chain); later features
(SLA, routing, triggers) add stages after ``apply_status``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet
from django.utils import timezone

from atiende.brands.models import Brand
from atiende.channels.email import batch_lookups
from atiende.channels.email.guard import guard_loops
from atiende.channels.email.parsing import ParsedMail, parse_mail
from atiende.channels.email.tokens import conversation_id_from_addresses
from atiende.conversations import actions as conversation_actions
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.language import detect_language
from atiende.conversations.models import Conversation, Message
from atiende.core.actors import SystemActor, system_actor
from atiende.core.prepared import PreparedRead
from atiende.customers import crn as crn_scheme
from atiende.customers.actions import IdentityInput, add_customer_identity, create_customer
from atiende.customers.models import Customer
from atiende.pipeline.actions import configured_chain
from atiende.pipeline.chain import (
    InboundContext,
    Stage,
    register_stage,
    set_batch_preparer,
    set_default_order,
)
from atiende.pipeline.models import InboundOutcome

CHANNEL = "email"
_CRN_CANDIDATE = re.compile(r"\b([2-9A-HJKMNP-Z]{3})[- ]?([2-9A-HJKMNP-Z]{4})\b")
# A message dated further from its arrival than this keeps its arrival time (a wrong clock).
_PLAUSIBLE_CLOCK_SKEW = timedelta(days=2)
_SUBJECT_LENGTH = Conversation._meta.get_field("subject").max_length or 255
_EXTERNAL_ID_LENGTH = Message._meta.get_field("external_id").max_length or 512


def _actor(context: InboundContext) -> SystemActor:
    return system_actor(f"channel:{context.channel}")


def parse(context: InboundContext) -> None:
    mail = batch_lookups.prepared_mail(context)
    if mail is None:
        mail = parse_mail(context.raw, max_attachment_bytes=settings.ATIENDE_MAX_ATTACHMENT_BYTES)
    context.notes.extend(mail.defects)
    context.set(mail=mail)


def deduplicate(context: InboundContext) -> None:
    """The same Message-ID already stored as a message of the brand: nothing new arrived.

    Catches what the inbound row's key cannot: a mail received once by IMAP and once again
    through another mailbox of the same brand, or our own reply coming back to us.
    """
    # Lookups by external id say ``external_id <> ''``: the unique index on (brand, channel,
    # external_id) is partial on that condition, and SQLite uses a partial index only when the
    # query states its condition; without it every message of the brand is scanned.
    mail: ParsedMail = context.mail
    if not mail.message_id:
        return
    external_id = mail.message_id[:_EXTERNAL_ID_LENGTH]
    stored = batch_lookups.message_id_stored(context.brand.pk, external_id)
    if stored is None:
        stored = (
            Message.objects.filter(brand=context.brand, channel=CHANNEL, external_id=external_id)
            .exclude(external_id="")
            .exists()
        )
    if stored:
        context.finish(InboundOutcome.DUPLICATE, f"Message-ID {mail.message_id} is already stored")


def identify_customer(context: InboundContext) -> None:
    """The sender's customer: by address; else by a CRN they wrote; else a new customer."""
    mail: ParsedMail = context.mail
    if mail.sender is None or not mail.sender.address:
        context.finish(InboundOutcome.REJECTED, "The message has no sender address to answer")
        return
    known = batch_lookups.sender_customer(context.brand.pk, mail.sender.address)
    if known is not None:
        context.set(customer=known)
        return
    if not mail.text.strip():
        # Refused here, not only when its message is added: an empty mail makes no customer
        # (whose rows a batch would then roll back whole, see atiende.core.batching).
        conversation_actions.require_content(mail.text, mail.html, mail.attachments)
    customer = _customer_named_by_crn(context.brand, f"{mail.subject}\n{mail.text[:2000]}")
    address = IdentityInput("email", mail.sender.address)
    if customer is not None:
        add_customer_identity(customer=customer, identity=address, actor=_actor(context))
        context.notes.append(
            f"{mail.sender.address} added to customer {customer.crn_display} (CRN in the message)"
        )
    else:
        customer = create_customer(
            brand=context.brand,
            actor=_actor(context),
            name=mail.sender.name[:200],
            identities=[IdentityInput("email", mail.sender.address, is_primary=True)],
            # Looked up above, in this transaction: nobody's.
            known_free=[("email", "", mail.sender.address)],
        )
    context.set(customer=customer)


def _customer_named_by_crn(brand: Brand, text: str) -> Customer | None:
    for match in _CRN_CANDIDATE.finditer(text.upper()):
        candidate = match.group(1) + match.group(2)
        if crn_scheme.is_valid(candidate):
            customer = Customer.objects.filter(brand=brand, crn=candidate).first()
            if customer is not None:
                return customer
    return None


def thread(context: InboundContext) -> None:
    """The conversation this message continues, if any; never by subject text alone.

    1. In-Reply-To/References naming a message we stored (unguessable ids: any sender may join);
    2. the conversation number in the subject (SOL-1042), only for that conversation's customer;
    3. a Reply-To token in a recipient address (soporte+c42-k3j9x1@...), which we signed.
    """
    mail: ParsedMail = context.mail
    context.set(
        conversation=_by_headers(context, mail)
        or _by_reference(context, mail)
        or _by_token(context, mail)
    )


def _by_headers(context: InboundContext, mail: ParsedMail) -> Conversation | None:
    # The newest references are the ones that matter; a hostile header may list thousands.
    ids = [
        *mail.in_reply_to[: batch_lookups.IN_REPLY_TO_CONSIDERED],
        *mail.references[-batch_lookups.REFERENCES_CONSIDERED :],
    ]
    ids = [external_id for external_id in ids if external_id]
    if not ids:
        return None
    prepared = batch_lookups.conversation_for_ids(context.brand.pk, ids)
    if prepared is not None:
        return prepared[0]
    rows = _CONVERSATION_OF_NEWEST.rows(brand_id=context.brand.pk, external_ids=ids)
    if not rows:
        return None
    return Conversation.from_db(DEFAULT_DB_ALIAS, batch_lookups.CONVERSATION_FIELDS, rows[0])


def _conversation_of_newest_read(brand_id: int, external_ids: list[str]) -> QuerySet[Any]:
    """The conversation of the newest of the brand's email messages with these Message-IDs."""
    return (
        Message.objects.filter(brand_id=brand_id, channel=CHANNEL, external_id__in=external_ids)
        .exclude(external_id="")
        .order_by("-created_at", "-pk")  # (as the batch's prepared answer picks)
        .values_list(*(f"conversation__{name}" for name in batch_lookups.CONVERSATION_FIELDS))[:1]
    )


# Asked outside a batch, and in one when a message replies to one the same batch stored (the
# batch's prepared answer no longer holds): compiled once per number of ids, as building it cost
# more than answering it.
_CONVERSATION_OF_NEWEST = PreparedRead(
    _conversation_of_newest_read, brand_id=int, external_ids=list[str]
)


def _by_reference(context: InboundContext, mail: ParsedMail) -> Conversation | None:
    prefix = re.escape(context.brand.number_prefix)
    match = re.search(rf"\b{prefix}-(\d{{1,9}})\b", mail.subject, flags=re.IGNORECASE)
    if match is None:
        return None
    return Conversation.objects.filter(
        brand=context.brand, number=int(match.group(1)), customer=context.customer
    ).first()


def _by_token(context: InboundContext, mail: ParsedMail) -> Conversation | None:
    addresses = [address.address for address in (*mail.to, *mail.cc)] + list(mail.delivered_to)
    conversation_id = conversation_id_from_addresses(addresses)
    if conversation_id is None:
        return None
    return Conversation.objects.filter(brand=context.brand, pk=conversation_id).first()


def language(context: InboundContext) -> None:
    context.set(language=detect_language(f"{context.mail.subject}\n{context.mail.text}"))


def apply_status(context: InboundContext) -> None:
    """Add the message: to its conversation (reopening it when it waited or was solved), to a
    follow-up when that conversation is closed, or as a new conversation."""
    mail: ParsedMail = context.mail
    conversation: Conversation | None = context.conversation
    attachments = [
        IncomingAttachment(
            filename=attachment.filename or f"attachment-{index}",
            content=attachment.content,
            declared_content_type=attachment.content_type,
            content_id=attachment.content_id,
        )
        for index, attachment in enumerate(mail.attachments, start=1)
    ]
    # Both fit their columns: a header may be any length, a column may not.
    external_id = mail.message_id[:_EXTERNAL_ID_LENGTH]
    arrival = _arrival(context, mail)
    if conversation is None:
        _created, message = conversation_actions.start_conversation_with_message(
            brand=context.brand,
            customer=context.customer,
            subject=mail.subject[:_SUBJECT_LENGTH] or "(no subject)",
            language=context.language or context.customer.language,
            channel=CHANNEL,
            actor=_actor(context),
            body_text=mail.text,
            body_html=mail.html,
            quoted_text=mail.quoted_text,
            attachments=attachments,
            external_id=external_id,
            created_at=arrival,
        )
        context.conclude(InboundOutcome.CREATED)
    else:
        # The thread stage read the conversation in this transaction (the batch's or the
        # message's own), of this brand.
        conversation.brand = context.brand
        message = conversation_actions.receive_customer_message(
            conversation=conversation,
            channel=CHANNEL,
            actor=_actor(context),
            body_text=mail.text,
            body_html=mail.html,
            quoted_text=mail.quoted_text,
            attachments=attachments,
            external_id=external_id,
            created_at=arrival,
            conversation_is_current=batch_lookups.unwritten_in_batch(conversation),
        )
        context.conclude(
            InboundOutcome.APPENDED
            if message.conversation_id == conversation.pk
            else InboundOutcome.CREATED
        )
    context.set(message=message, conversation=message.conversation)


def _arrival(context: InboundContext, mail: ParsedMail) -> datetime:
    """When the message counts as received: its Date for archive imports, else now."""
    now = timezone.now()
    if (
        context.inbound.source.startswith("import:")
        and mail.date is not None
        and mail.date <= now + _PLAUSIBLE_CLOCK_SKEW
    ):
        return mail.date
    return now


def acknowledge(context: InboundContext) -> None:
    """Answer a new conversation automatically when the brand asks for it (never an automatic
    message: those finished earlier in the chain)."""
    if context.outcome != InboundOutcome.CREATED:
        return
    configured = configured_chain(context.brand.pk, CHANNEL)
    if (
        configured is None
        or not configured.acknowledge_new
        or not configured.acknowledgement_text.strip()
    ):
        return
    conversation: Conversation = context.conversation
    text = configured.acknowledgement_text.replace("{reference}", conversation.reference).replace(
        "{name}", context.customer.display_name
    )
    reply = conversation_actions.reply_to_conversation(
        conversation=conversation, actor=_actor(context), body_text=text, channel=CHANNEL
    )
    context.set(acknowledgement=reply)


STAGES = (
    Stage("parse", parse, reads=frozenset({"raw"}), writes=frozenset({"mail"}), channels=frozenset({CHANNEL})),
    Stage("deduplicate", deduplicate, reads=frozenset({"mail"}), writes=frozenset(), channels=frozenset({CHANNEL})),
    Stage("guard_loops", guard_loops, reads=frozenset({"mail"}), writes=frozenset(), channels=frozenset({CHANNEL})),
    Stage(
        "identify_customer", identify_customer, reads=frozenset({"mail"}), writes=frozenset({"customer"}),
        channels=frozenset({CHANNEL}),
    ),
    Stage(
        "thread", thread, reads=frozenset({"mail", "customer"}), writes=frozenset({"conversation"}),
        channels=frozenset({CHANNEL}),
    ),
    Stage("detect_language", language, reads=frozenset({"mail"}), writes=frozenset({"language"}), channels=frozenset({CHANNEL})),
    Stage(
        "apply_status", apply_status, reads=frozenset({"mail", "customer", "conversation", "language"}),
        writes=frozenset({"message", "conversation"}), channels=frozenset({CHANNEL}),
    ),
    Stage(
        "acknowledge", acknowledge, reads=frozenset({"message", "conversation", "customer"}),
        writes=frozenset({"acknowledgement"}), channels=frozenset({CHANNEL}),
    ),
)  # fmt: skip


def register_email_stages() -> None:
    for stage in STAGES:
        register_stage(stage)
    set_default_order(CHANNEL, [stage.name for stage in STAGES])
    set_batch_preparer(CHANNEL, batch_lookups.prepare_batch)
    batch_lookups.connect_batch_receivers()
