"""The conversation page's header in a real browser: it follows a property edited in the side
panel, without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_header_follows_a_status_and_priority_change_without_a_reload(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    page.goto(f"/c/{conversation.brand.slug}/{conversation.number}/")
    facts = page.locator("header #conversation-facts")
    expect(facts.locator(".badge")).to_have_text("New")
    page.evaluate("window.__sameDocument = true")
    # The panel swapped in after each change is taken over by htmx when the swap settles: a
    # long settle makes sure the next change comes before it (it did, now and then, in CI).
    page.evaluate("htmx.config.defaultSettleDelay = 1000")

    page.locator("#properties").get_by_label("Status").select_option(label="Pending")
    expect(facts.locator(".badge")).to_have_text("Pending")

    page.locator("#properties").get_by_label("Priority").select_option(label="Urgent")
    expect(facts.locator(".priority")).to_have_text("Urgent")

    page.locator("#properties").get_by_label("Assignee").select_option(label="Alba Agente")
    expect(facts).to_contain_text("Alba Agente")

    assert page.evaluate("window.__sameDocument") is True  # no reload
    # Swapped once, out of band: one header, one panel.
    expect(page.locator("#conversation-facts")).to_have_count(1)
    expect(page.locator("#properties")).to_have_count(1)
