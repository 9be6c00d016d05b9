"""Helpers for tests that start real processes (a worker, a server) on the test's own database."""

from __future__ import annotations

import os
import socket
import urllib.parse
from pathlib import Path

from django.db import connection


def database_url_of_this_test() -> str:
    """The database the running test uses (the test database, not the configured one), as a
    DATABASE_URL a child process can be given."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    quote = urllib.parse.quote
    login = quote(settings.get("USER") or "")
    if settings.get("PASSWORD"):
        login += ":" + quote(settings["PASSWORD"])
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{login}@{host}:{port}/{quote(settings['NAME'])}"


def child_environment(data_dir: Path) -> dict[str, str]:
    """The environment for an ``atiende`` child process sharing this test's database, with its
    own data folder (and so its own embedded task queue), never a Redis of the developer's."""
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    environment.update(
        DATABASE_URL=database_url_of_this_test(),
        ATIENDE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="atiende.config.settings",
        PYTHONUNBUFFERED="1",
    )
    return environment


def free_port() -> int:
    """A loopback port nothing listens on right now, for a server a test starts (some servers,
    aiosmtpd's Controller or a child process, cannot be told to bind port 0 and report it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
