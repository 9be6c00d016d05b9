"""Mail arrives by the SMTP receiver and by the raw-MIME webhook; both store before answering."""

import smtplib

import pytest
from aiosmtpd.controller import Controller

from atiende.channels.email.actions import issue_inbound_secret
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.receiver import InboundHandler
from atiende.core.testing import free_port
from atiende.pipeline.models import InboundMessage

RAW = (
    b"From: Lucia <lucia@example.com>\r\nTo: soporte@tiendasol.test\r\nSubject: Hola\r\n"
    b"Message-ID: <webhook-1@example.com>\r\n\r\nMi pedido no ha llegado.\r\n"
)


@pytest.fixture
def support_address(brand):
    return EmailAddress.objects.create(
        brand=brand, address="soporte@tiendasol.test", is_default=True
    )


@pytest.fixture
def secret(support_address, brand_admin):
    return issue_inbound_secret(address=support_address, actor=brand_admin)


def post(client, secret, body=RAW, address="soporte@tiendasol.test", **extra):
    return client.post(
        f"/channels/email/inbound/{address}/",
        data=body,
        content_type="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **extra,
    )


def test_webhook_stores_the_message_once(client, secret, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, secret)
    second = post(client, secret)
    assert first.status_code == second.status_code == 202
    assert first.json()["duplicate"] is False
    assert second.json() == {
        "status": "accepted",
        "inbound": first.json()["inbound"],
        "duplicate": True,
    }
    inbound = InboundMessage.objects.get()
    assert bytes(inbound.raw) == RAW
    assert inbound.source == "webhook"


def test_webhook_accepts_the_form_field_providers_send(client, secret):
    response = client.post(
        "/channels/email/inbound/soporte@tiendasol.test/",
        data={"body-mime": RAW.decode()},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 202


def test_webhook_refuses_a_wrong_secret_an_unknown_address_and_bad_bodies(client, secret, settings):
    assert post(client, "wrong").status_code == 401
    assert post(client, secret, address="nadie@tiendasol.test").json()["error"] == "unauthorized"
    assert post(client, secret, body=b"   ").status_code == 400
    settings.ATIENDE_MAX_MESSAGE_BYTES = 100
    too_large = post(client, secret, body=RAW + b"x" * 200)
    assert too_large.status_code == 413
    assert not InboundMessage.objects.exists()


def test_a_new_secret_replaces_the_old_one(client, secret, support_address, brand_admin):
    newer = issue_inbound_secret(address=support_address, actor=brand_admin)
    assert post(client, secret).status_code == 401
    assert post(client, newer).status_code == 202


@pytest.fixture
def smtp_receiver():
    controller = Controller(InboundHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.mark.django_db(transaction=True)
def test_smtp_receiver_stores_mail_for_our_addresses_and_refuses_others(
    smtp_receiver, support_address
):
    with smtplib.SMTP(smtp_receiver.hostname, smtp_receiver.port, timeout=10) as smtp:
        refused = smtp.sendmail(
            "lucia@example.com", ["nadie@otro.test", "soporte+c1-abc@tiendasol.test"], RAW
        )
    assert list(refused) == ["nadie@otro.test"]
    inbound = InboundMessage.objects.get()
    assert inbound.brand == support_address.brand
    assert bytes(inbound.raw).startswith(b"Delivered-To: soporte+c1-abc@tiendasol.test\r\n")
    assert inbound.source.startswith("smtp:")


@pytest.mark.django_db(transaction=True)
def test_smtp_receiver_refuses_mail_for_nobody_here(smtp_receiver, support_address):
    with (
        smtplib.SMTP(smtp_receiver.hostname, smtp_receiver.port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        smtp.sendmail("lucia@example.com", ["nadie@otro.test"], RAW)
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (RAW, "mid:webhook-1@example.com"),
        # Bare LF lines; a Message-ID-like line in the body is not a header.
        (
            b"Subject: x\nMessage-ID: <lf@example.com>\n\nMessage-ID: <body@example.com>\n",
            "mid:lf@example.com",
        ),
        (b"Subject: x\r\n\r\nMessage-ID: <body@example.com>\r\n", None),
        # No body at all, no empty line: everything is headers.
        (b"Subject: x\r\nMessage-ID: <only-headers@example.com>", "mid:only-headers@example.com"),
        # A header folded over lines before the empty line.
        (
            b"Message-ID:\r\n <folded@example.com>\r\nSubject: y\r\n\r\nbody",
            "mid:folded@example.com",
        ),
    ],
)
def test_the_key_of_a_mail_is_its_message_id_from_its_headers_only(raw, key):
    import hashlib

    from atiende.channels.email.intake import dedupe_key

    assert dedupe_key(raw) == (key or f"sha256:{hashlib.sha256(raw).hexdigest()}")


def test_a_large_mail_is_keyed_and_routed_without_reading_its_body(monkeypatch):
    from atiende.channels.email import intake, parsing, routing

    read: list[int] = []
    parse = parsing._HEADER_PARSER.parsebytes

    def counting_parse(text: bytes) -> object:
        read.append(len(text))
        return parse(text)

    monkeypatch.setattr(parsing._HEADER_PARSER, "parsebytes", counting_parse)
    body = b"A" * 76 + b"\r\n"
    raw = RAW + body * 300_000  # about 23 MB
    assert intake.dedupe_key(raw) == "mid:webhook-1@example.com"
    assert routing.recipients(raw) == ["soporte@tiendasol.test"]
    # The key is read without the parser (parsing.first_header_value), from the header block
    # alone; routing gives the parser that block only.
    assert read == [RAW.index(b"\r\n\r\n") + 4]
