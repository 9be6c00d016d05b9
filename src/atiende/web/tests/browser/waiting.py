"""Waiting for what happens outside the browser (a mail reaching the SMTP server), with a deadline.

Inside the page, Playwright's ``expect`` waits; this is the same for a condition in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


def eventually(probe: Callable[[], T], *, timeout: float = 15.0, what: str = "the condition") -> T:
    """The first truthy value ``probe`` returns, checked every 50 ms for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
