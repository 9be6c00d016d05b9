"""``atiende poll-mail``: read the brands' IMAP mailboxes into the service chain.

``--once`` reads each active mailbox once and prints what came of it. Otherwise it keeps reading:
with a single active mailbox whose server offers IDLE, mail is read as it arrives; else every
mailbox is polled every ``--interval`` seconds. SIGTERM and Ctrl-C stop it cleanly.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from atiende.channels.email.imap import PollResult, poll_active_mailboxes, watch_mailboxes
from atiende.channels.email.models import ImapMailbox


def describe(mailbox: ImapMailbox, result: PollResult) -> str:
    if result.busy:
        return f"{mailbox}: skipped, another poller is reading it"
    counts = f"{result.stored} new, {result.duplicates} duplicates, {result.skipped} skipped as too large"
    if result.renumbered:
        counts += " (the folder was renumbered and read again from the start)"
    if result.errors:
        return f"{mailbox}: failed after {counts}: {result.error}"
    return f"{mailbox}: {counts}"


class Command(BaseCommand):
    help = (
        "Read the brands' IMAP mailboxes into the service chain: once, or continuously "
        "(with IDLE where the server offers it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="read each mailbox once, print a summary and exit"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=60.0,
            help="seconds between polls when IDLE is not used (default 60)",
        )
        parser.add_argument(
            "--stop-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="stop after this many seconds (for tests and one-off runs)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self._once()
            return
        stop = threading.Event()
        previous = {}
        # Signal handlers can only be set in the main thread (tests run the command in another).
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
        timer = None
        if options["stop_after"] is not None:
            timer = threading.Timer(options["stop_after"], stop.set)
            timer.daemon = True
            timer.start()
        interval = max(options["interval"], 1.0)
        self.stdout.write(
            f"Reading mail every {interval:g} s, or as it arrives where IDLE is offered. "
            "Ctrl-C to stop."
        )
        try:
            watch_mailboxes(stop=stop, interval=interval, report=self._report)
        finally:
            if timer is not None:
                timer.cancel()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Stopped.")

    def _report(self, mailbox: ImapMailbox, result: PollResult) -> None:
        if result.fetched or result.skipped or result.errors or result.busy:
            self.stdout.write(describe(mailbox, result))

    def _once(self) -> None:
        results = poll_active_mailboxes()
        for mailbox, result in results:
            self.stdout.write(describe(mailbox, result))
        failed = sum(1 for _mailbox, result in results if result.errors)
        self.stdout.write(
            f"Read {len(results)} {'mailbox' if len(results) == 1 else 'mailboxes'}: "
            f"{sum(result.stored for _mailbox, result in results)} new, "
            f"{sum(result.duplicates for _mailbox, result in results)} duplicates, "
            f"{sum(result.skipped for _mailbox, result in results)} skipped, "
            f"{failed} failed."
        )
