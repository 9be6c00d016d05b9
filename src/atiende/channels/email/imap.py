"""Reading the brands' mailboxes by IMAP: the fourth way mail comes in.

For the messages above the mailbox's ``last_uid``, oldest first, a batch at a time:

1. their bytes are fetched with BODY.PEEK[] from a folder opened read-only (nothing is marked
   seen);
2. :func:`~atiende.channels.email.actions.store_imap_messages` stores them and moves ``last_uid``
   past the last in one transaction: both commit or neither does.

A crash before the commit leaves ``last_uid`` before the messages, so the next poll fetches them
again. When storing the batch together fails, its messages are stored one at a time, each
committed before ``last_uid`` moves past it in a small transaction of its own, so the poll stops
at the one that cannot be stored and says which; a crash between those two commits leaves
``last_uid`` before a stored message, and the dedupe key (the Message-ID, else the bytes' hash)
finds the stored row: a duplicate, never a second conversation. When the folder's UIDVALIDITY
changes, the remembered UIDs mean nothing and reading starts over at UID 0, for the same reason
without duplicates.

A poller holds the mailbox with a lease (``polling_until``) so that overlapping runs do not read it
at once; the lease only saves work, since the order above stays correct when two pollers race.
Failures to connect, log in or read are recorded on the mailbox in words, never raised.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from atiende.channels.email.actions import (
    advance_imap_uid,
    claim_imap_mailbox,
    hold_imap_mailbox,
    record_imap_failure,
    record_imap_poll,
    release_imap_mailbox,
    skip_imap_message,
    start_imap_folder,
    store_imap_messages,
)
from atiende.channels.email.intake import receive_email
from atiende.channels.email.models import ImapMailbox, ImapSecurity
from atiende.core.actors import system_actor
from atiende.pipeline.actions import queue_inbound_batch

logger = logging.getLogger(__name__)

ACTOR = system_actor("channel:email")
# UIDs whose sizes are asked for in one FETCH; bodies follow in batches of at most BATCH_BYTES,
# so a chunk of large messages is never held in memory all at once.
CHUNK = 100
BATCH_BYTES = 25 * 1024 * 1024
# Seconds a connection may wait on the server before the poll fails.
TIMEOUT = 60
# How long a poller holds a mailbox without renewing; each stored message renews it, and a
# crashed poller's hold lapses after this long.
LEASE = timedelta(minutes=10)
# Servers may end an IDLE after 30 minutes (RFC 2177): it is renewed before that.
IDLE_SECONDS = 25 * 60
# Transport failures and the server's NO/BAD/BYE answers; ssl.SSLError and timeouts are OSErrors.
_IMAP_FAILURES = (OSError, imaplib.IMAP4.error)


@dataclass
class PollResult:
    mailbox_id: int
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0
    # Why the poll failed or stopped early, in words.
    error: str = ""
    # Another poller held the mailbox: nothing was read this time.
    busy: bool = False
    # The folder's UIDVALIDITY changed; it was read again from UID 0.
    renumbered: bool = False
    # The connection failed while reading: the next read needs a new one.
    disconnected: bool = False
    # Stored in this batch, not yet handed to a worker (they go as one batch task).
    waiting: list[int] = field(default_factory=list)


class MailboxUnavailable(Exception):
    """Connecting, logging in or opening the folder failed; the message says why in words."""


def _words(error: BaseException) -> str:
    """An exception as one readable line (imaplib hands the server's answer over as bytes)."""
    text = str(error)
    if text.startswith(("b'", 'b"')) and text.endswith(text[1]):
        text = text[2:-1]
    return " ".join(text.split()) or type(error).__name__


def _until() -> datetime:
    return timezone.now() + LEASE


def open_mailbox(mailbox: ImapMailbox) -> tuple[IMAPClient, int]:
    """A logged-in connection with the folder selected read-only, and the folder's UIDVALIDITY."""
    server = f"{mailbox.host}:{mailbox.port}"
    context = ssl.create_default_context()
    try:
        use_ssl = mailbox.security == ImapSecurity.SSL
        client = IMAPClient(
            mailbox.host, port=mailbox.port, ssl=use_ssl, ssl_context=context, timeout=TIMEOUT
        )
    except _IMAP_FAILURES as error:
        raise MailboxUnavailable(
            _("Could not reach the mail server %(server)s: %(error)s")
            % {"server": server, "error": _words(error)}
        ) from error
    if mailbox.security == ImapSecurity.STARTTLS:
        try:
            client.starttls(context)
        except _IMAP_FAILURES as error:
            close(client)
            raise MailboxUnavailable(
                _(
                    "The mail server %(server)s did not accept a secure connection (STARTTLS): %(error)s"
                )
                % {"server": server, "error": _words(error)}
            ) from error
    try:
        client.login(mailbox.username, mailbox.password)
    except LoginError as error:
        close(client)
        raise MailboxUnavailable(
            _("The mail server %(server)s refused the user name or password of %(user)s: %(error)s")
            % {"server": server, "user": mailbox.username, "error": _words(error)}
        ) from error
    except _IMAP_FAILURES as error:
        close(client)
        raise MailboxUnavailable(
            _("Could not log in to the mail server %(server)s: %(error)s")
            % {"server": server, "error": _words(error)}
        ) from error
    try:
        selected = client.select_folder(mailbox.folder, readonly=True)
        return client, int(selected[b"UIDVALIDITY"])
    except (*_IMAP_FAILURES, KeyError) as error:
        close(client)
        raise MailboxUnavailable(
            _("Could not open the folder %(folder)s on %(server)s: %(error)s")
            % {"folder": mailbox.folder, "server": server, "error": _words(error)}
        ) from error


def close(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except Exception:
        # Already broken or closed: nothing was pending, so nothing is lost.
        try:
            client.shutdown()
        except Exception:
            logger.debug("IMAP connection already closed", exc_info=True)


def _batches(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """Consecutive UIDs whose bodies together stay within BATCH_BYTES (at least one each)."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0) if sizes.get(uid, 0) <= limit else 0
        if batch and total + size > BATCH_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def read_new_mail(
    client: IMAPClient, mailbox: ImapMailbox, uidvalidity: int, result: PollResult
) -> None:
    """Store every message above ``last_uid`` in UID order; stop at the first one not stored.

    Precondition: ``client`` has the mailbox's folder selected and this poller holds the lease.
    """
    if start_imap_folder(mailbox=mailbox, uidvalidity=uidvalidity, actor=ACTOR):
        result.renumbered = True
    # "UID n:*" always matches the folder's last message, even when its UID is below n.
    found = client.search(["UID", f"{mailbox.last_uid + 1}:*"])
    uids = sorted(uid for uid in found if uid > mailbox.last_uid)
    limit = settings.ATIENDE_MAX_MESSAGE_BYTES
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start : start + CHUNK]
        sizes = {
            uid: int(data.get(b"RFC822.SIZE", 0))
            for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
        }
        for batch in _batches(chunk, sizes, limit):
            wanted = [uid for uid in batch if uid in sizes and sizes[uid] <= limit]
            bodies = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
            try:
                if not _take_batch(mailbox, batch, sizes, bodies, limit, result):
                    return
            finally:
                # Processed as one batch by a worker. Were this process to die first, the
                # rows are committed as received: a starting worker or the sweep takes them.
                queue_inbound_batch(result.waiting)
                result.waiting = []


def _take_batch(
    mailbox: ImapMailbox,
    batch: list[int],
    sizes: dict[int, int],
    bodies: dict[int, Any],
    limit: int,
    result: PollResult,
) -> bool:
    """Store a fetched batch, in UID order: the runs of readable messages together, the others
    (gone, too large) each on its own; False where a message could not be stored."""
    run: list[tuple[int, bytes]] = []
    for uid in batch:
        raw = bodies.get(uid, {}).get(b"BODY[]")
        size = sizes.get(uid)
        if size is not None and raw is not None and len(raw) <= limit:
            run.append((uid, raw))
            continue
        if not _take_together(mailbox, run, limit, result):
            return False
        run = []
        if not _take(mailbox, uid, size, raw, limit, result):
            return False
    return _take_together(mailbox, run, limit, result)


def _take_together(
    mailbox: ImapMailbox, run: list[tuple[int, bytes]], limit: int, result: PollResult
) -> bool:
    """Store fetched messages in one transaction with the move of ``last_uid``; if that fails,
    one at a time (:func:`_take`), so that the one that cannot be stored is named and the ones
    before it are kept."""
    if not run:
        return True
    try:
        receipts = store_imap_messages(mailbox=mailbox, messages=run, actor=ACTOR, until=_until())
    except Exception:
        logger.warning(
            "IMAP mailbox %s (%s): storing %d messages together failed; one at a time",
            mailbox.pk, mailbox, len(run), exc_info=True,
        )  # fmt: skip
        return all(_take(mailbox, uid, len(raw), raw, limit, result) for uid, raw in run)
    result.fetched += len(run)
    for receipt in receipts:
        if receipt.created:
            result.stored += 1
            result.waiting.append(receipt.inbound.pk)
        else:
            result.duplicates += 1
    return True


def _take(
    mailbox: ImapMailbox,
    uid: int,
    size: int | None,
    raw: bytes | None,
    limit: int,
    result: PollResult,
) -> bool:
    """Store one fetched message, then move ``last_uid`` past it; False if it was not stored."""
    if size is None or (raw is None and size <= limit):
        # Expunged between the search and the fetch: there is nothing left to read.
        logger.info("IMAP mailbox %s: UID %s disappeared before it was read", mailbox.pk, uid)
        advance_imap_uid(mailbox=mailbox, uid=uid, actor=ACTOR, until=_until())
        return True
    if raw is None or len(raw) > limit:
        skip_imap_message(
            mailbox=mailbox,
            uid=uid,
            size=max(size, len(raw or b"")),
            limit=limit,
            actor=ACTOR,
            until=_until(),
        )
        result.skipped += 1
        return True
    result.fetched += 1
    try:
        receipt = receive_email(
            brand=mailbox.brand, raw=raw, source=f"imap:{mailbox.pk}", process=False
        )
    except Exception as error:
        logger.exception("IMAP mailbox %s (%s): could not store UID %s", mailbox.pk, mailbox, uid)
        result.errors += 1
        result.error = _("Could not store the message with UID %(uid)d: %(error)s") % {
            "uid": uid,
            "error": _words(error),
        }
        return False
    if receipt.created:
        result.stored += 1
        result.waiting.append(receipt.inbound.pk)
    else:
        result.duplicates += 1
    # Only now, after the commit: a crash before this line makes the next poll read the
    # message again and find it stored.
    advance_imap_uid(mailbox=mailbox, uid=uid, actor=ACTOR, until=_until())
    return True


def _fail(mailbox: ImapMailbox, result: PollResult, error: str) -> None:
    logger.warning("IMAP mailbox %s (%s): %s", mailbox.pk, mailbox, error)
    result.errors = max(result.errors, 1)
    result.error = error
    record_imap_failure(mailbox=mailbox, error=error, actor=ACTOR)


def _lost_connection(mailbox: ImapMailbox, result: PollResult, error: BaseException) -> None:
    result.disconnected = True
    _fail(
        mailbox,
        result,
        _("The connection to %(server)s failed while reading mail: %(error)s")
        % {"server": f"{mailbox.host}:{mailbox.port}", "error": _words(error)},
    )


def _read_connected(client: IMAPClient, mailbox: ImapMailbox, uidvalidity: int) -> PollResult:
    result = PollResult(mailbox.pk)
    try:
        read_new_mail(client, mailbox, uidvalidity, result)
    except _IMAP_FAILURES as error:
        _lost_connection(mailbox, result, error)
        return result
    if result.errors:
        _fail(mailbox, result, result.error)
    else:
        record_imap_poll(mailbox=mailbox, actor=ACTOR)
    return result


def poll_mailbox(mailbox: ImapMailbox) -> PollResult:
    """Read what is new in the mailbox once. Raises for nothing but a crash of the process."""
    if not claim_imap_mailbox(mailbox=mailbox, until=_until(), actor=ACTOR):
        return PollResult(mailbox.pk, busy=True)
    client = None
    try:
        client, uidvalidity = open_mailbox(mailbox)
        return _read_connected(client, mailbox, uidvalidity)
    except MailboxUnavailable as problem:
        result = PollResult(mailbox.pk)
        _fail(mailbox, result, str(problem))
        return result
    except Exception as error:
        logger.exception("IMAP mailbox %s (%s): unexpected error", mailbox.pk, mailbox)
        result = PollResult(mailbox.pk)
        _fail(mailbox, result, _("Unexpected error: %(error)s") % {"error": _words(error)})
        return result
    finally:
        close(client)
        release_imap_mailbox(mailbox=mailbox, actor=ACTOR)


def active_mailboxes() -> list[ImapMailbox]:
    return list(ImapMailbox.objects.filter(is_active=True).select_related("brand").order_by("pk"))


def poll_active_mailboxes() -> list[tuple[ImapMailbox, PollResult]]:
    """Each active mailbox once, in turn; one mailbox's trouble never stops the others."""
    results = []
    for mailbox in active_mailboxes():
        try:
            results.append((mailbox, poll_mailbox(mailbox)))
        except Exception:
            logger.exception("IMAP mailbox %s (%s): poll failed", mailbox.pk, mailbox)
    return results


Report = Callable[[ImapMailbox, PollResult], None]


def _connection_settings(mailbox: ImapMailbox) -> tuple[Any, ...]:
    return (mailbox.host, mailbox.port, mailbox.security, mailbox.username, mailbox.password)


def _still_alone(mailbox: ImapMailbox) -> bool:
    """Whether the mailbox is still the only active one, with the settings it was opened with."""
    active = list(ImapMailbox.objects.filter(is_active=True))
    return (
        len(active) == 1
        and active[0].pk == mailbox.pk
        and _connection_settings(active[0]) == _connection_settings(mailbox)
        and active[0].folder == mailbox.folder
    )


def _wait_for_news(client: IMAPClient, stop: threading.Event, seconds: float) -> None:
    """IDLE until the server announces new mail, ``stop`` is set or ``seconds`` have passed."""
    client.idle()
    try:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            # One-second waits keep a stop (SIGTERM, Ctrl-C) prompt.
            responses = client.idle_check(timeout=1)
            if any(len(item) > 1 and item[1] == b"EXISTS" for item in responses):
                return
    finally:
        client.idle_done()


def watch_with_idle(
    mailbox: ImapMailbox, *, stop: threading.Event, interval: float, report: Report
) -> bool:
    """Keep one connection open and read new mail as the server announces it (IDLE).

    Reads at least every ``interval`` seconds as well (a missed notification costs no more), and
    returns when the mailboxes' configuration changes, after a failure, or on ``stop``. Returns
    False, having read nothing, when the server does not offer IDLE.
    """
    hold = max(LEASE, timedelta(seconds=interval * 2))
    if not claim_imap_mailbox(mailbox=mailbox, until=timezone.now() + hold, actor=ACTOR):
        report(mailbox, PollResult(mailbox.pk, busy=True))
        stop.wait(interval)
        return True
    client = None
    try:
        client, uidvalidity = open_mailbox(mailbox)
        if b"IDLE" not in client.capabilities():
            return False
        while not stop.is_set():
            result = _read_connected(client, mailbox, uidvalidity)
            report(mailbox, result)
            if result.disconnected:
                stop.wait(interval)
                return True
            close_old_connections()
            if not _still_alone(mailbox):
                return True
            hold_imap_mailbox(mailbox=mailbox, until=timezone.now() + hold, actor=ACTOR)
            _wait_for_news(client, stop, min(interval, IDLE_SECONDS))
    except MailboxUnavailable as problem:
        result = PollResult(mailbox.pk)
        _fail(mailbox, result, str(problem))
        report(mailbox, result)
        stop.wait(interval)
    except _IMAP_FAILURES as error:
        # The IDLE exchange itself failed (the server closed the connection, say).
        result = PollResult(mailbox.pk)
        _lost_connection(mailbox, result, error)
        report(mailbox, result)
        stop.wait(interval)
    finally:
        close(client)
        release_imap_mailbox(mailbox=mailbox, actor=ACTOR)
    return True


def watch_mailboxes(*, stop: threading.Event, interval: float, report: Report) -> None:
    """Read the active mailboxes until ``stop`` is set.

    With a single active mailbox whose server offers IDLE, new mail is read as it arrives;
    otherwise every mailbox is polled every ``interval`` seconds.
    """
    without_idle: set[int] = set()
    while not stop.is_set():
        close_old_connections()
        mailboxes = active_mailboxes()
        if len(mailboxes) == 1 and mailboxes[0].pk not in without_idle:
            try:
                if watch_with_idle(mailboxes[0], stop=stop, interval=interval, report=report):
                    continue
            except Exception:
                logger.exception("IMAP mailbox %s: watching failed", mailboxes[0].pk)
                stop.wait(interval)
                continue
            without_idle.add(mailboxes[0].pk)
        for mailbox, result in poll_active_mailboxes():
            report(mailbox, result)
        stop.wait(interval)
