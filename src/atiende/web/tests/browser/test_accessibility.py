"""Accessibility basics of the main screens in a real browser: names for every control, the
keyboard reaches everything with visible focus, and text contrast passes WCAG AA."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.web.tests.browser.accessibility import assert_keyboard_reaches_every_control
from atiende.web.tests.browser.contrast import assert_aa_contrast
from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["es", "en"])
def test_sign_in_page_is_usable_by_keyboard_and_passes_aa_contrast(
    live: LiveInstance, new_page: Callable[..., Page], language: str
) -> None:
    page = new_page(language)
    page.goto("/login/")

    assert_keyboard_reaches_every_control(page)
    assert_aa_contrast(page)


def test_the_first_keyboard_stop_is_the_skip_link_and_it_moves_focus_to_the_content(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    page.locator("body").focus()

    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_inbox_is_usable_by_keyboard_and_passes_aa_contrast(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "es")
    page.goto("/?view=all")
    expect(page.get_by_role("link", name=conversation.reference)).to_be_visible()

    assert_keyboard_reaches_every_control(page)
    assert_aa_contrast(page)


def test_conversation_page_is_usable_by_keyboard_and_passes_aa_contrast(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    page.goto(f"/c/tienda/{conversation.number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(conversation.subject)

    assert_keyboard_reaches_every_control(page)
    assert_aa_contrast(page)


@pytest.mark.parametrize("address", ["/reports/sla/", "/preferences/"])
def test_sla_report_and_preferences_are_usable_by_keyboard_and_pass_aa_contrast(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    supervisor: Any,
    conversation: Any,
    address: str,
) -> None:
    page = signed_in_page(supervisor, "es")
    page.goto(address)
    expect(page.get_by_role("navigation").locator("[aria-current=page]")).to_have_attribute(
        "href", address
    )

    assert_keyboard_reaches_every_control(page)
    assert_aa_contrast(page)
