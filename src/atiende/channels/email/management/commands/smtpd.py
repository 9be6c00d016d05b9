"""``atiende smtpd``: receive mail over SMTP for the brands' addresses."""

from __future__ import annotations

import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from atiende.channels.email.receiver import InboundHandler


class Command(BaseCommand):
    help = "Receive mail over SMTP (for MX or relay delivery) and hand it to the service chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument(
            "--port", type=int, default=2525, help="port to listen on (default 2525)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        controller = Controller(
            InboundHandler(),
            hostname=options["host"],
            port=options["port"],
            data_size_limit=settings.ATIENDE_MAX_MESSAGE_BYTES,
            server_hostname=options["host"],
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        controller.start()
        self.stdout.write(f"Receiving mail on {options['host']}:{options['port']}. Ctrl-C to stop.")
        try:
            stop.wait()
        finally:
            controller.stop()
