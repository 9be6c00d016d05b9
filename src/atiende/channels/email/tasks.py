"""Delivering outbound email: one task per reply, retried with back-off while the failure may pass.

Every outcome is written through :func:`atiende.conversations.actions.record_delivery`, with the
server's own words: "sent" with its 250 answer, "retrying" with its 4xx answer (or why it could
not be reached), "failed" with its 5xx answer or with why the reply could not be built.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from atiende.channels.email.imap import poll_active_mailboxes, poll_mailbox
from atiende.channels.email.models import ImapMailbox
from atiende.channels.email.outbound import UndeliverableEmail, build_email, one_line, send_email
from atiende.conversations.actions import record_delivery
from atiende.conversations.models import DeliveryState, Direction, Message
from atiende.core.actors import system_actor

logger = logging.getLogger(__name__)

# Waits after each failed attempt: about 22 hours in all, within the day a sending server
# conventionally keeps trying before it bounces (greylisting clears within the first minutes).
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
ATTEMPTS = len(RETRY_DELAYS) + 1
# A delivery claims its message in the cache: across machines with the Redis cache, across the
# threads of one worker with the local-memory cache (the SQLite setup runs one worker). Longer
# than any send takes with EMAIL_TIMEOUT set; it only bounds how long a crashed worker's claim
# blocks a retry.
_CLAIM_SECONDS = 15 * 60
# The first attempt runs right after commit and always moves the message out of "queued"; one
# still queued this long after it was written lost its task (the queue was unreachable at
# commit, or the process died between commit and enqueue).
STUCK_AFTER = timedelta(minutes=10)
ACTOR = system_actor("channel:email")


@dataclass(frozen=True)
class Failure:
    detail: str
    permanent: bool


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return one_line(f"{code} {text}")


def classify(error: BaseException) -> Failure:
    """Whether a send failure may pass by itself, and how to say what happened.

    Answers about this message (its sender, its recipient, its content) follow SMTP: 4xx is
    temporary, 5xx final. Failures of the connection itself (unreachable server, refused
    login, a 5xx greeting, TLS trouble) are retried whatever the code: they affect every reply,
    an administrator can fix them, and failing each reply for good would make agents resend.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        detail = "; ".join(_answer(code, text) for code, text in answers) or str(error)
        return Failure(detail, permanent=any(code >= 500 for code, _text in answers))
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return Failure(_answer(error.smtp_code, error.smtp_error), permanent=error.smtp_code >= 500)
    if isinstance(error, smtplib.SMTPResponseException):
        return Failure(_answer(error.smtp_code, error.smtp_error), permanent=False)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        detail = _("The mail server closed the connection: %(error)s")
        return Failure(
            detail % {"error": one_line(str(error)) or type(error).__name__}, permanent=False
        )
    if isinstance(error, smtplib.SMTPException):
        return Failure(one_line(str(error)) or type(error).__name__, permanent=False)
    if isinstance(error, OSError):  # refused, timed out, DNS, TLS handshake (ssl.SSLError)
        detail = _("Could not reach the mail server: %(error)s")
        return Failure(
            detail % {"error": one_line(str(error)) or type(error).__name__}, permanent=False
        )
    logger.error("unexpected error sending an email", exc_info=error)
    return Failure(one_line(f"{type(error).__name__}: {error}"), permanent=False)


def _record(message: Message, state: DeliveryState, detail: str) -> None:
    record_delivery(message=message, state=state, detail=detail, actor=ACTOR)


def _retry_or_give_up(message: Message, attempt: int, failure: Failure) -> None:
    if failure.permanent:
        logger.warning("email message %s failed: %s", message.pk, failure.detail)
        _record(message, DeliveryState.FAILED, failure.detail)
        return
    if attempt >= ATTEMPTS:
        logger.warning(
            "email message %s failed after %s attempts: %s", message.pk, attempt, failure.detail
        )
        detail = _("%(detail)s (gave up after %(attempts)d attempts)")
        _record(
            message, DeliveryState.FAILED, detail % {"detail": failure.detail, "attempts": attempt}
        )
        return
    delay = RETRY_DELAYS[attempt - 1]
    minutes = int(delay.total_seconds() // 60)
    wait = _("%(n)d min") % {"n": minutes} if minutes < 60 else _("%(n)d h") % {"n": minutes // 60}
    detail = _("%(detail)s (attempt %(attempt)d of %(attempts)d; next try in %(wait)s)") % {
        "detail": failure.detail,
        "attempt": attempt,
        "attempts": ATTEMPTS,
        "wait": wait,
    }
    _record(message, DeliveryState.RETRYING, detail)
    # Scheduled once the "retrying" state is committed, so the next attempt sees it.
    deliver_email.schedule((message.pk, attempt + 1), delay=delay)


def _deliver(message: Message, attempt: int) -> None:
    try:
        email = build_email(message)
    except UndeliverableEmail as problem:
        _retry_or_give_up(message, attempt, Failure(str(problem), permanent=True))
        return
    except Exception as error:
        # Storage or database trouble while reading the reply: keep the reason, try again.
        logger.exception("could not build email message %s", message.pk)
        detail = _("Could not prepare the email: %(error)s") % {"error": one_line(str(error))}
        _retry_or_give_up(message, attempt, Failure(detail, permanent=False))
        return
    try:
        answer = send_email(email)
    except Exception as error:
        _retry_or_give_up(message, attempt, classify(error))
        return
    logger.info("email message %s sent: %s", message.pk, answer)
    _record(message, DeliveryState.SENT, answer)


@db_task()
def deliver_email(message_id: int, attempt: int = 1) -> None:
    """Send outbound email message ``message_id``; a run for a sent or failed message does nothing.

    Precondition: the message was prepared by EmailOutbound (its Message-ID is in external_id).
    """
    # The claim comes before the state is read: a run that read "queued" just before another
    # finished sending would otherwise send a second copy.
    claim = f"atiende.email.delivery.{message_id}"
    if not cache.add(claim, attempt, timeout=_CLAIM_SECONDS):
        logger.info("email message %s is already being delivered", message_id)
        return
    try:
        message = (
            Message.objects.select_related(
                "conversation__brand", "conversation__customer", "author_user"
            )
            .filter(pk=message_id, channel="email", direction=Direction.OUTBOUND)
            .first()
        )
        if message is None:
            logger.warning("email message %s to deliver does not exist", message_id)
            return
        if message.delivery_state in (DeliveryState.SENT, DeliveryState.FAILED):
            return
        _deliver(message, attempt)
    finally:
        cache.delete(claim)


@db_periodic_task(crontab(minute="*/5"))
def deliver_stuck_email() -> None:
    """Every five minutes: queue again the replies whose first delivery task was lost.

    Safe on several machines and next to a late original task: a sent message is skipped and a
    delivery under way is claimed.
    """
    stuck = (
        Message.objects.filter(
            channel="email",
            direction=Direction.OUTBOUND,
            delivery_state=DeliveryState.QUEUED,
            created_at__lt=timezone.now() - STUCK_AFTER,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )
    for message_id in stuck:
        logger.warning("email message %s lost its delivery task; queued again", message_id)
        deliver_email(message_id)


@db_periodic_task(crontab(minute="*"))
def poll_imap_mailboxes() -> None:
    """Every minute: read each active IMAP mailbox once (for installs without `atiende poll-mail`).

    Safe when runs overlap, on one machine or several: each mailbox is claimed with a lease, and
    a mailbox held by another run (or by `atiende poll-mail`) is skipped. Never raises: failures
    are recorded on the mailbox.
    """
    poll_active_mailboxes()


@db_task()
def poll_imap_mailbox(mailbox_id: int) -> None:
    """Read one mailbox now ("Poll now" in the admin); an inactive or deleted one is left alone."""
    mailbox = (
        ImapMailbox.objects.filter(pk=mailbox_id, is_active=True).select_related("brand").first()
    )
    if mailbox is not None:
        poll_mailbox(mailbox)
