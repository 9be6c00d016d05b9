"""The composer: replies on the customer's channel or another, notes with @mentions, attachments,
"send and set status", and the collision check when someone answered meanwhile (CV4, CV6)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from atiende.accounts.actions import create_staff_user, grant_brand_role
from atiende.accounts.roles import Role
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.tests.smtp_server import running_smtp_server
from atiende.conversations.actions import (
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.conversations.models import ConversationEvent, Direction, Message
from atiende.customers.actions import IdentityInput, create_customer
from atiende.web.workspace import mentioned_in

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _reply_url(conversation):
    return reverse("web:conversation_reply", args=[conversation.brand.slug, conversation.number])


def _page_url(conversation):
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _newest_id(conversation):
    return conversation.messages.order_by("-id").values_list("pk", flat=True)[0]


@pytest.fixture(autouse=True)
def english(client):
    """These tests read the pages' English texts; the installation's default language is Spanish."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(autouse=True)
def _empty_task_schedule():
    HUEY.storage.flush_schedule()
    yield
    HUEY.storage.flush_schedule()


@pytest.fixture
def smtp(settings):
    with running_smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        yield server


@pytest.fixture
def support_address(brand):
    return EmailAddress.objects.create(
        brand=brand, address="soporte@tiendasol.es", display_name="Tienda Sol", is_default=True
    )


@pytest.fixture
def phone_case(brand, customer, agent):
    """A case an agent logged from a phone call: nothing can be "sent" by phone."""
    return start_conversation(
        brand=brand,
        customer=customer,
        channel="phone",
        actor=agent,
        subject="Llamada: factura duplicada",
        body_text="La clienta llama: le cobraron dos veces la factura de octubre.",
    )


def test_a_reply_by_email_reaches_a_real_smtp_server(
    sign_in, django_capture_on_commit_callbacks, smtp, support_address, agent, conversation
):
    client = sign_in(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _reply_url(conversation),
            {
                "kind": "reply",
                "channel": "email",
                "body": "Su pedido sale hoy.",
                "seen": _newest_id(conversation),
            },
        )

    assert response.status_code == 302
    assert response.url == _page_url(conversation) + "#composer"
    (delivered,) = smtp.messages
    assert delivered.rcpt_tos == ["carmen@example.com"]
    assert "Su pedido sale hoy." in delivered.message.get_body(("plain",)).get_content()
    reply = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
    assert (reply.channel, reply.delivery_state, reply.author_user) == ("email", "sent", agent)
    page = client.get(_page_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Reply sent." in page
    assert "Su pedido sale hoy." in page


def test_a_phone_case_continues_by_email_with_its_history(
    sign_in, django_capture_on_commit_callbacks, smtp, support_address, agent, phone_case
):
    client = sign_in(agent)
    page = client.get(_page_url(phone_case), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # Phone cannot send: the composer offers email, at the customer's address, and chooses it.
    assert '<option value="email" selected>Email — carmen@example.com</option>' in page
    assert 'value="phone"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            _reply_url(phone_case),
            {
                "kind": "reply",
                "channel": "email",
                "body": "Le confirmo por escrito la devolución.",
                "seen": _newest_id(phone_case),
            },
        )

    assert [(m.channel, m.direction) for m in phone_case.messages.order_by("created_at")] == [
        ("phone", "inbound"),
        ("email", "outbound"),
    ]
    assert smtp.messages[0].rcpt_tos == ["carmen@example.com"]
    page = client.get(_page_url(phone_case)).content.decode()
    assert page.index("le cobraron dos veces") < page.index("Le confirmo por escrito")


def test_a_channel_the_customer_has_no_address_on_is_refused_clearly(sign_in, system, brand, agent):
    no_email = create_customer(
        brand=brand,
        actor=system,
        name="Pablo Teléfono",
        identities=[IdentityInput("phone", "+34 600 999 888")],
    )
    case = start_conversation(
        brand=brand, customer=no_email, channel="phone", actor=agent, body_text="Llamó."
    )
    response = sign_in(agent).post(
        _reply_url(case),
        {"kind": "reply", "channel": "email", "body": "Hola", "seen": _newest_id(case)},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "Pablo Teléfono has no address for Email." in page
    # The draft is kept.
    assert ">Hola</textarea>" in page
    assert not case.messages.filter(direction=Direction.OUTBOUND).exists()


def test_send_and_set_status_sends_and_moves_the_conversation(
    sign_in, django_capture_on_commit_callbacks, smtp, support_address, agent, conversation
):
    client = sign_in(agent)
    page = client.get(_page_url(conversation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="status" value="pending"' in page
    assert "Send and set Solved" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            _reply_url(conversation),
            {
                "kind": "reply",
                "channel": "email",
                "body": "Queda resuelto.",
                "status": "solved",
                "seen": _newest_id(conversation),
            },
        )

    conversation.refresh_from_db()
    assert conversation.status == "solved"
    assert len(smtp.messages) == 1


def test_attachments_are_uploaded_through_the_intake_and_sent(
    sign_in, django_capture_on_commit_callbacks, smtp, support_address, agent, conversation
):
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(agent).post(
            _reply_url(conversation),
            {
                "kind": "reply",
                "channel": "email",
                "body": "Adjunto la factura.",
                "seen": _newest_id(conversation),
                "attachments": [
                    SimpleUploadedFile("factura.pdf", PDF, "application/pdf"),
                    SimpleUploadedFile("../../etc/nota.txt", b"hola", "text/plain"),
                ],
            },
        )

    reply = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
    stored = {a.filename: a.content_type for a in reply.attachments.all()}
    assert stored == {"factura.pdf": "application/pdf", "nota.txt": "text/plain"}
    sent = smtp.messages[0].message
    assert sorted(part.get_filename() for part in sent.iter_attachments()) == [
        "factura.pdf",
        "nota.txt",
    ]


def test_an_attachment_over_the_limit_is_refused_and_nothing_is_sent(
    sign_in, settings, agent, conversation
):
    settings.ATIENDE_MAX_ATTACHMENT_BYTES = 10
    response = sign_in(agent).post(
        _reply_url(conversation),
        {
            "kind": "reply",
            "channel": "email",
            "body": "Adjunto",
            "seen": _newest_id(conversation),
            "attachments": [SimpleUploadedFile("grande.pdf", PDF, "application/pdf")],
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    assert "grande.pdf is too large; attachments may be at most 10" in response.content.decode()
    assert not conversation.messages.filter(direction=Direction.OUTBOUND).exists()


def test_an_empty_reply_is_refused_with_the_reason(sign_in, agent, conversation):
    response = sign_in(agent).post(
        _reply_url(conversation),
        {"kind": "reply", "channel": "email", "body": "  ", "seen": _newest_id(conversation)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    assert "A message needs some text or an attachment." in response.content.decode()


def _listen(group):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def _received(layer, channel):
    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    return async_to_sync(receive)()


def test_a_note_with_a_mention_records_and_notifies_the_colleague(
    sign_in, django_capture_on_commit_callbacks, agent, supervisor, client_viewer, conversation
):
    layer, channel = _listen(f"user.{supervisor.pk}")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = sign_in(agent).post(
                _reply_url(conversation),
                {
                    "kind": "note",
                    # A client viewer cannot read notes: naming them mentions nobody.
                    "body": "@Sergio Supervisor ¿autorizas el reembolso? cc @Clara Cliente",
                    "seen": _newest_id(conversation),
                },
            )
        assert response.status_code == 302
        note = Message.objects.get(conversation=conversation, direction=Direction.INTERNAL)
        event = ConversationEvent.objects.get(type="note.added")
        assert event.payload == {"message": note.pk, "mentions": [supervisor.pk]}
        notice = _received(layer, channel)
    finally:
        async_to_sync(layer.group_discard)(f"user.{supervisor.pk}", channel)
    assert notice["kind"] == "note.mentioned"
    assert notice["data"] == {
        "conversation": conversation.pk,
        "brand": conversation.brand_id,
        "reference": "SOL-1",
        "message": note.pk,
        "by": "Alba Agente",
    }


def test_mentions_match_whole_names_and_addresses(agent, supervisor, brand, system):
    ana = create_staff_user(
        email="ana@tienda.test", full_name="Ana", password="x" * 12, actor=system
    )
    ana_maria = create_staff_user(
        email="anamaria@tienda.test", full_name="Ana María", password="x" * 12, actor=system
    )
    people = [agent, supervisor, ana, ana_maria]
    assert mentioned_in("hola @ana maría, mira esto", people) == [ana_maria]
    assert set(mentioned_in("@Ana: y tú @super@tienda.test", people)) == {supervisor, ana}
    assert mentioned_in("@Anastasia no es nadie", people) == []
    assert mentioned_in("sin menciones: ana@tienda.test", people) == []


def test_the_colleague_picker_lists_brand_colleagues_who_read_notes(
    sign_in, system, agent, supervisor, client_viewer, outsider, conversation, other_brand
):
    url = reverse(
        "web:conversation_colleagues", args=[conversation.brand.slug, conversation.number]
    )
    names = [c["name"] for c in sign_in(agent).get(url).json()["colleagues"]]
    assert names == ["Alba Agente", "Sergio Supervisor"]
    assert [c["email"] for c in sign_in(agent).get(url, {"q": "serg"}).json()["colleagues"]] == [
        "super@tienda.test"
    ]


def test_the_colleague_picker_is_not_found_for_other_brands_and_readers(
    sign_in, outsider, client_viewer, conversation
):
    url = reverse(
        "web:conversation_colleagues", args=[conversation.brand.slug, conversation.number]
    )
    assert sign_in(outsider).get(url).status_code == 404
    assert sign_in(client_viewer).get(url).status_code == 404


def test_a_reply_written_while_a_colleague_answered_asks_before_sending(
    sign_in,
    django_capture_on_commit_callbacks,
    smtp,
    support_address,
    agent,
    supervisor,
    conversation,
):
    seen = _newest_id(conversation)
    reply_to_conversation(
        conversation=conversation, actor=supervisor, body_text="Ya lo tengo yo.", channel="chat"
    )
    draft = {"kind": "reply", "channel": "email", "body": "Mi borrador", "seen": seen}
    client = sign_in(agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_reply_url(conversation), draft, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    page = response.content.decode()
    replied_at = Message.objects.get(author_user=supervisor).created_at.strftime("%H:%M")
    assert f"Sergio Supervisor replied at {replied_at} — send anyway?" in page
    assert ">Mi borrador</textarea>" in page
    assert '<input type="hidden" name="confirm" value="1">' in page
    assert not Message.objects.filter(author_user=agent).exists()
    assert smtp.messages == []

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_reply_url(conversation), {**draft, "confirm": "1"})
    assert response.status_code == 302
    assert Message.objects.get(author_user=agent).body_text == "Mi borrador"
    assert len(smtp.messages) == 1


def test_a_new_customer_message_also_stops_the_reply(sign_in, system, agent, conversation):
    seen = _newest_id(conversation)
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="¿Hola?"
    )
    response = sign_in(agent).post(
        _reply_url(conversation),
        {"kind": "reply", "channel": "email", "body": "Respuesta", "seen": seen},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Carmen Cliente wrote again at" in response.content.decode()
    assert not Message.objects.filter(author_user=agent).exists()


def test_the_agents_own_messages_and_notes_do_not_count_as_collisions(
    sign_in,
    django_capture_on_commit_callbacks,
    smtp,
    support_address,
    agent,
    supervisor,
    conversation,
):
    from atiende.conversations.actions import add_internal_note

    seen = _newest_id(conversation)
    reply_to_conversation(
        conversation=conversation, actor=agent, body_text="Primera", channel="chat"
    )
    add_internal_note(conversation=conversation, actor=supervisor, body_text="Nota")
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in(agent).post(
            _reply_url(conversation),
            {"kind": "reply", "channel": "email", "body": "Segunda", "seen": seen},
        )
    assert response.status_code == 302
    assert len(smtp.messages) == 1


def test_with_htmx_the_composer_comes_back_empty_and_the_timeline_is_told(
    sign_in, agent, conversation
):
    response = sign_in(agent).post(
        _reply_url(conversation),
        {"kind": "note", "body": "Nota rápida", "seen": _newest_id(conversation)},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="composer"')
    assert "Note added." in page
    assert "Nota rápida" not in page
    assert "atiende:timeline-changed" in response["HX-Trigger"]
    assert f'name="seen" value="{_newest_id(conversation)}"' in page


def test_a_client_viewer_sees_no_composer_and_cannot_post_one(sign_in, client_viewer, conversation):
    client = sign_in(client_viewer)
    page = client.get(_page_url(conversation)).content.decode()
    assert 'id="composer"' not in page
    response = client.post(
        _reply_url(conversation), {"kind": "reply", "channel": "email", "body": "x", "seen": 0}
    )
    assert response.status_code == 403
    assert not conversation.messages.filter(direction=Direction.OUTBOUND).exists()


def test_someone_of_another_brand_cannot_reply(sign_in, outsider, conversation):
    response = sign_in(outsider).post(
        _reply_url(conversation), {"kind": "reply", "channel": "email", "body": "x", "seen": 0}
    )
    assert response.status_code == 404


def test_a_new_agent_of_the_brand_is_offered_for_mentions(
    sign_in, system, brand, agent, conversation
):
    newcomer = create_staff_user(
        email="nuevo@tienda.test", full_name="Nico Nuevo", password="x" * 12, actor=system
    )
    grant_brand_role(user=newcomer, brand=brand, role=Role.AGENT, actor=system)
    url = reverse(
        "web:conversation_colleagues", args=[conversation.brand.slug, conversation.number]
    )
    assert [c["id"] for c in sign_in(agent).get(url, {"q": "@nico"}).json()["colleagues"]] == [
        newcomer.pk
    ]
