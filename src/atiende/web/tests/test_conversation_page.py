"""The read-only conversation page and attachment downloads, scoped to the brands a user may see."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from atiende.conversations.actions import (
    add_internal_note,
    assign_conversation,
    change_status,
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.conversations.attachments import IncomingAttachment

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _url(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _with_report(conversation, system):
    message = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Les adjunto el informe.",
        attachments=[IncomingAttachment("informe.pdf", PDF, "application/pdf")],
    )
    return message.attachments.get()


def test_conversation_page_shows_header_customer_and_timeline(
    sign_in, system, agent, team, conversation
):
    assign_conversation(conversation=conversation, assignee=agent, team=team, actor=system)
    reply_to_conversation(
        conversation=conversation, actor=agent, body_text="Lo reviso ahora mismo."
    )

    response = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    page = response.content.decode()
    assert "SOL-1" in page
    assert "Mi pedido no ha llegado" in page
    assert "Carmen Cliente" in page
    assert conversation.customer.crn_display in page
    assert "carmen@example.com" in page
    assert "+34 600 11 12 22" in page
    assert "Soporte" in page
    assert "Alba Agente" in page
    first = page.index("Hola, el pedido 1001")
    assignment = page.index("Assignment changed")
    reply = page.index("Lo reviso ahora mismo.")
    assert first < assignment < reply
    assert "Assignee: nobody → Alba Agente" in page


def test_status_changes_appear_on_the_timeline_with_their_labels(
    sign_in, system, agent, conversation
):
    change_status(conversation=conversation, status="pending", actor=agent)
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Estado cambiado" in page
    assert "Estado: Nueva → Pendiente" in page


def test_internal_notes_are_marked_as_such(sign_in, agent, conversation):
    add_internal_note(conversation=conversation, actor=agent, body_text="Llamar al almacén")
    page = sign_in(agent).get(_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "message--internal" in page
    assert "Internal note" in page


def test_other_brands_conversation_is_not_found(sign_in, agent, other_conversation):
    assert sign_in(agent).get(_url(other_conversation)).status_code == 404


def test_outsider_cannot_open_the_agents_conversation(sign_in, outsider, conversation):
    assert sign_in(outsider).get(_url(conversation)).status_code == 404


def test_right_number_under_the_wrong_brand_is_not_found(
    sign_in, agent, conversation, other_conversation
):
    # TEL-1 exists, but not for this agent: the same number under their own brand is theirs.
    assert sign_in(agent).get("/c/telco/1/").status_code == 404
    assert sign_in(agent).get("/c/tienda/1/").status_code == 200


def test_nonexistent_conversation_is_not_found(sign_in, agent, conversation):
    client = sign_in(agent)
    assert client.get("/c/tienda/999/").status_code == 404
    assert client.get("/c/no-such-brand/1/").status_code == 404


def test_not_found_page_is_friendly_and_translated(sign_in, agent):
    page = sign_in(agent).get("/c/tienda/999/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Página no encontrada" in page
    assert 'href="/"' in page


def test_conversation_page_needs_sign_in(client, conversation):
    response = client.get(_url(conversation))
    assert response.status_code == 302
    assert response.url == f"/login/?next={_url(conversation)}"


def test_attachment_is_listed_and_downloads_as_a_file(sign_in, system, agent, conversation):
    attachment = _with_report(conversation, system)
    client = sign_in(agent)

    page = client.get(_url(conversation)).content.decode()
    download_url = reverse("web:attachment", args=[attachment.pk])
    assert f'href="{download_url}"' in page
    assert "informe.pdf" in page
    assert "application/pdf" in page

    response = client.get(download_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="informe.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


def test_attachment_is_served_with_its_sniffed_type_not_the_declared_one(
    sign_in, system, agent, conversation
):
    message = receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Foto",
        attachments=[
            IncomingAttachment("foto.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")
        ],
    )
    attachment = message.attachments.get()
    response = sign_in(agent).get(reverse("web:attachment", args=[attachment.pk]))
    assert response["Content-Type"] != "image/jpeg"
    assert response["Content-Type"] == attachment.content_type
    assert response["Content-Disposition"].startswith("attachment;")


def test_attachment_of_another_brand_is_not_found(sign_in, system, outsider, agent, conversation):
    attachment = _with_report(conversation, system)
    url = reverse("web:attachment", args=[attachment.pk])
    assert sign_in(outsider).get(url).status_code == 404


def test_client_viewer_of_the_brand_may_download_its_attachments(
    sign_in, system, client_viewer, conversation
):
    attachment = _with_report(conversation, system)
    assert (
        sign_in(client_viewer).get(reverse("web:attachment", args=[attachment.pk])).status_code
        == 200
    )


def test_nonexistent_attachment_is_not_found(sign_in, agent):
    assert sign_in(agent).get("/attachments/424242/").status_code == 404


def test_attachment_needs_sign_in(client, system, conversation):
    attachment = _with_report(conversation, system)
    response = client.get(reverse("web:attachment", args=[attachment.pk]))
    assert response.status_code == 302


def test_hostile_html_in_a_message_never_reaches_the_page(sign_in, system, agent, conversation):
    receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_html=(
            "<p>Hola <b>equipo</b></p>"
            '<script>alert("script")</script>'
            '<img src="x" onerror="alert(\'img\')">'
            "<a href=\"javascript:alert('link')\">clic</a>"
            '<iframe src="https://evil.test"></iframe>'
            '<p style="background:url(javascript:alert(1))" onclick="alert(2)">estilo</p>'
        ),
    )
    page = sign_in(agent).get(_url(conversation)).content.decode()
    assert "<b>equipo</b>" in page
    assert 'alert("script")' not in page
    assert "onerror" not in page
    assert "onclick" not in page
    assert "javascript:" not in page
    assert "<iframe" not in page


def test_hostile_text_and_subject_are_escaped(sign_in, system, agent, brand, customer):
    conversation = start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject='<script>alert("subject")</script>',
        body_text='<img src=x onerror="alert(1)">\nsegunda línea',
    )
    page = sign_in(agent).get(_url(conversation)).content.decode()
    assert '<script>alert("subject")' not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;<br>segunda línea" in page


def _busy_conversation(system, agent, brand, customer, messages):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Inicio"
    )
    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    for index in range(messages):
        receive_customer_message(
            conversation=conversation,
            channel="email",
            actor=system,
            body_html=f"<p>Mensaje {index}</p>",
            attachments=[
                IncomingAttachment(
                    f"adjunto-{index}.txt", f"contenido {index}".encode(), "text/plain"
                )
            ],
        )
        reply_to_conversation(
            conversation=conversation, actor=agent, body_text=f"Respuesta {index}"
        )
    change_status(conversation=conversation, status="pending", actor=agent)
    return conversation


def test_conversation_page_costs_the_same_queries_for_3_or_30_messages(
    sign_in, django_assert_max_num_queries, system, agent, brand, customer
):
    client = sign_in(agent)
    short = _busy_conversation(system, agent, brand, customer, 3)
    long = _busy_conversation(system, agent, brand, customer, 30)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(_url(short)).status_code == 200
    with django_assert_max_num_queries(len(captured)):
        response = client.get(_url(long))
    assert response.status_code == 200
    assert response.content.decode().count('class="message ') == 61
    # The timeline, the customer panel, the property choices, SLA, and the read marker.
    assert len(captured) <= 28
