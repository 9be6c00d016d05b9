"""Agents' replies leave by SMTP after commit, threaded, signed and recorded, against a real server."""

from datetime import timedelta
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from huey.contrib.djhuey import HUEY

from atiende.accounts.actions import create_staff_user, grant_brand_role
from atiende.accounts.roles import Role
from atiende.channels.email import tasks
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.outbound import build_email, reply_subject
from atiende.channels.email.tasks import ATTEMPTS, deliver_email, deliver_stuck_email
from atiende.channels.email.tests.smtp_server import SMTPServer, running_smtp_server
from atiende.channels.email.tokens import conversation_id_from_addresses
from atiende.conversations.actions import (
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.models import ConversationEvent, DeliveryState, Message
from atiende.core.testing import free_port
from atiende.customers.actions import IdentityInput, create_customer, remove_customer_identity

PDF = b"%PDF-1.4\n% factura de prueba\n"


@pytest.fixture(autouse=True)
def _empty_task_schedule():
    # In immediate mode huey keeps scheduled retries in memory, shared by every test.
    HUEY.storage.flush_schedule()
    yield
    HUEY.storage.flush_schedule()


@pytest.fixture
def support_address(brand):
    return EmailAddress.objects.create(
        brand=brand, address="soporte@tiendasol.es", display_name="Tienda Sol", is_default=True
    )


@pytest.fixture
def smtp_server():
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def smtp(settings, smtp_server) -> SMTPServer:
    """Django's own SMTP backend pointed at the loopback server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    return smtp_server


@pytest.fixture
def customer_message(conversation, system):
    return receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="¿Alguna novedad?",
        external_id="abc@mail.example",
    )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Reply as in a request, then run what the commit triggers (the delivery task, inline)."""

    def send_reply(conversation, actor, **fields):
        fields.setdefault("body_text", "Su pedido sale hoy.")
        with django_capture_on_commit_callbacks(execute=True):
            message = reply_to_conversation(
                conversation=conversation, actor=actor, channel="email", **fields
            )
        message.refresh_from_db()
        return message

    return send_reply


def delivery_events(message):
    return ConversationEvent.objects.filter(
        type="message.delivery_updated", payload__message=message.pk
    )


def scheduled_deliveries():
    return [task for task in HUEY.scheduled() if task.name.endswith("deliver_email")]


def body(sent: EmailMessage, subtype: str) -> str:
    part = sent.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def only_message(server: SMTPServer) -> EmailMessage:
    assert len(server.messages) == 1
    return server.messages[0].message


@pytest.mark.django_db(transaction=True)
def test_an_agent_reply_reaches_the_server_after_commit(
    smtp, support_address, conversation, customer_message, agent
):
    with transaction.atomic():
        reply = reply_to_conversation(
            conversation=conversation,
            actor=agent,
            channel="email",
            body_text="Hola Carmen, su pedido sale hoy.",
            body_html="<p>Hola Carmen, su pedido <strong>sale hoy</strong>.</p>",
            attachments=[IncomingAttachment("factura.pdf", PDF, "application/pdf")],
        )
        assert reply.delivery_state == DeliveryState.QUEUED
        assert smtp.messages == []

    sent = only_message(smtp)
    assert smtp.messages[0].rcpt_tos == ["carmen@example.com"]
    assert smtp.messages[0].mail_from == "soporte@tiendasol.es"
    assert sent["From"].addresses[0].display_name == "Alba Agente de Tienda Sol"
    assert sent["From"].addresses[0].addr_spec == "soporte@tiendasol.es"
    assert sent["To"] == "carmen@example.com"
    assert sent["Subject"] == "Re: Mi pedido no ha llegado [SOL-1]"
    reply.refresh_from_db()
    assert sent["Message-ID"] == f"<{reply.external_id}>"
    assert reply.external_id.endswith("@tiendasol.es")
    assert sent["In-Reply-To"] == "<abc@mail.example>"
    assert sent["References"] == "<abc@mail.example>"
    assert sent["X-Atiende-Conversation"] == "SOL-1"
    assert "Auto-Submitted" not in sent
    reply_to = [address for _name, address in getaddresses([str(sent["Reply-To"])])]
    assert reply_to[0].startswith("soporte+c")
    assert reply_to[0].endswith("@tiendasol.es")
    assert conversation_id_from_addresses(reply_to) == conversation.pk

    assert body(sent, "plain").strip() == "Hola Carmen, su pedido sale hoy."
    assert "<strong>sale hoy</strong>" in body(sent, "html")
    (attachment,) = sent.iter_attachments()
    assert attachment.get_filename() == "factura.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF

    assert reply.delivery_state == DeliveryState.SENT
    assert reply.sent_at is not None
    assert reply.delivery_detail == f"250 2.0.0 Ok: queued as {smtp.messages[0].queue_id}"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_reply_is_rolled_back(smtp, support_address, conversation, agent):
    def reply_then_fail():
        with transaction.atomic():
            reply_to_conversation(
                conversation=conversation, actor=agent, channel="email", body_text="Borrador"
            )
            raise RuntimeError("the request failed after the reply")

    with pytest.raises(RuntimeError, match="failed after the reply"):
        reply_then_fail()
    assert smtp.messages == []
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_temporary_refusal_is_retried_until_the_server_accepts(
    smtp, support_address, conversation, agent, send
):
    smtp.refuse("carmen@example.com", "451 4.7.1 Greylisted, try again later", times=1)
    reply = send(conversation, agent)

    assert reply.delivery_state == DeliveryState.RETRYING
    assert "451 4.7.1 Greylisted, try again later" in reply.delivery_detail
    assert f"attempt 1 of {ATTEMPTS}" in reply.delivery_detail
    assert smtp.messages == []
    (retry,) = scheduled_deliveries()
    assert retry.args == (reply.pk, 2)

    HUEY.execute(retry, timestamp=retry.eta)

    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.SENT
    assert only_message(smtp)["Message-ID"] == f"<{reply.external_id}>"
    assert [event.payload["changes"]["delivery"][1] for event in delivery_events(reply)] == [
        "retrying",
        "sent",
    ]


def test_a_temporary_failure_on_the_last_attempt_fails_the_reply(
    smtp, support_address, conversation, agent, send
):
    smtp.refuse("carmen@example.com", "451 4.3.0 Mailbox temporarily unavailable")
    reply = send(conversation, agent)
    assert reply.delivery_state == DeliveryState.RETRYING

    deliver_email(reply.pk, attempt=ATTEMPTS)

    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.FAILED
    assert "451 4.3.0 Mailbox temporarily unavailable" in reply.delivery_detail
    assert f"gave up after {ATTEMPTS} attempts" in reply.delivery_detail
    assert len(scheduled_deliveries()) == 1  # the first attempt's retry; none after the last
    assert smtp.messages == []


def test_a_permanent_refusal_fails_at_once_and_tells_the_agents(
    smtp, support_address, conversation, agent, send
):
    smtp.refuse("carmen@example.com", "550 5.1.1 <carmen@example.com>: Recipient address rejected")
    reply = send(conversation, agent)

    assert reply.delivery_state == DeliveryState.FAILED
    assert reply.delivery_detail == "550 5.1.1 <carmen@example.com>: Recipient address rejected"
    assert reply.sent_at is None
    assert scheduled_deliveries() == []
    (event,) = delivery_events(reply)
    assert event.payload["changes"]["delivery"] == ["queued", "failed"]
    assert "550 5.1.1" in event.payload["detail"]
    assert event.actor_label == "channel:email"


def test_an_unreachable_server_is_retried(settings, support_address, conversation, agent, send):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 5
    reply = send(conversation, agent)

    assert reply.delivery_state == DeliveryState.RETRYING
    assert "Could not reach the mail server" in reply.delivery_detail
    assert "refused" in reply.delivery_detail.lower()
    assert len(scheduled_deliveries()) == 1


def test_a_reply_to_a_customer_without_an_email_address_is_refused_before_it_is_stored(
    smtp, support_address, brand, system, agent, send
):
    caller = create_customer(
        brand=brand,
        actor=system,
        name="Pedro Teléfono",
        identities=[IdentityInput("phone", "+34 600 333 444")],
    )
    phoned = start_conversation(
        brand=brand, customer=caller, channel="phone", actor=system, subject="Llamada",
        body_text="Llamó",
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        send(phoned, agent)

    assert refused.value.code == "no_address_on_channel"
    assert not Message.objects.filter(conversation=phoned, channel="email").exists()
    assert smtp.messages == []


def test_an_address_removed_before_delivery_fails_with_the_reason(
    smtp, support_address, brand, system, agent, django_capture_on_commit_callbacks
):
    caller = create_customer(
        brand=brand,
        actor=system,
        name="Pedro Correo",
        identities=[IdentityInput("email", "pedro@example.com")],
    )
    case = start_conversation(
        brand=brand, customer=caller, channel="email", actor=system, subject="Consulta",
        body_text="Hola",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_to_conversation(
            conversation=case, actor=agent, channel="email", body_text="Le respondo"
        )
        remove_customer_identity(identity=caller.identities.get(), actor=system)
    reply.refresh_from_db()

    assert reply.delivery_state == DeliveryState.FAILED
    assert reply.delivery_detail == "The customer has no email address."
    assert smtp.messages == []


def test_a_brand_without_a_sending_address_fails_with_the_reason(smtp, conversation, agent, send):
    reply = send(conversation, agent)

    assert reply.delivery_state == DeliveryState.FAILED
    assert reply.delivery_detail == "This brand has no sending address."
    assert reply.external_id.endswith("@atiende.invalid")
    assert smtp.messages == []


def test_an_inactive_address_is_not_used_and_the_default_is_preferred(
    smtp, brand, support_address, conversation, agent, send
):
    EmailAddress.objects.create(brand=brand, address="antigua@tiendasol.es", is_active=False)
    EmailAddress.objects.create(brand=brand, address="ayuda@tiendasol.es")
    send(conversation, agent)
    assert smtp.messages[0].mail_from == "soporte@tiendasol.es"
    support_address.is_default = False
    support_address.is_active = False
    support_address.save()
    send(conversation, agent)
    assert smtp.messages[1].mail_from == "ayuda@tiendasol.es"


def test_line_breaks_in_the_subject_cannot_add_headers(
    smtp, support_address, brand, customer, system, agent, send
):
    hostile = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="Hola\r\nBcc: victima@example.com\nX-Injected: yes",
        body_text="Hola",
    )
    reply = send(hostile, agent)

    assert reply.delivery_state == DeliveryState.SENT
    sent = only_message(smtp)
    assert sent.get_all("Subject") == [
        f"Re: Hola Bcc: victima@example.com X-Injected: yes [{hostile.reference}]"
    ]
    assert "Bcc" not in sent
    assert "X-Injected" not in sent
    assert smtp.messages[0].rcpt_tos == ["carmen@example.com"]


def test_without_an_smtp_server_the_reply_is_written_to_the_outbox(
    settings, tmp_path, support_address, conversation, agent, send
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    reply = send(conversation, agent)

    (written,) = (tmp_path / "outbox").iterdir()
    assert f"Message-ID: <{reply.external_id}>" in written.read_text()
    assert reply.delivery_state == DeliveryState.SENT
    assert reply.delivery_detail == "written to the outbox folder (no SMTP server configured)"


def test_running_the_task_twice_sends_once(smtp, support_address, conversation, agent, send):
    reply = send(conversation, agent)
    deliver_email(reply.pk)
    deliver_email(reply.pk, attempt=2)

    assert len(smtp.messages) == 1
    assert delivery_events(reply).count() == 1


def test_a_delivery_already_under_way_is_not_started_again(
    smtp, support_address, conversation, agent, send
):
    send(conversation, agent, body_text="Primera")
    second = reply_to_conversation(
        conversation=conversation, actor=agent, channel="email", body_text="Segunda"
    )
    claim = f"atiende.email.delivery.{second.pk}"
    cache.add(claim, 1)
    try:
        deliver_email(second.pk)
    finally:
        cache.delete(claim)

    second.refresh_from_db()
    assert second.delivery_state == DeliveryState.QUEUED
    assert len(smtp.messages) == 1


def test_automatic_replies_say_so_and_agent_replies_do_not(
    smtp, support_address, conversation, agent, system, send
):
    send(conversation, system, body_text="Hemos recibido su mensaje.")
    send(conversation, agent)
    automatic, personal = (delivered.message for delivered in smtp.messages)
    assert automatic["Auto-Submitted"] == "auto-replied"
    assert automatic["From"].addresses[0].display_name == "Tienda Sol"
    assert "Auto-Submitted" not in personal
    assert personal["From"].addresses[0].display_name == "Alba Agente de Tienda Sol"


def test_the_thread_names_every_message_but_stays_short(
    support_address, conversation, customer_message, system, agent
):
    for index in range(30):
        receive_customer_message(
            conversation=conversation,
            channel="email",
            actor=system,
            body_text=f"Mensaje {index}",
            external_id=f"m{index}@mail.example",
        )
    reply = reply_to_conversation(conversation=conversation, actor=agent, body_text="Respuesta")
    headers = build_email(reply).message()

    references = headers["References"].split()
    assert len(references) == 20
    assert references[0] == "<abc@mail.example>"
    assert references[-1] == "<m29@mail.example>"
    assert headers["In-Reply-To"] == "<m29@mail.example>"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Mi pedido no ha llegado", "Re: Mi pedido no ha llegado [SOL-1]"),
        ("Re: Mi pedido no ha llegado", "Re: Mi pedido no ha llegado [SOL-1]"),
        ("RE: re:Mi pedido [SOL-1]", "Re: Mi pedido [SOL-1]"),
        ("AW: Lieferung", "Re: Lieferung [SOL-1]"),
        ("", "Re: [SOL-1]"),
    ],
)
def test_the_subject_has_one_re_and_the_reference(conversation, subject, expected):
    conversation.subject = subject
    assert reply_subject(conversation) == expected


def test_a_reply_whose_delivery_task_was_lost_is_sent_by_the_sweep(
    smtp, support_address, conversation, agent, monkeypatch
):
    # Not run on commit: as if the queue had been unreachable when the reply was committed.
    lost = reply_to_conversation(conversation=conversation, actor=agent, body_text="Perdida")
    deliver_stuck_email.call_local()
    assert smtp.messages == []  # a reply queued a moment ago is still in its task's hands

    monkeypatch.setattr(tasks, "STUCK_AFTER", timedelta(0))
    deliver_stuck_email.call_local()
    deliver_stuck_email.call_local()

    lost.refresh_from_db()
    assert lost.delivery_state == DeliveryState.SENT
    assert only_message(smtp)["Message-ID"] == f"<{lost.external_id}>"


def test_names_outside_ascii_reach_the_customer_intact(smtp, brand, conversation, system, send):
    lucia = create_staff_user(
        email="lucia@tienda.test", full_name="Lucía Núñez", password="x" * 12, actor=system
    )
    grant_brand_role(user=lucia, brand=brand, role=Role.AGENT, actor=system)
    EmailAddress.objects.create(
        brand=brand, address="atencion@tiendasol.es", display_name="Atención · Tienda Sol"
    )
    send(conversation, lucia)

    sender = only_message(smtp)["From"].addresses[0]
    assert sender.display_name == "Lucía Núñez de Atención · Tienda Sol"
    assert sender.addr_spec == "atencion@tiendasol.es"


def test_inline_images_keep_their_content_id(smtp, support_address, conversation, agent, send):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    send(
        conversation,
        agent,
        attachments=[IncomingAttachment("logo.png", png, "image/png", content_id="<logo@tienda>")],
    )
    (image,) = only_message(smtp).iter_attachments()
    assert image["Content-ID"] == "<logo@tienda>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == png


def test_an_attachment_missing_from_storage_fails_the_reply(
    smtp, support_address, conversation, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        reply = reply_to_conversation(
            conversation=conversation,
            actor=agent,
            body_text="Adjunto la factura",
            attachments=[IncomingAttachment("factura.pdf", PDF, "application/pdf")],
        )
    stored = reply.attachments.get().file
    assert stored.name
    stored.storage.delete(stored.name)
    for callback in callbacks:
        callback()

    reply.refresh_from_db()
    assert reply.delivery_state == DeliveryState.FAILED
    assert reply.delivery_detail == "The attachment factura.pdf is missing from storage."
    assert smtp.messages == []
