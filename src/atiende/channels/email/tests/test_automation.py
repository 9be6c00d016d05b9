"""Recognising mail a machine sent: bounces, auto-replies, read receipts, abuse reports."""

from __future__ import annotations

import email
from email.policy import default

import pytest

from atiende.channels.email.automation import classify
from atiende.channels.email.parsing import parse_mail


def _plain(headers: str, body: str = "Hola\n") -> bytes:
    base = "Message-ID: <m1@example.com>\nDate: Mon, 3 Mar 2025 10:00:00 +0100\nTo: soporte@tienda.test\n"
    return f"{base}{headers.strip()}\n\n{body}".encode()


def _dsn(
    action: str, status: str, *, final: str = "rfc822; carmen@example.com", original: str = ""
) -> bytes:
    original_line = f"Original-Recipient: {original}\n" if original else ""
    return f"""From: MAILER-DAEMON@mx.tienda.test (Mail Delivery System)
To: soporte@tienda.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce1@mx.tienda.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.tienda.test

{original_line}Final-Recipient: {final}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <carmen@example.com>: User unknown

--B
Content-Type: message/rfc822

Message-ID: <reply-42@tienda.test>
From: soporte@tienda.test
To: carmen@example.com
Subject: Re: Pedido

Su pedido ha salido.

--B--
""".encode()


def test_a_failed_dsn_is_a_bounce_naming_the_address_and_the_returned_message() -> None:
    mail = parse_mail(_dsn("failed", "5.1.1"))

    assert mail.automation == "bounce"
    assert mail.bounced_recipients == ("carmen@example.com",)
    assert mail.bounced_message_id == "reply-42@tienda.test"
    assert "5.1.1" in mail.automation_reason
    assert "DSN multipart/report" in mail.automation_reason


def test_the_original_recipient_comes_before_the_final_one() -> None:
    mail = parse_mail(
        _dsn(
            "failed",
            "5.1.1",
            final="rfc822; carmen@mail.example.com",
            original="rfc822;<Carmen@Example.com>",
        )
    )

    assert mail.bounced_recipients == ("carmen@example.com", "carmen@mail.example.com")


def test_a_delay_notice_is_a_bounce_without_a_failed_address() -> None:
    mail = parse_mail(_dsn("delayed", "4.4.1"))

    assert mail.automation == "bounce"
    assert mail.bounced_recipients == ()
    assert "delayed" in mail.automation_reason
    assert "carmen@example.com" in mail.automation_reason


def test_a_success_notice_is_not_answered_but_is_no_bounce() -> None:
    mail = parse_mail(_dsn("delivered", "2.0.0"))

    assert mail.automation == "auto_reply"
    assert "succeeded" in mail.automation_reason


def test_an_abuse_report_is_not_answered() -> None:
    raw = _plain(
        "From: scomp@aol.net\nSubject: Email Feedback Report\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type="feedback-report"; boundary="B"',
        "--B\nContent-Type: text/plain\n\nAbuse report\n--B\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: AOL\n\n--B--\n",
    )

    mail = parse_mail(raw)

    assert (mail.automation, mail.automation_reason) == (
        "auto_reply",
        "abuse report (ARF feedback-report: abuse)",
    )


def test_a_read_receipt_is_not_answered() -> None:
    raw = _plain(
        "From: Carmen <carmen@example.com>\nSubject: Leído: Pedido\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="B"',
        "--B\nContent-Type: text/plain\n\nSu mensaje fue leído.\n--B\nContent-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822;carmen@example.com\nDisposition: manual-action/MDN-sent-manually; displayed\n\n--B--\n",
    )

    assert parse_mail(raw).automation_reason.startswith("read receipt")


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("MAILER-DAEMON@mx.example.com", "Undelivered Mail Returned to Sender"),
        (
            "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Delivery Status Notification (Failure)",
        ),
        ("postmaster@example.com", "Undeliverable: Pedido 1001"),
        ("postmaster@example.es", "No se puede entregar: Pedido 1001"),
        (
            "Mail Delivery System <postmaster@example.com>",
            "Mail delivery failed: returning message to sender",
        ),
        ("MAILER-DAEMON@example.com", "Returned mail: see transcript for details"),
    ],
)
def test_text_bounces_without_a_dsn_are_bounces(sender: str, subject: str) -> None:
    raw = _plain(
        f"From: {sender}\nSubject: {subject}\nX-Failed-Recipients: carmen@example.com",
        "Delivery to the following recipient failed permanently:\n\n    carmen@example.com\n",
    )

    mail = parse_mail(raw)

    assert mail.automation == "bounce"
    assert mail.bounced_recipients == ("carmen@example.com",)


def test_a_text_bounce_without_x_failed_recipients_names_the_address_in_its_text() -> None:
    raw = _plain(
        "From: Postmaster <postmaster@example.com>\nSubject: Undeliverable Mail",
        "Delivery failed 10 attempts: carmen@example.com\n\n\nOriginal message follows.\n\n"
        "From: soporte@tienda.test\nTo: carmen@example.com\nMessage-ID: <reply-7@tienda.test>\n\nHola\n",
    )

    mail = parse_mail(raw)

    assert mail.bounced_recipients == ("carmen@example.com",)
    assert mail.bounced_message_id == "reply-7@tienda.test"


def test_a_customer_writing_about_an_undelivered_parcel_is_no_bounce() -> None:
    raw = _plain(
        "From: Carmen <carmen@example.com>\nSubject: Undelivered parcel - returned to sender",
        "¿Dónde está?\n",
    )

    assert parse_mail(raw).automation == ""


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified; owner-email=x@y", "Auto-Submitted: auto-notified"),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: Out of office", "X-Autorespond: out of office"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Return-Path: <>", "null return path (Return-Path: <>), sent by a machine"),
    ],
)
def test_automatic_headers_make_an_auto_reply(header: str, reason: str) -> None:
    mail = parse_mail(_plain(f"From: Carmen <carmen@example.com>\nSubject: Pedido\n{header}"))

    assert (mail.automation, mail.automation_reason) == ("auto_reply", reason)


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "X-Auto-Response-Suppress: All",
        "X-Auto-Response-Suppress: OOF, DR, RN",
        "Precedence: list\nList-Id: <clientes.tienda.test>",
        "Precedence: bulk\nList-Id: <soporte.googlegroups.com>",
        "Precedence: bulk\nSender: owner-clientes@lists.example.com",
        "List-Unsubscribe: <mailto:unsubscribe@example.com>",
    ],
)
def test_ordinary_and_list_mail_is_not_automatic(header: str) -> None:
    assert (
        parse_mail(
            _plain(f"From: Carmen <carmen@example.com>\nSubject: Pedido\n{header}")
        ).automation
        == ""
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Pedido 1001",
        "Respuesta automática: Pedido 1001",
        "Out of Office: Pedido 1001",
        "Out of Office AutoReply: Pedido",
        "Fuera de la oficina",
        "Fuera de la oficina: Pedido 1001",
        "Auto-Reply: Pedido",
        "Réponse automatique : Commande",
    ],
)
def test_out_of_office_subjects_make_an_auto_reply(subject: str) -> None:
    mail = parse_mail(_plain(f"From: Carmen <carmen@example.com>\nSubject: {subject}"))

    assert mail.automation == "auto_reply"
    assert subject[:20] in mail.automation_reason


@pytest.mark.parametrize(
    "subject",
    [
        "Re: out of office hours support?",
        "Pregunta sobre la respuesta automática de la web",
        "Automatic payments",
    ],
)
def test_subjects_that_merely_mention_automation_are_ordinary(subject: str) -> None:
    assert (
        parse_mail(_plain(f"From: Carmen <carmen@example.com>\nSubject: {subject}")).automation
        == ""
    )


def test_classify_reads_a_message_of_the_email_package() -> None:
    message = email.message_from_bytes(_dsn("failed", "5.1.1"), policy=default)

    kind, reason = classify(message)

    assert kind == "bounce"
    assert "5.1.1" in reason


def test_classify_says_nothing_about_a_persons_mail() -> None:
    message = email.message_from_bytes(
        _plain("From: Carmen <carmen@example.com>\nSubject: Hola"), policy=default
    )

    assert classify(message) == ("", "")
