"""The timeline as the page shows it: the fragment live updates append, HTML mail without remote
content, inline images, quoted history folded, attachment previews, and its cost in queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from atiende.conversations.actions import (
    add_internal_note,
    assign_conversation,
    change_status,
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.conversations.attachments import IncomingAttachment
from atiende.customers.actions import record_order

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _page(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _fragment(conversation):
    return reverse("web:conversation_timeline", args=[conversation.brand.slug, conversation.number])


def test_the_page_has_the_hooks_live_updates_use(sign_in, agent, conversation):
    page = sign_in(agent).get(_page(conversation)).content.decode()
    assert f'data-live-conversation="{conversation.pk}"' in page
    assert '<div class="presence" data-presence aria-live="polite"></div>' in page
    assert 'src="/static/web/conversation.js"' in page or "web/conversation." in page


def test_the_fragment_returns_what_came_after_a_message(sign_in, system, agent, conversation):
    first = conversation.messages.get()
    second = receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Segundo mensaje"
    )
    change_status(conversation=conversation, status="pending", actor=agent)
    client = sign_in(agent)

    after_first = client.get(_fragment(conversation), {"after": first.pk})
    assert after_first.status_code == 200
    html = after_first.content.decode()
    assert "Hola, el pedido 1001" not in html
    assert f'id="message-{second.pk}"' in html
    assert "Segundo mensaje" in html
    assert "Status changed" in html or "Estado cambiado" in html
    assert html.index("Segundo mensaje") < html.index('id="event-')

    after_second = client.get(_fragment(conversation), {"after": second.pk}).content.decode()
    assert "Segundo mensaje" not in after_second
    assert 'id="event-' in after_second

    everything = client.get(_fragment(conversation)).content.decode()
    assert "Hola, el pedido 1001" in everything
    assert "Segundo mensaje" in everything


def test_the_fragment_is_scoped(
    sign_in, agent, outsider, client_viewer, conversation, other_conversation
):
    note = add_internal_note(conversation=conversation, actor=agent, body_text="Solo equipo")
    first = conversation.messages.order_by("id").first()
    assert sign_in(outsider).get(_fragment(conversation)).status_code == 404
    assert sign_in(agent).get(_fragment(other_conversation)).status_code == 404
    # A message of another conversation is no anchor here.
    other_message = other_conversation.messages.get()
    assert (
        sign_in(agent).get(_fragment(conversation), {"after": other_message.pk}).status_code == 404
    )
    # A client viewer reads the timeline without internal notes, and cannot anchor on one.
    viewer = sign_in(client_viewer)
    assert (
        "Solo equipo"
        not in viewer.get(_fragment(conversation), {"after": first.pk}).content.decode()
    )
    assert viewer.get(_fragment(conversation), {"after": note.pk}).status_code == 404
    assert viewer.get(_fragment(conversation), {"after": "x"}).status_code == 400


def test_remote_images_are_blocked_until_asked_for(sign_in, system, agent, conversation):
    message = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_html=(
            '<p>Mire la foto</p><img src="https://tracker.example/pixel.gif?u=carmen" alt="px">'
            '<img src="http://cdn.example/foto.jpg">'
        ),
    )
    client = sign_in(agent)
    page = client.get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "tracker.example" not in page
    assert "cdn.example" not in page
    assert page.count('src="/static/web/remote-image.') == 2
    assert "2 remote images were not loaded" in page
    assert f"?remote_images={message.pk}#message-{message.pk}" in page

    shown = client.get(_page(conversation), {"remote_images": message.pk}).content.decode()
    assert 'src="https://tracker.example/pixel.gif?u=carmen"' in shown
    assert "remote images were not loaded" not in shown
    fragment = client.get(_fragment(conversation), {"remote_images": message.pk}).content.decode()
    assert "https://tracker.example/pixel.gif" in fragment


def test_inline_cid_images_point_at_our_own_preview(sign_in, system, agent, conversation):
    message = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_html='<p>Firma:</p><img src="cid:logo@mail.example"><img src="cid:missing@x">',
        attachments=[
            IncomingAttachment("logo.png", PNG, "image/png", content_id="<logo@mail.example>")
        ],
    )
    attachment = message.attachments.get()
    page = sign_in(agent).get(_page(conversation)).content.decode()
    preview = reverse("web:attachment_preview", args=[attachment.pk])
    assert f'<img src="{preview}">' in page
    assert "cid:" not in page


def test_quoted_history_is_folded(sign_in, system, agent, conversation):
    receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Gracias, ya llegó.",
        quoted_text="El lun, 1 dic, Tienda Sol escribió:\n> Su pedido sale hoy.",
    )
    page = sign_in(agent).get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    folded = page[page.index('<details class="quoted-history">') :]
    assert folded.index("Show quoted history") < folded.index("Su pedido sale hoy.")
    assert folded.index("Su pedido sale hoy.") < folded.index("</details>")


def test_image_and_pdf_previews_are_inline_and_everything_else_downloads(
    sign_in, system, agent, conversation
):
    message = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Adjuntos",
        attachments=[
            IncomingAttachment("foto.png", PNG, "image/png"),
            IncomingAttachment("factura.pdf", PDF, "application/pdf"),
            IncomingAttachment("pagina.html", b"<script>alert(1)</script>", "text/html"),
            IncomingAttachment(
                "dibujo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"
            ),
        ],
    )
    by_name = {a.filename: a for a in message.attachments.all()}
    client = sign_in(agent)
    page = client.get(_page(conversation)).content.decode()
    png_url = reverse("web:attachment_preview", args=[by_name["foto.png"].pk])
    pdf_url = reverse("web:attachment_preview", args=[by_name["factura.pdf"].pk])
    assert f'<img src="{png_url}" alt="foto.png" loading="lazy"' in page
    assert f'href="{pdf_url}" target="_blank"' in page
    # The PDF opens in the page, in the browser's viewer, loaded only when asked for.
    assert f'<iframe src="{pdf_url}" title="factura.pdf" loading="lazy">' in page
    for other in ("pagina.html", "dibujo.svg"):
        assert reverse("web:attachment_preview", args=[by_name[other].pk]) not in page

    image = client.get(png_url)
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"] == 'inline; filename="foto.png"'
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in image["Content-Security-Policy"]
    assert b"".join(image.streaming_content) == PNG

    pdf = client.get(pdf_url)
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'inline; filename="factura.pdf"'
    assert pdf["X-Content-Type-Options"] == "nosniff"
    assert pdf["X-Frame-Options"] == "SAMEORIGIN"
    assert image["X-Frame-Options"] == "SAMEORIGIN"

    for other in ("pagina.html", "dibujo.svg"):
        response = client.get(reverse("web:attachment_preview", args=[by_name[other].pk]))
        assert response["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response["Content-Security-Policy"]


def test_previews_are_scoped_like_downloads(sign_in, system, agent, outsider, conversation):
    message = add_internal_note(
        conversation=conversation,
        actor=agent,
        body_text="Captura",
        attachments=[IncomingAttachment("captura.png", PNG, "image/png")],
    )
    url = reverse("web:attachment_preview", args=[message.attachments.get().pk])
    assert sign_in(outsider).get(url).status_code == 404
    assert sign_in(agent).get(url).status_code == 200


def test_merge_events_link_the_other_conversation(sign_in, agent, brand, customer, conversation):
    from atiende.conversations.actions import merge_conversations

    duplicate = start_conversation(
        brand=brand, customer=customer, channel="chat", actor=agent, body_text="Lo mismo por chat"
    )
    merge_conversations(source=duplicate, target=conversation, actor=agent)
    page = sign_in(agent).get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Conversation merged into this one" in page
    assert f'href="{_page(duplicate)}">SOL-2</a>' in page


def test_the_customer_panel_shows_identities_history_and_orders(
    sign_in, system, agent, brand, customer, other_customer, conversation, other_conversation
):
    from atiende.customers.actions import record_identity_failure
    from atiende.customers.models import CustomerIdentity

    older = start_conversation(
        brand=brand,
        customer=customer,
        channel="phone",
        actor=agent,
        subject="Llamada anterior",
        body_text="Llamó por la garantía.",
    )
    record_identity_failure(
        identity=CustomerIdentity.objects.get(value="carmen@example.com"),
        detail="550 mailbox unavailable",
        actor=system,
    )
    record_order(
        customer=customer,
        actor=system,
        number="1001",
        amount=Decimal("49.90"),
        currency="EUR",
        placed_at=timezone.now(),
    )
    record_order(
        customer=other_customer,
        actor=system,
        number="MX-9",
        amount=Decimal("10"),
        currency="MXN",
        placed_at=timezone.now(),
    )
    page = sign_in(agent).get(_page(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    panel = page[page.index('id="customer-title"') :]
    assert "Carmen Cliente" in panel
    assert customer.crn_display in panel
    assert "Spanish" in panel
    assert 'class="identity--failing"' in panel
    assert "failing" in panel
    assert f'href="{_page(older)}">SOL-2</a>' in panel
    assert "Llamada anterior" in panel
    assert "Portabilidad" not in panel
    assert "1001" in panel[panel.index("Orders") :]
    assert "49.90 EUR" in panel
    assert "MX-9" not in panel


def _busy(system, agent, brand, customer, messages):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Inicio"
    )
    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    for index in range(messages):
        receive_customer_message(
            conversation=conversation,
            channel="email",
            actor=system,
            body_html=f'<p>Mensaje {index}</p><img src="https://x.example/{index}.png">',
            quoted_text="> antes",
            attachments=[IncomingAttachment(f"foto-{index}.png", PNG, "image/png")],
        )
        if index % 2:
            reply_to_conversation(conversation=conversation, actor=agent, body_text=f"R {index}")
        else:
            add_internal_note(conversation=conversation, actor=agent, body_text=f"@Alba {index}")
    change_status(conversation=conversation, status="pending", actor=agent)
    return conversation


def test_the_page_costs_the_same_queries_for_5_or_50_messages(
    sign_in, system, agent, brand, customer
):
    short = _busy(system, agent, brand, customer, 5)
    long = _busy(system, agent, brand, customer, 50)
    for index in range(12):
        start_conversation(
            brand=brand, customer=customer, channel="chat", actor=system, body_text=f"Otra {index}"
        )
    client = sign_in(agent)
    # Both opened once before: the first visit also creates the read marker.
    client.get(_page(short))
    client.get(_page(long))

    with CaptureQueriesContext(connection) as few:
        assert client.get(_page(short)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = client.get(_page(long))
    assert response.status_code == 200
    assert response.content.decode().count('class="message ') == 1 + 50 + 50
    assert len(many) == len(few)
    assert len(few) <= 28

    with CaptureQueriesContext(connection) as fragment_few:
        client.get(_fragment(short))
    with CaptureQueriesContext(connection) as fragment_many:
        client.get(_fragment(long))
    assert len(fragment_many) == len(fragment_few)


def test_live_entries_offer_splitting_only_where_the_page_does(
    sign_in, agent, system, conversation
):
    client = sign_in(agent)
    # One message: nothing to split off, on the page or in what live updates append.
    assert 'name="messages"' not in client.get(_fragment(conversation)).content.decode()
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Otra cosa"
    )
    assert 'name="messages"' in client.get(_fragment(conversation)).content.decode()
    assert 'id="split-form"' in client.get(_page(conversation)).content.decode()


def test_the_customer_panels_other_conversations_are_one_read_with_their_brand_only(
    agent, brand, customer, conversation
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.conversations.models import Conversation
    from atiende.web.workspace import customer_panel

    for number in range(3):
        start_conversation(
            brand=brand, customer=customer, channel="phone", actor=agent,
            subject=f"Llamada {number}", body_text="Llamó.",
        )  # fmt: skip
    shown = Conversation.objects.select_related("customer", "brand").get(pk=conversation.pk)
    with CaptureQueriesContext(connection) as queries:
        panel = customer_panel(shown, viewer=agent)
        drawn = [
            (other.reference, other.channel, other.status, other.subject) for other in panel.recent
        ]
    assert drawn == [(f"SOL-{n}", "phone", "new", f"Llamada {n - 2}") for n in (4, 3, 2)]
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if '"conversations_conversation"' in query["sql"]
    ]
    # One statement, whose only join is the brand (for the reference): the panel shows nothing of
    # the customer, assignee, team or category, and each join cost PostgreSQL planning time.
    assert len(reads) == 1
    assert reads[0].count(" JOIN ") == 1
    assert 'JOIN "brands_brand"' in reads[0]
