"""Live updates across processes: mail imported by another process (``atiende import-mail``)
appears in an open inbox and on an open conversation page without a reload.

The path is the production one: the other process stores and processes the mail, its actions
publish through Redis, the web process's WebSocket consumer forwards to the browser, live.js
updates the page.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.conversations.actions import receive_customer_message
from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST_MESSAGE_ID = "primer-correo@correo.example"

# Keeps what the live connection receives, so a test can wait until it is open ("ready") before
# making the change it expects to see.
RECORD_LIVE_FRAMES = """
window.__liveFrames = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => window.__liveFrames.push(String(event.data)));
  }
};
"""
LIVE_IS_READY = "() => window.__liveFrames.some((frame) => frame.includes('\"ready\"'))"


def _mail(path: Path, subject: str, body: str, replying_to: str | None = None) -> Path:
    message = EmailMessage()
    message["From"] = "Carmen Cliente <carmen@example.com>"
    message["To"] = "soporte@tiendasol.es"
    message["Subject"] = subject
    message["Message-ID"] = f"<{path.stem}@correo.example>"
    if replying_to:
        message["In-Reply-To"] = f"<{replying_to}>"
        message["References"] = f"<{replying_to}>"
    message.set_content(body)
    path.write_bytes(message.as_bytes())
    return path


def _open_live(page: Page, address: str) -> None:
    page.context.add_init_script(RECORD_LIVE_FRAMES)
    page.goto(address)
    page.wait_for_function(LIVE_IS_READY)
    page.evaluate("window.__sameDocument = true")


def _import(live: LiveInstance, mail: Path) -> None:
    live.run("manage", "import_mail", str(mail), "--brand", "tienda")


@pytest.fixture
def threaded_conversation(conversation: Any, system: Any) -> Any:
    receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Sigo esperando.",
        external_id=FIRST_MESSAGE_ID,
    )
    return conversation


def test_a_conversation_created_by_another_process_appears_in_the_open_inbox(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    agent: Any,
    conversation: Any,
    tmp_path: Path,
) -> None:
    page = signed_in_page(agent, "en")
    _open_live(page, "/?view=all")
    expect(page.get_by_text("Paquete dañado")).to_have_count(0)

    _import(live, _mail(tmp_path / "nuevo.eml", "Paquete dañado", "La caja llegó rota."))

    expect(page.get_by_text("Paquete dañado")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True


def test_the_first_conversation_of_an_empty_view_appears_live(
    live: LiveInstance, signed_in_page: Callable[..., Page], agent: Any, tmp_path: Path
) -> None:
    page = signed_in_page(agent, "en")
    _open_live(page, "/?view=all")
    expect(page.get_by_text("No conversations yet")).to_be_visible()

    _import(live, _mail(tmp_path / "primero.eml", "Primer pedido", "¿Dónde está mi pedido?"))

    expect(page.get_by_text("Primer pedido")).to_be_visible()
    expect(page.get_by_text("No conversations yet")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True


def test_a_customer_reply_processed_by_another_process_appears_on_the_open_conversation(
    live: LiveInstance,
    signed_in_page: Callable[..., Page],
    agent: Any,
    threaded_conversation: Any,
    tmp_path: Path,
) -> None:
    page = signed_in_page(agent, "en")
    _open_live(page, f"/c/tienda/{threaded_conversation.number}/")
    expect(page.locator("#timeline")).not_to_contain_text("Ya lo encontré")

    _import(
        live,
        _mail(
            tmp_path / "respuesta.eml",
            f"Re: {threaded_conversation.subject}",
            "Ya lo encontré en el buzón del vecino, gracias.",
            replying_to=FIRST_MESSAGE_ID,
        ),
    )

    expect(page.locator("#timeline")).to_contain_text("Ya lo encontré en el buzón del vecino")
    assert page.evaluate("window.__sameDocument") is True
