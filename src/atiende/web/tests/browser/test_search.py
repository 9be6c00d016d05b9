"""Searching from the top bar in a real browser, by keyboard alone, and the results page's
accessibility basics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.web.tests.browser.accessibility import assert_keyboard_reaches_every_control
from atiende.web.tests.browser.contrast import assert_aa_contrast
from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEARCH_BOX = "Search conversations, messages and customers"


def test_slash_goes_to_the_search_box_and_enter_shows_the_matching_conversation(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")

    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name=SEARCH_BOX)).to_be_focused()
    page.keyboard.type("pedido lunes")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/search/\?q=pedido(\+|%20)lunes"))
    result = page.get_by_role("link", name=re.compile(conversation.reference))
    expect(result.first).to_be_visible()
    result.first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(conversation.subject)


def test_search_results_are_usable_by_keyboard_and_pass_aa_contrast(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    page.goto("/search/?q=pedido")
    expect(page.get_by_role("link", name=re.compile(conversation.reference)).first).to_be_visible()

    assert_keyboard_reaches_every_control(page)
    assert_aa_contrast(page)
