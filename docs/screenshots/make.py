"""Take the screenshots in this folder from a running demo, in Spanish and in English.

    .venv/bin/python docs/screenshots/make.py [--data-dir DIR] [--keep]

It starts ``atiende demo`` (the README's first command) on a free port with its own data folder,
signs in through the real form in Debian's headless Chromium (Playwright, ``/usr/bin/chromium``),
and saves 1280×800 PNGs of the sign-in page, the inbox, a conversation, search results and the SLA
report as ``NAME-es.png`` and ``NAME-en.png`` next to this file. Passing a ``--data-dir`` that an
earlier run left (``--keep``) skips seeding the demo again.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("ATIENDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
BROWSER_LOCALES = {"es": "es-ES", "en": "en-GB"}
SIGN_IN = re.compile(r"^Sign in as (?P<email>\S+) with password (?P<password>\S+)")
RUNNING = re.compile(r"^Atiende demo is running at (?P<url>http://\S+)")
AGENT = "agente@tienda-sol.demo.atiende.dev"
SUPERVISOR = "supervisor@demo.atiende.dev"
LABELS = {
    "es": {"email": "Correo electrónico", "password": "Contraseña", "sign_in": "Iniciar sesión"},
    "en": {"email": "Email address", "password": "Password", "sign_in": "Sign in"},
}
SEARCH_TERMS = {"es": "pedido", "en": "pedido"}
STARTUP_TIMEOUT = 900.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _drain(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Keep reading the demo's output so that it never blocks on a full pipe."""
    for line in stream:
        lines.put(line.rstrip("\n"))


@contextmanager
def running_demo(data_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``atiende demo`` on a free port: yields its address and its logins, stops it on exit."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    }
    env.update(ATIENDE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env["DJANGO_SETTINGS_MODULE"] = "atiende.config.settings"
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "atiende", "demo", "--port", str(_free_port())],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    try:
        url, logins = "", {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if process.poll() is not None:
                    raise SystemExit(f"the demo exited with {process.returncode}") from None
                continue
            print(line, file=sys.stderr)
            if match := RUNNING.match(line):
                url = match["url"].rstrip("/")
            elif match := SIGN_IN.match(line):
                logins[match["email"]] = match["password"]
            elif line.startswith("Press Ctrl-C"):
                break
        else:
            raise SystemExit("the demo did not start in time")
        yield url, logins
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")


def _save(page: Page, name: str, language: str) -> None:
    _settle(page)
    path = HERE / f"{name}-{language}.png"
    page.screenshot(path=str(path))
    print(f"saved {path.relative_to(HERE.parent.parent)}", file=sys.stderr)


def _sign_in(page: Page, email: str, password: str, language: str) -> None:
    labels = LABELS[language]
    page.goto("/login/")
    page.get_by_label(labels["email"]).fill(email)
    page.get_by_label(labels["password"]).fill(password)
    page.get_by_role("button", name=labels["sign_in"], exact=True).click()
    expect(page.get_by_role("navigation").first).to_be_visible()


def take_screenshots(url: str, logins: dict[str, str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGUMENTS
        )
        for language in ("es", "en"):
            context = browser.new_context(
                base_url=url, locale=BROWSER_LOCALES[language], viewport=VIEWPORT
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto("/login/")
            _save(page, "sign-in", language)

            _sign_in(page, AGENT, logins[AGENT], language)
            # The whole queue of the brand, not only the agent's own conversations.
            page.goto("/?view=all")
            _save(page, "inbox", language)

            # An email conversation, the richest kind: quoted history, attachments, replies.
            page.goto("/?view=all&channel=email&status=any&sort=updated")
            page.locator("[data-live-inbox] a[href^='/c/']").first.click()
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            _save(page, "conversation", language)

            page.goto(f"/search/?q={SEARCH_TERMS[language]}")
            _save(page, "search", language)
            context.close()

            context = browser.new_context(
                base_url=url, locale=BROWSER_LOCALES[language], viewport=VIEWPORT
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            _sign_in(page, SUPERVISOR, logins[SUPERVISOR], language)
            page.goto("/reports/sla/")
            _save(page, "sla-report", language)
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="the demo's data folder (default: new)")
    parser.add_argument("--keep", action="store_true", help="keep a new data folder afterwards")
    arguments = parser.parse_args()
    made_here = arguments.data_dir is None
    data_dir = (
        Path(tempfile.mkdtemp(prefix="atiende-screenshots-"))
        if made_here
        else arguments.data_dir.resolve()
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with running_demo(data_dir) as (url, logins):
            take_screenshots(url, logins)
    finally:
        if made_here and not arguments.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif made_here:
            print(f"demo data kept in {data_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
