"""The loop and auto-reply guard: mail that a machine sent is recorded, never answered.

Out-of-office replies, bounces, read receipts and abuse reports are recognised by the parser
(atiende.channels.email.automation); this stage acts on what it found, and adds two checks that
need the database: mail from one of our own addresses (a loop through a forwarder), and a sender
writing faster than a person can (an auto-responder answering our answers).
"""

from __future__ import annotations

from django.utils import timezone

from atiende.channels.email import batch_lookups
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.parsing import ParsedMail
from atiende.conversations.actions import add_internal_note
from atiende.conversations.models import Message
from atiende.core.actors import SystemActor, system_actor
from atiende.customers.actions import record_identity_failure
from atiende.customers.models import CustomerIdentity
from atiende.pipeline.chain import InboundContext
from atiende.pipeline.models import InboundOutcome

# More messages than this from one address within the window is a machine, not a person.
RATE_LIMIT = 20
RATE_WINDOW = batch_lookups.RATE_WINDOW


def guard_loops(context: InboundContext) -> None:
    mail: ParsedMail = context.mail
    actor = system_actor(f"channel:{context.channel}")
    if mail.automation == "bounce":
        _record_bounce(context, mail, actor)
        context.finish(InboundOutcome.BOUNCE, mail.automation_reason)
        return
    if mail.automation:
        context.finish(InboundOutcome.AUTO_REPLY, mail.automation_reason)
        return
    sender = mail.sender.address if mail.sender else ""
    if sender and _is_own_address(context, sender):
        context.finish(
            InboundOutcome.AUTO_REPLY, f"Sent from our own address {sender}: a mail loop"
        )
        return
    if sender and _writes_too_fast(context, sender):
        context.finish(
            InboundOutcome.AUTO_REPLY,
            f"More than {RATE_LIMIT} messages from {sender} in {int(RATE_WINDOW.total_seconds() // 60)} minutes: "
            "treated as an automatic sender",
        )


def _is_own_address(context: InboundContext, sender: str) -> bool:
    own = batch_lookups.is_own_address(context.brand.pk, sender)
    if own is not None:
        return own
    # Addresses are stored lower-case (EmailAddress.save): an exact match uses the unique index.
    return EmailAddress.objects.filter(address=sender.lower()).exists()


def _writes_too_fast(context: InboundContext, sender: str) -> bool:
    customer_id = batch_lookups.sender_customer_id(context.brand.pk, sender)
    if customer_id is None:
        return False
    since = timezone.now() - RATE_WINDOW
    at_most = batch_lookups.recent_messages_at_most(context.brand.pk, customer_id, since)
    if at_most is not None and at_most < RATE_LIMIT:
        return False  # even counting every message the batch added: a person's pace
    recent = Message.objects.filter(
        brand=context.brand,
        channel="email",
        author_customer_id=customer_id,
        created_at__gte=since,
    )
    return recent[:RATE_LIMIT].count() >= RATE_LIMIT


def _record_bounce(context: InboundContext, mail: ParsedMail, actor: SystemActor) -> None:
    """Mark the failed addresses, and tell the agents on the conversation whose mail bounced."""
    detail = mail.automation_reason or "delivery failed"
    for address in mail.bounced_recipients:
        for identity in CustomerIdentity.objects.filter(
            brand=context.brand, kind="email", network="", value=address
        ):
            record_identity_failure(identity=identity, detail=detail, actor=actor)
    if not mail.bounced_message_id:
        return
    original = (
        Message.objects.filter(
            brand=context.brand, channel="email", external_id=mail.bounced_message_id
        )
        .select_related("conversation")
        .first()
    )
    if original is not None and original.conversation.status != "closed":
        if mail.bounced_recipients:
            recipients = ", ".join(mail.bounced_recipients)
            note = f"Our email to {recipients} could not be delivered: {detail}"
        else:
            # A delay warning (the server is still trying) or a report naming no address.
            note = f"A mail server reported on our email, which has not failed yet: {detail}"
        add_internal_note(conversation=original.conversation, actor=actor, body_text=note)
        context.set(conversation=original.conversation)
