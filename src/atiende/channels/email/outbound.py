"""Sending agents' replies by email: the channel's outbound adapter, the MIME message, the transport.

``prepare`` stamps the reply's Message-ID inside the reply's transaction (so a bounce or an answer
that quotes it can be matched even before delivery finishes); ``deliver_later`` queues the
delivery task after commit (atiende.channels.email.tasks), which builds the message with
:func:`build_email` and hands it to :func:`send_email`.
"""

from __future__ import annotations

import logging
import re
import smtplib
import uuid
from dataclasses import dataclass
from email import encoders
from email.mime.base import MIMEBase
from email.utils import formataddr
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.validators import validate_email
from django.utils import translation
from django.utils.translation import gettext as _

from atiende.channels.email.models import EmailAddress
from atiende.channels.email.queries import email_thread_of, recipient_for, sending_address_for
from atiende.channels.email.tokens import reply_to_address
from atiende.conversations.models import Attachment, AuthorKind, Conversation, Direction, Message

logger = logging.getLogger(__name__)

# Mail clients thread on any id they know; the first (the thread's root) and the latest ones are
# enough, and a conversation of hundreds of messages must not produce a header of kilobytes.
MAX_REFERENCES = 20
# Reserved by RFC 2606: used only when a brand has no address yet, a reply that will then fail
# with "no sending address" anyway, but still gets a unique Message-ID.
FALLBACK_DOMAIN = "atiende.invalid"
_REPLY_PREFIX = re.compile(r"^(\s*(re|aw|sv)(\[\d+\])?\s*:)+\s*", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# A Message-ID we can repeat in a header: printable ASCII, no spaces or angle brackets.
_HEADER_SAFE_ID = re.compile(r"[!-;=?-~]{1,250}")


class UndeliverableEmail(Exception):
    """The reply cannot be sent as it stands: trying again later will not help."""


@dataclass(frozen=True)
class EmailOutbound:
    """The email channel's :class:`~atiende.channels.registry.OutboundAdapter`.

    A dataclass without fields, so that two instances compare equal and registering the channel
    twice (the app registry's ``ready`` in tests) is not taken for a conflicting registration.
    """

    def prepare(self, message: Message) -> list[str]:
        address = sending_address_for(message.brand_id)
        domain = address.domain.lower() if address is not None else FALLBACK_DOMAIN
        # Kept without angle brackets, as the inbound parser stores the ids it reads.
        message.external_id = f"{uuid.uuid4().hex}@{domain}"
        return ["external_id"]

    def deliver_later(self, message_id: int) -> None:
        # Imported here: the task module imports this one for build_email and send_email.
        from atiende.channels.email.tasks import deliver_email

        deliver_email(message_id)


def one_line(text: str) -> str:
    """``text`` with line breaks and control characters turned into single spaces.

    Subjects and names come from customers and agents; a CR/LF in a header would either let them
    add headers of their own or (Django refuses it) make the reply undeliverable.
    """
    return " ".join(_CONTROL.sub(" ", text).split())


def reply_subject(conversation: Conversation) -> str:
    """``Re: <subject> [SOL-1042]``: one "Re:", and the reference that threads a reply by subject."""
    subject = _REPLY_PREFIX.sub("", one_line(conversation.subject))
    reference = conversation.reference
    if reference.lower() not in subject.lower():
        subject = f"{subject} [{reference}]" if subject else f"[{reference}]"
    return f"Re: {subject}"


def _sender_name(message: Message, address: EmailAddress) -> str:
    conversation = message.conversation
    brand_name = one_line(address.display_name or conversation.brand.name)
    agent = message.author_user
    if message.author_kind != AuthorKind.AGENT or agent is None:
        return brand_name
    # The customer reads this line, so it speaks the conversation's language.
    with translation.override(conversation.language or conversation.brand.default_language):
        return _("%(agent)s via %(brand)s") % {"agent": one_line(str(agent)), "brand": brand_name}


def _thread_headers(message: Message) -> dict[str, str]:
    thread = [
        (id_, direction)
        for id_, direction in email_thread_of(message)
        if _HEADER_SAFE_ID.fullmatch(id_)
    ]
    headers: dict[str, str] = {}
    inbound = [id_ for id_, direction in thread if direction == Direction.INBOUND]
    if inbound:
        headers["In-Reply-To"] = f"<{inbound[-1]}>"
    ids = [id_ for id_, _direction in thread]
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    if ids:
        headers["References"] = " ".join(f"<{id_}>" for id_ in ids)
    return headers


def _html_document(fragment: str) -> str:
    # body_html is a sanitised fragment; some clients render a bare fragment in a fallback font
    # or guess its charset, so it is sent as a document. Concatenated, never templated.
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{fragment}\n</body></html>\n"
    )


def _attach(email: EmailMultiAlternatives, attachment: Attachment) -> None:
    try:
        with attachment.file.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError as error:
        raise UndeliverableEmail(
            _("The attachment %(name)s is missing from storage.") % {"name": attachment.filename}
        ) from error
    filename = one_line(attachment.filename)
    content_type = attachment.content_type or "application/octet-stream"
    content_id = one_line(attachment.content_id).strip("<>")
    if not content_id:
        email.attach(filename, content, content_type)
        return
    # An inline image the HTML part refers to as cid:...; Django's attach() cannot set Content-ID.
    maintype, _slash, subtype = content_type.partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(content)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "inline", filename=filename)
    part.add_header("Content-ID", f"<{content_id}>")
    email.attach(part)


def build_email(message: Message) -> EmailMultiAlternatives:
    """The MIME message for an outbound email ``message`` (prepared: its external_id is set).

    Raises :class:`UndeliverableEmail` when the brand has no sending address, the customer no
    usable email address, or an attachment's file is gone.
    """
    conversation = message.conversation
    sender = sending_address_for(message.brand_id)
    if sender is None:
        raise UndeliverableEmail(_("This brand has no sending address."))
    recipient = recipient_for(conversation.customer)
    if recipient is None:
        raise UndeliverableEmail(_("The customer has no email address."))
    try:
        validate_email(recipient)
    except ValidationError as error:
        raise UndeliverableEmail(
            _("The customer's email address %(address)s is not valid.") % {"address": recipient}
        ) from error
    headers = {
        "Message-ID": f"<{message.external_id}>",
        **_thread_headers(message),
        "X-Atiende-Conversation": conversation.reference,
    }
    if message.author_kind == AuthorKind.SYSTEM:
        # RFC 3834: other robots (out-of-office, ticket systems) must not answer ours, which
        # is how two helpdesks end up mailing each other forever.
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    email = EmailMultiAlternatives(
        subject=reply_subject(conversation),
        body=message.body_text,
        from_email=formataddr((_sender_name(message, sender), sender.address)),
        to=[recipient],
        reply_to=[reply_to_address(sender, conversation.pk)],
        headers=headers,
    )
    if message.body_html:
        email.attach_alternative(_html_document(message.body_html), "text/html")
    for attachment in message.attachments.all():
        _attach(email, attachment)
    return email


class _AnswerKeepingSMTP(smtplib.SMTP):
    """smtplib throws away the server's answer to the message itself ("250 2.0.0 Ok: queued as
    4Fz1"): the proof of acceptance, and what an administrator quotes to the mail provider."""

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        reply = super().data(msg)
        self.data_reply = reply
        return reply


class _AnswerKeepingSMTPSSL(_AnswerKeepingSMTP, smtplib.SMTP_SSL):
    pass


class AnswerKeepingSMTPBackend(SMTPBackend):
    """Django's SMTP backend, with the same settings, keeping the server's final answer."""

    @property
    def connection_class(self) -> type[smtplib.SMTP_SSL | smtplib.SMTP]:
        return _AnswerKeepingSMTPSSL if self.use_ssl else _AnswerKeepingSMTP

    def final_answer(self) -> str | None:
        reply = getattr(self.connection, "data_reply", None)
        if reply is None:
            return None
        code, text = reply
        return one_line(f"{code} {text.decode('utf-8', errors='replace')}")


def _mail_connection() -> BaseEmailBackend:
    connection = get_connection(fail_silently=False)
    # Exactly Django's SMTP backend (not a subclass someone configured): swap in the variant
    # that keeps the server's answer. Any other EMAIL_BACKEND (file, console...) is used as is.
    if type(connection) is SMTPBackend:
        return AnswerKeepingSMTPBackend(fail_silently=False)
    return connection


def send_email(email: EmailMultiAlternatives) -> str:
    """Hand ``email`` to the configured mail backend; returns what it answered.

    Raises what the backend raises (smtplib's exceptions, OSError) when the message was not
    accepted; the delivery task decides whether that is worth another try.
    """
    connection = _mail_connection()
    connection.open()
    try:
        if connection.send_messages([email]) != 1:
            raise smtplib.SMTPException(_("The mail backend did not accept the message."))
        if isinstance(connection, AnswerKeepingSMTPBackend):
            return connection.final_answer() or _("accepted")
        if isinstance(connection, FileBackend):
            return _("written to the outbox folder (no SMTP server configured)")
        return _("accepted")
    finally:
        try:
            connection.close()
        except Exception:
            # Once the server has answered DATA the outcome is known; a failed QUIT must not
            # turn an accepted message into a retry, which would send it twice.
            logger.warning("closing the mail connection failed", exc_info=True)
