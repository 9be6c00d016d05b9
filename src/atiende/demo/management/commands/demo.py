"""``atiende demo``: a complete demo instance in one command.

Migrates, collects static files, seeds the demo brands (first run only), gives every demo login a
fresh password, then runs the web server and a worker until Ctrl-C. The sign-in lines have a fixed
form, ``Sign in as EMAIL with password PASSWORD``, that scripts and tests read.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from atiende.demo import processes
from atiende.demo.logins import DemoAccount
from atiende.demo.seed import reset_logins, seed

STARTUP_TIMEOUT_SECONDS = 60.0


class Command(BaseCommand):
    help = "Run a complete demo: migrate, seed two demo brands, serve them with a worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="port to listen on (default 8000)"
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="only prepare the data and print the logins, then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not options["no_serve"] and not processes.port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use; choose another with --port."
            )
        try:
            self._prepare()
        except KeyboardInterrupt:
            # Each brand is seeded in one transaction: nothing half-made stays behind.
            self.stderr.write("Interrupted; run `atiende demo` again to finish.")
            sys.exit(130)
        logins = reset_logins()
        if options["no_serve"]:
            self._say(f"Demo data is ready in {settings.DATA_DIR}.")
            self._print_logins(logins)
            return
        self._serve(host, port, logins)

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _prepare(self) -> None:
        started = time.monotonic()
        self._say("Preparing the database and static files...")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._say("Seeding the demo brands (only those not seeded yet)...")
        result = seed(progress=True)
        if result.skipped:
            self._say(f"Already seeded, left as they are: {', '.join(result.skipped)}.")
        self._say(f"Ready in {time.monotonic() - started:.1f} s.")

    def _print_logins(self, logins: list[tuple[DemoAccount, str]]) -> None:
        for account, password in logins:
            self.stdout.write(
                f"Sign in as {account.email} with password {password}  ({account.description})"
            )
        self.stdout.flush()

    def _serve(self, host: str, port: int, logins: list[tuple[DemoAccount, str]]) -> None:
        stop = processes.StopSignal()
        stop.install()
        children = [
            processes.start_child(
                "web server",
                [
                    "serve",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--no-collectstatic",
                    "--no-access-log",
                ],
            ),
            processes.start_child("worker", ["worker"]),
        ]
        try:
            dead = processes.wait_until_listening(
                host, port, children, stop, STARTUP_TIMEOUT_SECONDS
            )
            if dead is None and not stop.event.is_set():
                self._announce(host, port, logins)
                dead = processes.supervise(children, stop)
        except TimeoutError as error:
            raise CommandError(f"The web server did not start: {error}.") from None
        finally:
            processes.stop_children(children)
        if dead is not None:
            raise CommandError(
                f"The {dead.name} stopped unexpectedly (exit code {dead.exit_code}); "
                "the demo has been stopped."
            )
        self._say("Atiende demo stopped.")

    def _announce(self, host: str, port: int, logins: list[tuple[DemoAccount, str]]) -> None:
        shown = processes.WILDCARD_TO_LOOPBACK.get(host, host)
        shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
        self._say(f"Atiende demo is running at http://{shown}:{port}/")
        self._print_logins(logins)
        self._say("Press Ctrl-C to stop.")
