"""``atiende serve``: the web server (HTTP and WebSockets) under uvicorn.

Static files are collected first, because whitenoise serves them from STATIC_ROOT with hashed names
and a page would otherwise reference files that are not there. Behind a public name, set
ALLOWED_HOSTS (and CSRF_TRUSTED_ORIGINS for HTTPS) in the environment.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from atiende.core import serving

ASGI_APP = "atiende.config.served:application"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
WILDCARD = {"0.0.0.0", "::", "[::]"}  # noqa: S104  (names, not a bind)
# Requests still running this long after a stop signal are cut: a stop must end the process.
GRACEFUL_SHUTDOWN_SECONDS = 5


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Run the web server (HTTP and WebSockets) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="port to listen on (default 8000)"
        )
        parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="skip collecting static files (when a deployment step or the demo already did it)",
        )
        parser.add_argument("--no-access-log", action="store_true", help="do not log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        if not options["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        self._allow_host(host)
        # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal through the
        # handler it found installed; with Python's defaults that would end the process with a
        # KeyboardInterrupt traceback or a "killed by SIGTERM" status. This handler turns the
        # re-raise (or a signal that arrives before uvicorn starts) into a clean exit 0.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _exit_quietly)
        workers: int = options["workers"]
        # Several workers spread their connections evenly through a shared table
        # (core/serving.py); the workers find it through the environment they inherit.
        table = serving.create_connection_table() if workers > 1 else None
        if table is not None:
            os.environ[serving.ENVIRONMENT_VARIABLE] = str(table)
        try:
            uvicorn.run(
                ASGI_APP,
                host=host,
                port=options["port"],
                workers=workers,
                http=serving.PROTOCOL if table is not None else "auto",
                lifespan="off",  # Channels' router does not speak the lifespan protocol
                access_log=not options["no_access_log"],
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        finally:
            if table is not None:
                table.unlink(missing_ok=True)

    def _allow_host(self, host: str) -> None:
        """Let Django answer on the address the server listens on, when it is a specific one.

        Settings are already loaded, so this changes ALLOWED_HOSTS of this process only, which is
        the process that serves the requests; the environment carries it to --workers processes.
        """
        if host in LOOPBACK or host in settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
            return
        if host in WILDCARD:
            self.stderr.write(
                f"Listening on every interface: requests are accepted only for the names in "
                f"ALLOWED_HOSTS ({', '.join(settings.ALLOWED_HOSTS)}). Set ALLOWED_HOSTS to the "
                f"public name of this server, e.g. ALLOWED_HOSTS=atiende.example.com"
            )
            return
        name = f"[{host}]" if ":" in host and not host.startswith("[") else host
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, name]
        # Server processes started with --workers re-read settings from the environment.
        os.environ["ALLOWED_HOSTS"] = ",".join(settings.ALLOWED_HOSTS)
