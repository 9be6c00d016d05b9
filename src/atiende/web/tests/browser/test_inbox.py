"""The inbox in a real browser: filtering the list, and working through it with the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.conversations.actions import change_priority, start_conversation
from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def three_conversations(brand: Any, customer: Any, agent: Any, system: Any) -> list[Any]:
    """Three open conversations of the brand, the second one urgent."""
    conversations = [
        start_conversation(
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            subject=subject,
            body_text=f"{subject}: ¿me ayudan?",
        )
        for subject in ("Factura duplicada", "Cobro sin pedido", "Cambio de talla")
    ]
    change_priority(conversation=conversations[1], priority="urgent", actor=agent)
    return conversations


def _rows(page: Page) -> Any:
    return page.locator("[data-live-inbox] tr[data-conversation-id]")


def test_filtering_the_inbox_by_priority_shows_only_the_matching_conversations(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    agent: Any,
    three_conversations: list[Any],
) -> None:
    invoice, charge, size = three_conversations
    page = signed_in_page(agent, "en")
    page.goto("/?view=all")
    expect(_rows(page)).to_have_count(3)

    page.get_by_text("Filter and sort").click()
    page.get_by_label("Priority", exact=True).select_option(label="Urgent")
    page.get_by_role("button", name="Apply", exact=True).click()

    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text(charge.reference)
    expect(page.get_by_role("link", name=invoice.reference)).to_have_count(0)
    assert "priority=urgent" in page.url
    # The filter stays chosen on the page it produced, so it can be refined or cleared.
    expect(page.get_by_label("Priority", exact=True)).to_have_value("urgent")
    page.get_by_role("link", name="Clear filters").first.click()
    expect(_rows(page)).to_have_count(3)
    expect(page.get_by_role("link", name=size.reference)).to_be_visible()


def test_the_keyboard_moves_through_the_inbox_and_opens_a_conversation(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    agent: Any,
    three_conversations: list[Any],
) -> None:
    page = signed_in_page(agent, "en")
    page.goto("/?view=all&sort=created")
    expect(_rows(page)).to_have_count(3)
    rows = _rows(page)

    page.keyboard.press("j")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("x")  # selects it for a bulk action
    expect(rows.nth(1).get_by_role("checkbox")).to_be_checked()
    chosen = rows.nth(1).get_by_role("link").inner_text()

    page.keyboard.press("Enter")

    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text(chosen)
