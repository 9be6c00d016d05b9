"""Fixtures of the browser tests: a live instance per test process, a fresh Chromium per test.

Test modules here are marked ``browser`` and use the database with ``transaction=True``: what a test
creates is committed, so the server and worker processes see it, and it is flushed afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import PASSWORD
from django.conf import global_settings
from django.db import connection
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from atiende.web.tests.browser.live_instance import LiveInstance, running_instance

CHROMIUM = os.environ.get("ATIENDE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps trying Google's hosts, which this
# closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
WAIT_MS = 15_000
BROWSER_LOCALES = {"es": "es-ES", "en": "en-GB"}

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def live_instance(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveInstance]:
    """One web server and one worker per test process, on that process's test database."""
    if not Path(CHROMIUM).exists():
        # Like the IMAP tests' dovecot: skipped (and said so) on a developer's machine without
        # it, a failure under CI, which installs it and where these tests must run.
        message = f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required under CI)")
        pytest.skip(message)
    with running_instance(tmp_path_factory.mktemp("live")) as instance:
        yield instance
    with django_db_blocker.unblock():
        _end_other_sessions()


def _end_other_sessions() -> None:
    """Close what still holds the test database open, so that it can be dropped.

    The server and worker are stopped by now. What remains is an idle pooled connection of this
    process: ORM calls made while Playwright's event loop runs get a connection of their own
    (Django keys connections by async context), which the pool keeps open after the test.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )


@pytest.fixture
def live(live_instance: LiveInstance, transactional_db: Any) -> LiveInstance:
    """The live instance with an empty mailbox and an empty Redis (no cache or queue of the
    previous test)."""
    redis.Redis.from_url(live_instance.redis_url).flushdb()
    live_instance.smtp.messages.clear()
    return live_instance


@pytest.fixture(autouse=True)
def _passwords_the_server_can_check(settings: Any) -> None:
    """Hash the personas' passwords with a hasher the server knows.

    The test settings hash with MD5 for speed; the live server runs the production settings,
    which do not accept MD5. Scrypt is one of Django's defaults and cheap enough per persona.
    """
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        *global_settings.PASSWORD_HASHERS,
    ]


class Chromium:
    """A headless Chromium for one test, started when the test opens its first page.

    Starting late lets every fixture (the personas, their conversations) be created first:
    Playwright's synchronous API runs an asyncio loop in this thread, and while it runs Django
    takes every ORM call for one made from async code. Nothing runs concurrently here, so the
    test switches that check off for itself; Playwright is stopped before the next test.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._browser: Browser | None = None

    def browser(self) -> Browser:
        if self._browser is None:
            playwright = self._stack.enter_context(sync_playwright())
            self._browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGUMENTS
            )
            self._stack.callback(self._browser.close)
        return self._browser

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Chromium]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def new_page(live: LiveInstance, chromium: Chromium) -> Callable[..., Page]:
    """``new_page("en")``: a page of a browser that asks for English, at 1280×800."""

    def open_page(language: str = "es") -> Page:
        context = chromium.browser().new_context(
            base_url=live.url, locale=BROWSER_LOCALES[language], viewport=VIEWPORT
        )
        context.set_default_timeout(WAIT_MS)
        return context.new_page()

    return open_page


SIGN_IN_LABELS = {
    "es": ("Correo electrónico", "Contraseña", "Iniciar sesión"),
    "en": ("Email address", "Password", "Sign in"),
}


def sign_in(page: Page, user: Any, language: str = "es", password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person does: by the fields' labels."""
    email_label, password_label, button = SIGN_IN_LABELS[language]
    page.goto("/login/")
    page.get_by_label(email_label).fill(user.email)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button, exact=True).click()


@pytest.fixture
def signed_in_page(live: LiveInstance, new_page: Callable[..., Page]) -> Callable[..., Page]:
    """``signed_in_page(agent, "en")``: a page signed in as ``agent``, on the first screen."""

    def open_signed_in(user: Any, language: str = "es") -> Page:
        page = new_page(language)
        sign_in(page, user, language)
        expect(page).to_have_url(f"{live.url}/")
        # The address changes when the inbox starts to arrive; its keyboard shortcuts are
        # deferred scripts' listeners, there once the page has loaded.
        page.wait_for_load_state("load")
        return page

    return open_signed_in
