"""A live Atiende for browser tests: the production process model on the test's own database.

``atiende serve`` (uvicorn, HTTP and WebSockets) and ``atiende worker`` run as child processes, as the
README's production section runs them, sharing a private Redis (events and the task queue cross
processes through it) and delivering email to a real SMTP server (aiosmtpd) on loopback. Every
process listens on a free port of its own, so pytest-xdist workers never share anything.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from atiende.channels.email.tests.smtp_server import SMTPServer, running_smtp_server
from atiende.core.testing import child_environment, free_port

# The web server collects static files (compressing each) before it listens: on a busy machine
# that alone has taken 25 s.
STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class LiveInstance:
    url: str
    smtp: SMTPServer
    redis_url: str
    data_dir: Path

    def environment(self) -> dict[str, str]:
        """The environment of one more process of this instance (a worker, a command)."""
        return instance_environment(self.data_dir, self.redis_url, self.smtp)

    def run(self, *arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``atiende ARGUMENTS`` as another process of this instance, to its end."""
        return subprocess.run(
            [sys.executable, "-m", "atiende", *arguments],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def _secret_key(data_dir: Path) -> str:
    key_file = data_dir / "test_secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text()


def instance_environment(data_dir: Path, redis_url: str, smtp: SMTPServer) -> dict[str, str]:
    environment = child_environment(data_dir)
    environment.update(
        # One key for every process, given rather than generated: the web server and the worker
        # start at the same moment and would race to create the data folder's key file.
        SECRET_KEY=_secret_key(data_dir),
        REDIS_URL=redis_url,
        ATIENDE_SMTP_HOST=smtp.host,
        ATIENDE_SMTP_PORT=str(smtp.port),
        ATIENDE_SMTP_TIMEOUT="10",
    )
    return environment


@contextmanager
def _process(
    arguments: Sequence[str], log_path: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(arguments), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_for_port(port: int, processes: dict[Path, subprocess.Popen[bytes]]) -> None:
    """Until something listens on ``port``; fails with the logs if a process (keyed by its log
    file) exits first or nothing answers in time."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not port_answers(port):
        for log, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{process.args!r} exited with {process.returncode}:\n{_tail(log)}"
                )
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {log.name}\n{_tail(log)}" for log in processes)
            raise TimeoutError(
                f"nothing answered on port {port} in {STARTUP_TIMEOUT:.0f} s\n{logs}"
            )
        time.sleep(0.1)


@contextmanager
def running_instance(data_dir: Path) -> Iterator[LiveInstance]:
    """Redis, an SMTP server, the web server and one worker, started here and stopped on exit.

    The database is the one this test process uses (call it once the test database exists).
    """
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise RuntimeError("browser tests need redis-server (Debian: redis-server)")
    with ExitStack() as stack:
        redis_port = free_port()
        redis = stack.enter_context(
            _process(
                [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                 "--appendonly", "no", "--dir", str(data_dir)],
                data_dir / "redis.log",
                {},
            )
        )  # fmt: skip
        _wait_for_port(redis_port, {data_dir / "redis.log": redis})
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        smtp = stack.enter_context(running_smtp_server())
        env = instance_environment(data_dir, redis_url, smtp)
        web_port = free_port()
        atiende = [sys.executable, "-m", "atiende"]
        web = stack.enter_context(
            _process(
                [*atiende, "serve", "--host", "127.0.0.1", "--port", str(web_port)],
                data_dir / "web.log",
                env,
            )
        )
        worker = stack.enter_context(
            _process([*atiende, "worker", "--no-periodic"], data_dir / "worker.log", env)
        )
        _wait_for_port(
            web_port,
            {
                data_dir / "redis.log": redis,
                data_dir / "web.log": web,
                data_dir / "worker.log": worker,
            },
        )
        yield LiveInstance(
            url=f"http://127.0.0.1:{web_port}", smtp=smtp, redis_url=redis_url, data_dir=data_dir
        )
