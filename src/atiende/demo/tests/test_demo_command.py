"""``atiende demo`` end to end: real processes, real SQLite, a real sign-in over HTTP, a clean stop.

No Django test database is involved: the command runs in a child process on its own data folder,
with the production settings, exactly as someone trying Atiende for the first time would run it.
"""

from __future__ import annotations

import http.cookiejar
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO

import pytest

from atiende.core.testing import free_port

SIGN_IN = re.compile(r"^Sign in as (?P<email>\S+) with password (?P<password>\S+)")
RUNNING = re.compile(r"^Atiende demo is running at (?P<url>http://\S+)")
STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _demo_environment(data_dir: Path) -> dict[str, str]:
    # Always the embedded SQLite demo, whatever services the machine running the tests has.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SECRET_KEY"}
    }
    env.update(
        ATIENDE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="atiende.config.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _drain(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Keep reading the demo's output so it never blocks on a full pipe."""
    for line in stream:
        lines.put(line.rstrip("\n"))


def _read_until_ready(
    lines: queue.Queue[str], process: subprocess.Popen[str]
) -> tuple[str, dict[str, str]]:
    """The demo's address and its logins, once it says it is running and how to stop it."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url, logins, seen = "", dict[str, str](), list[str]()
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, f"the demo exited with {process.returncode}: {seen}"
            continue
        seen.append(line)
        if match := RUNNING.match(line):
            url = match["url"]
        elif match := SIGN_IN.match(line):
            logins[match["email"]] = match["password"]
        elif line.startswith("Press Ctrl-C"):
            return url, logins
    pytest.fail(f"the demo did not get ready in {STARTUP_TIMEOUT:.0f} s: {seen}")


def _sign_in(base_url: str, email: str, password: str) -> tuple[str, str]:
    """Sign in as a browser would; returns the final address and page after the redirect."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base_url}login/", timeout=30) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None, form
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token[1], "username": email, "password": password}
    )
    request = urllib.request.Request(  # noqa: S310  (the http:// address the demo printed)
        f"{base_url}login/", data=data.encode(), headers={"Referer": f"{base_url}login/"}
    )
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
        return response.url, response.read().decode()


@pytest.mark.slow
def test_demo_serves_its_data_to_a_signed_in_agent_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port = free_port()
    lines: queue.Queue[str] = queue.Queue()
    with (tmp_path / "demo-stderr.log").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "atiende", "demo", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=_demo_environment(tmp_path),
        )
        assert process.stdout is not None
        threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
        try:
            url, logins = _read_until_ready(lines, process)
            assert url == f"http://127.0.0.1:{port}/"
            assert "admin@demo.atiende.dev" in logins

            final_url, page = _sign_in(
                url,
                "agente@tienda-sol.demo.atiende.dev",
                logins["agente@tienda-sol.demo.atiende.dev"],
            )
            assert final_url == url
            assert re.search(r"SOL-\d+", page)
            assert "TEL-" not in page  # the shop's agent sees nothing of the telecom

            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=STOP_TIMEOUT) == 0
            assert not _port_answers(port)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
