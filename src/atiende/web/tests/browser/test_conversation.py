"""The conversation page in a real browser: open it from the inbox, add a note, change the status,
reply by email (the reply reaches a real SMTP server, threaded), merge two conversations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.channels.email.actions import add_email_address
from atiende.conversations.actions import receive_customer_message, start_conversation
from atiende.conversations.models import AuthorKind, Conversation, Direction, Message
from atiende.web.tests.browser.live_instance import LiveInstance
from atiende.web.tests.browser.waiting import eventually

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUSTOMER_MESSAGE_ID = "pedido-1001@correo.example"


@pytest.fixture
def email_conversation(brand: Any, conversation: Any, system: Any) -> Any:
    """The customer's conversation, with a second email of theirs carrying a Message-ID, and a
    sending address for the brand."""
    add_email_address(
        brand=brand,
        address="soporte@tiendasol.es",
        display_name="Tienda Sol",
        is_default=True,
        actor=system,
    )
    receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="¿Alguna novedad de mi pedido?",
        external_id=CUSTOMER_MESSAGE_ID,
    )
    return conversation


def _open(page: Page, conversation: Any) -> None:
    page.goto(f"/c/{conversation.brand.slug}/{conversation.number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(conversation.subject)


def test_an_agent_opens_a_conversation_from_the_inbox(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    page.goto("/?view=all")

    page.get_by_role("link", name=conversation.reference).click()

    expect(page).to_have_url(f"{live.url}/c/tienda/{conversation.number}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(conversation.subject)
    expect(page.locator("#timeline")).to_contain_text("el pedido 1001 debía llegar el lunes")


def test_an_internal_note_is_added_and_shown_in_the_timeline_without_a_reload(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    _open(page, conversation)
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Internal note").check()
    page.get_by_label("Message", exact=True).fill("Llamar a la empresa de transporte mañana.")
    page.get_by_role("button", name="Add note").click()

    note = page.locator("#timeline").get_by_text("Llamar a la empresa de transporte mañana.")
    expect(note).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no reload
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    saved = Message.objects.get(conversation=conversation, author_kind=AuthorKind.AGENT)
    assert saved.direction == Direction.INTERNAL
    assert saved.author_user == agent
    assert live.smtp.messages == []  # a note is never sent to the customer


def test_the_composer_works_from_the_keyboard_alone(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    _open(page, conversation)

    page.keyboard.press("n")  # the shortcut for a note: chooses it and focuses the message
    expect(page.get_by_label("Internal note")).to_be_checked()
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.keyboard.type("Nota escrita sin ratón.")
    page.keyboard.press("Control+Enter")

    expect(page.locator("#timeline").get_by_text("Nota escrita sin ratón.")).to_be_visible()


def test_changing_the_status_saves_it(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    _open(page, conversation)
    status = page.locator("#properties").get_by_label("Status")

    status.select_option(label="Pending")

    # Saved on change (no button press) and shown again from the server's answer.
    expect(page.locator("#properties").get_by_label("Status")).to_have_value("pending")
    eventually(
        lambda: Conversation.objects.get(pk=conversation.pk).status == "pending",
        what="the status change",
    )
    page.reload()
    expect(page.locator("#properties").get_by_label("Status")).to_have_value("pending")


def test_a_reply_by_email_reaches_the_smtp_server_threaded_on_the_customers_message(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, email_conversation: Any
) -> None:
    page = signed_in_page(agent, "en")
    _open(page, email_conversation)

    page.get_by_label("Reply to the customer").check()
    page.get_by_label("Message", exact=True).fill("Hola Carmen: su pedido sale hoy. Un saludo.")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator("#timeline").get_by_text("su pedido sale hoy")).to_be_visible()
    # The worker process delivers it, after the web process committed it.
    delivered = eventually(lambda: list(live.smtp.messages), what="the reply's delivery")
    assert len(delivered) == 1
    mail = delivered[0].message
    assert delivered[0].rcpt_tos == ["carmen@example.com"]
    assert mail["Subject"] == f"Re: Mi pedido no ha llegado [{email_conversation.reference}]"
    assert mail["In-Reply-To"] == f"<{CUSTOMER_MESSAGE_ID}>"
    assert "soporte@tiendasol.es" in mail["From"]
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    assert "su pedido sale hoy" in text.get_content()


def test_two_conversations_are_merged_and_the_merged_one_points_to_the_other(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    agent: Any,
    brand: Any,
    customer: Any,
    conversation: Any,
    system: Any,
) -> None:
    duplicate = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="Pedido 1001 otra vez",
        body_text="Escribo de nuevo por el pedido 1001.",
    )
    page = signed_in_page(agent, "en")
    _open(page, duplicate)

    page.get_by_text("Merge into another conversation").click()
    page.get_by_label("Merge into").fill(conversation.reference)
    page.get_by_role("button", name="Merge", exact=True).click()

    # The merged conversation says where its messages went; the target now holds them.
    banner = page.get_by_role("note").filter(has_text="merged into")
    expect(banner).to_be_visible()
    banner.get_by_role("link", name=conversation.reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(conversation.subject)
    expect(page.locator("#timeline")).to_contain_text("Escribo de nuevo por el pedido 1001.")
    expect(page.locator("#timeline")).to_contain_text(re.compile("debía llegar el lunes"))
