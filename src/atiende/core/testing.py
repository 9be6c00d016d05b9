"""Helpers for tests: real processes (a worker, a server) on the test's own database, and the
database's plan for a statement."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RunningServer:
    port: int
    log: Path
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the server wrote so far (stdout and stderr), for a failing test's message."""
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(
    data_dir: Path,
    environment: dict[str, str] | None = None,
    *,
    startup_timeout: float = 30.0,
    workers: int = 1,
) -> Iterator[RunningServer]:
    """``atiende serve`` as deployed (``workers`` processes), on a free loopback port and this
    test's database (``child_environment(data_dir)`` unless ``environment`` is given), its output
    in ``data_dir/server.log`` (a file: a pipe nobody reads while the test runs would stall it);
    yielded once it answers, stopped on exit. Fails with that output if it exits or does not
    answer within ``startup_timeout`` seconds."""
    port = free_port()
    log = data_dir / "server.log"
    arguments = ["serve", "--no-collectstatic", "--no-access-log", "--port", str(port)]
    arguments += ["--workers", str(workers)]
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
            [sys.executable, "-m", "atiende", *arguments],
            env=environment if environment is not None else child_environment(data_dir),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        running = RunningServer(port, log, server.pid)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if server.poll() is not None:
                        raise AssertionError(
                            f"atiende serve exited with {server.returncode}:\n{running.output()}"
                        ) from None
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"atiende serve did not answer in {startup_timeout:.0f} s:\n"
                            f"{running.output()}"
                        ) from None
                    time.sleep(0.1)
            yield running
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def query_plan(sql: str) -> str:
    """The database's plan for ``sql`` (its values inlined), one line: SQLite's EXPLAIN QUERY PLAN,
    PostgreSQL's EXPLAIN with sequential scans and sorts priced out, since a test's few rows would
    otherwise make them the cheaper plan whatever the indexes."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return " | ".join(row[-1] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}")
        return " | ".join(row[0] for row in cursor.fetchall())
