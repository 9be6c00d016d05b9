"""Mail through the whole service chain: customers found or created, threading, reopening,
automatic mail recognised, one message per delivery, hostile input handled."""

import json
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atiende.channels.email.intake import receive_email
from atiende.channels.email.models import EmailAddress
from atiende.channels.email.tokens import reply_to_address
from atiende.conversations.actions import change_status, reply_to_conversation
from atiende.conversations.models import Conversation, Message
from atiende.customers import crn
from atiende.customers.models import Customer, CustomerIdentity
from atiende.pipeline.actions import process_inbound
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus

CORPORA = Path(__file__).resolve().parents[6] / "shared" / "corpora" / "email"
EMAIL_STAGES = [
    "parse",
    "deduplicate",
    "guard_loops",
    "identify_customer",
    "thread",
    "detect_language",
    "apply_status",
    "acknowledge",
]


@pytest.fixture
def support_address(brand):
    return EmailAddress.objects.create(
        brand=brand, address="soporte@tiendasol.test", display_name="Tienda Sol", is_default=True
    )


def mail(
    *,
    sender="Lucía Pérez <lucia@example.com>",
    to="soporte@tiendasol.test",
    subject="Mi pedido no ha llegado",
    body="Hola, el pedido TS-1001 no ha llegado todavía. ¿Me podéis ayudar?",
    message_id=None,
    headers=None,
    attachments=(),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content, maintype, subtype in attachments:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def ingest(brand, raw, source="test"):
    receipt = receive_email(brand=brand, raw=raw, source=source, process=False)
    return process_inbound(receipt.inbound.pk) if receipt.created else receipt.inbound


def test_a_new_mail_becomes_a_customer_and_a_conversation(brand, support_address):
    inbound = ingest(
        brand, mail(attachments=[("ticket.pdf", b"%PDF-1.4 test", "application", "pdf")])
    )
    assert (inbound.status, inbound.outcome) == (InboundStatus.DONE, InboundOutcome.CREATED)
    assert list(inbound.stage_timings) == EMAIL_STAGES
    customer = Customer.objects.get()
    assert crn.is_valid(customer.crn)
    assert customer.name == "Lucía Pérez"
    assert customer.identities.get().value == "lucia@example.com"
    conversation = inbound.conversation
    assert conversation.subject == "Mi pedido no ha llegado"
    assert conversation.language == "es"
    message = inbound.message
    assert message.body_text.startswith("Hola, el pedido TS-1001")
    assert message.attachments.get().filename == "ticket.pdf"
    assert message.external_id.endswith("@example.com")


def test_the_same_mail_delivered_twice_is_one_message(brand, support_address):
    raw = mail(message_id="<twice@example.com>")
    ingest(brand, raw)
    # Another route adds trace headers: different bytes, same Message-ID.
    again = ingest(brand, b"Received: from relay.example.com\r\n" + raw)
    assert again.status == InboundStatus.DONE
    assert InboundMessage.objects.count() == 1
    assert Message.objects.count() == 1


def test_a_reply_threads_by_its_headers_and_reopens_the_solved_case(brand, support_address, agent):
    first = ingest(brand, mail(message_id="<first@example.com>"))
    conversation = first.conversation
    change_status(conversation=conversation, status="solved", actor=agent)
    reply = ingest(
        brand,
        mail(
            subject="Re: otra cosa",
            body="Sigue sin llegar.",
            headers={"In-Reply-To": "<first@example.com>", "References": "<first@example.com>"},
        ),
    )
    assert reply.outcome == InboundOutcome.APPENDED
    assert reply.conversation == conversation
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_the_conversation_number_in_the_subject_threads_only_for_its_customer(
    brand, support_address
):
    first = ingest(brand, mail())
    reference = first.conversation.reference
    same_customer = ingest(
        brand, mail(subject=f"Re: [{reference}] pedido", body="Aquí va el número de seguimiento.")
    )
    stranger = ingest(
        brand,
        mail(
            sender="otro@example.org",
            subject=f"Re: [{reference}] pedido",
            body="Hola, soy otra persona.",
        ),
    )
    assert same_customer.conversation == first.conversation
    assert stranger.conversation != first.conversation
    assert stranger.outcome == InboundOutcome.CREATED


def test_a_reply_to_the_signed_reply_to_address_threads(brand, support_address):
    first = ingest(brand, mail())
    token_address = reply_to_address(support_address, first.conversation.pk)
    reply = ingest(
        brand,
        mail(
            to=token_address,
            subject="sin cabeceras",
            body="Contesto desde otro programa de correo.",
        ),
    )
    assert reply.conversation == first.conversation
    local, _at, domain = token_address.rpartition("@")
    altered = local[:-1] + ("b" if local[-1] != "b" else "c")
    forged = ingest(
        brand,
        mail(
            to=f"{altered}@{domain}",
            subject="falso",
            body="Intento colarme en el hilo.",
        ),
    )
    assert forged.conversation != first.conversation


def test_a_message_to_a_closed_conversation_starts_a_follow_up(brand, support_address, agent):
    first = ingest(brand, mail(message_id="<closed@example.com>"))
    change_status(conversation=first.conversation, status="solved", actor=agent)
    change_status(conversation=first.conversation, status="closed", actor=agent)
    later = ingest(
        brand, mail(body="Otra pregunta.", headers={"In-Reply-To": "<closed@example.com>"})
    )
    assert later.outcome == InboundOutcome.CREATED
    assert later.conversation.follow_up_of == first.conversation


def test_a_crn_in_the_subject_links_a_new_address_to_its_customer(brand, support_address, customer):
    inbound = ingest(
        brand,
        mail(
            sender="carmen.trabajo@example.net",
            subject=f"Consulta, mi CRN es {customer.crn_display}",
        ),
    )
    assert inbound.message.author_customer == customer
    assert customer.identities.filter(value="carmen.trabajo@example.net").exists()
    assert "CRN" in inbound.notes


def test_automatic_replies_are_recorded_and_never_answered(brand, support_address):
    inbound = ingest(
        brand,
        mail(
            subject="Respuesta automática: fuera de la oficina",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    assert inbound.outcome == InboundOutcome.AUTO_REPLY
    assert not Conversation.objects.exists()


def test_mail_from_our_own_address_is_a_loop_whatever_the_letter_case(brand, support_address):
    inbound = ingest(brand, mail(sender="soporte@tiendasol.test"))
    assert inbound.outcome == InboundOutcome.AUTO_REPLY
    assert "loop" in inbound.notes
    # An address typed in capitals (as the admin allows) is kept lower-case, and still matches.
    shouting = EmailAddress.objects.create(brand=brand, address="Ventas@TiendaSol.test")
    assert shouting.address == "ventas@tiendasol.test"
    again = ingest(brand, mail(sender="VENTAS@tiendasol.TEST", message_id="<v@example.com>"))
    assert again.outcome == InboundOutcome.AUTO_REPLY


def test_a_bounce_marks_the_address_failing_and_tells_the_agents(brand, support_address, agent):
    first = ingest(brand, mail(sender="rebota@example.com", message_id="<orig@example.com>"))
    reply = reply_to_conversation(
        conversation=first.conversation, actor=agent, body_text="Le contestamos"
    )
    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    bounce["To"] = "soporte@tiendasol.test"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = make_msgid(domain="mx.example.com")
    bounce["Content-Type"] = "multipart/report; report-type=delivery-status; boundary=XYZ"
    bounce.set_payload(
        "--XYZ\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver.\r\n"
        "--XYZ\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; rebota@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        f"--XYZ\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{reply.external_id}>\r\nSubject: Re: x\r\n"
        "--XYZ--\r\n"
    )
    inbound = ingest(brand, bounce.as_bytes())
    assert inbound.outcome == InboundOutcome.BOUNCE
    identity = CustomerIdentity.objects.get(value="rebota@example.com")
    assert identity.failing_since is not None
    note = first.conversation.messages.filter(direction="internal").get()
    assert "could not be delivered" in note.body_text


def test_hostile_mail_is_handled_safely(brand, support_address, settings):
    settings.ATIENDE_MAX_ATTACHMENT_BYTES = 1024
    raw = mail(
        subject="Hola",
        attachments=[("grande.bin", b"x" * 4096, "application", "octet-stream")],
    ).replace(b"Subject: Hola", b"Subject: Hola\r\n Bcc: victima@example.com")
    html = (
        b"From: a@example.com\r\nTo: soporte@tiendasol.test\r\nSubject: html\r\nMessage-ID: <h@example.com>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p onclick='x()'>Hola<script>alert(1)</script><img src=x onerror=alert(2)></p>"
    )
    first = ingest(brand, raw)
    second = ingest(brand, html)
    assert first.status == second.status == InboundStatus.DONE
    # The folded "Bcc:" is part of the subject's text, on one line: never a header of its own.
    assert first.conversation.subject == "Hola Bcc: victima@example.com"
    assert not first.message.attachments.exists()
    assert "grande.bin" in first.notes
    assert "script" not in second.message.body_html
    assert "onerror" not in second.message.body_html
    assert second.message.body_text.startswith("Hola")


def test_ten_thousand_mime_parts_do_not_take_the_service_down(brand, support_address):
    parts = "".join(
        f"--B\r\nContent-Type: text/plain\r\n\r\npart {index}\r\n" for index in range(10_000)
    )
    raw = (
        "From: partes@example.com\r\nTo: soporte@tiendasol.test\r\nSubject: muchas partes\r\n"
        "Message-ID: <parts@example.com>\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        + parts
        + "--B--\r\n"
    ).encode()
    inbound = ingest(brand, raw)
    assert inbound.status == InboundStatus.DONE
    assert inbound.outcome == InboundOutcome.CREATED
    # Visible to whoever looks at the inbound message: the rest was not read.
    assert "stopped after 500 parts" in inbound.notes


def test_a_25_mb_attachment_is_kept_whole(brand, support_address):
    # The real default limit (25 MiB) and a real 25 MB file: stored intact, not held in a column.
    content = bytes(range(256)) * (25_000_000 // 256)
    inbound = ingest(
        brand,
        mail(
            subject="Contrato escaneado",
            attachments=[("contrato.pdf", b"%PDF-1.7\n" + content, "application", "pdf")],
        ),
    )
    assert inbound.status == InboundStatus.DONE
    stored = inbound.message.attachments.get()
    assert stored.size == len(content) + len(b"%PDF-1.7\n")
    assert stored.content_type == "application/pdf"
    with stored.file.open("rb") as handle:
        assert handle.read(9) == b"%PDF-1.7\n"


def test_a_zip_bomb_with_a_hostile_name_is_stored_unopened_and_renamed(brand, support_address):
    import io
    import zipfile

    # 200 MB of zeros compress to about 200 kB: we never expand archives, so it stays small.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ceros.bin", b"\0" * 200_000_000)
    hostile_name = "../../etc/cron.d/factura\u202efdp.zip"
    inbound = ingest(
        brand,
        mail(
            subject="Factura",
            attachments=[(hostile_name, bomb.getvalue(), "application", "zip")],
        ),
    )
    assert inbound.status == InboundStatus.DONE
    stored = inbound.message.attachments.get()
    assert stored.size == len(bomb.getvalue()) < 1_000_000
    assert stored.filename == "factura_fdp.zip"
    assert stored.content_type == "application/zip"
    assert ".." not in stored.file.name
    assert "\u202e" not in stored.file.name


def _corpus_files() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    return sorted(
        path
        for path in CORPORA.rglob("*")
        if path.is_file() and path.suffix in {".eml", ".box", ""} and path.name != "MANIFEST"
    )


def test_every_corpus_message_passes_the_chain_without_an_unhandled_error(brand, support_address):
    files = _corpus_files()
    assert len(files) > 150, f"corpora not found at {CORPORA}"
    stuck = []
    for path in files:
        inbound = ingest(brand, path.read_bytes(), source=f"import:{path.name}")
        if inbound.status != InboundStatus.DONE:
            stuck.append(f"{path.relative_to(CORPORA)}: {inbound.error}")
    assert stuck == []


def test_import_mail_processes_in_batches_and_reports_in_reading_order(
    brand, support_address, tmp_path, capsys, monkeypatch
):
    from atiende.channels.email.management.commands import import_mail

    batches: list[list[int]] = []
    real_batch = import_mail.process_inbound_batch

    def recording(ids):
        batches.append(list(ids))
        return real_batch(ids)

    monkeypatch.setattr(import_mail, "BATCH_SIZE", 2)
    monkeypatch.setattr(import_mail, "process_inbound_batch", recording)
    chunks = []
    for number in range(1, 6):
        # Each message answers the one before it: across batches and within one.
        headers = {"In-Reply-To": f"<hilo{number - 1}@example.com>"} if number > 1 else {}
        chunks.append(
            f"From lucia@example.com Mon Nov 23 1{number}:00:00 2026\n".encode()
            + mail(
                message_id=f"<hilo{number}@example.com>", body=f"parte {number}", headers=headers
            )
            + b"\n"
        )
    chunks.insert(2, chunks[1])  # the same mail twice in the archive
    archive = tmp_path / "hilo.mbox"
    archive.write_bytes(b"".join(chunks))
    call_command("import_mail", str(archive), "--brand", brand.slug, "--json")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(Path(line["file"]).name, line["status"]) for line in lines] == [
        ("hilo.mbox#1", "created"),
        ("hilo.mbox#2", "appended"),
        ("hilo.mbox#3", "duplicate"),
        ("hilo.mbox#4", "appended"),
        ("hilo.mbox#5", "appended"),
        ("hilo.mbox#6", "appended"),
    ]
    assert [line["message_id"] for line in lines] == [
        "hilo1@example.com", "hilo2@example.com", "hilo2@example.com",
        "hilo3@example.com", "hilo4@example.com", "hilo5@example.com",
    ]  # fmt: skip
    assert {line["conversation"] for line in lines} == {lines[0]["conversation"]}
    # Batches of mails read (two here), stored together, then the new ones processed: the
    # duplicate took a place in the second.
    assert [len(batch) for batch in batches] == [2, 1, 2]
    assert Message.objects.filter(brand=brand).count() == 5


def test_import_mail_stores_each_mbox_message_byte_for_byte(brand, support_address, tmp_path):
    """What an mbox holds between its "From " lines is stored as it is: not parsed and written
    out again, which folded a long header anew and put a blank line before a malformed one (so
    that it, and everything after it, became the body)."""
    long_header = (
        b"From: Lucia <lucia@example.com>\nTo: soporte@tiendasol.test\nSubject: Factura\n"
        b"Message-ID: <crudo1@example.com>\nX-Referencia: " + b"x" * 120 + b"\n\nLa factura.\n"
    )
    malformed = (
        b"From: Lucia <lucia@example.com>\nTo: soporte@tiendasol.test\nSubject: Otra\n"
        b"Message-ID: <crudo2@example.com>\nUna linea sin dos puntos\n\nOtra pregunta.\n"
    )
    archive = tmp_path / "crudo.mbox"
    archive.write_bytes(
        b"From lucia@example.com Mon Nov 23 10:00:00 2026\n" + long_header + b"\n"
        b"From lucia@example.com Mon Nov 23 11:00:00 2026\n" + malformed + b"\n"
    )
    call_command("import_mail", str(archive), "--brand", brand.slug)
    stored = [bytes(row.raw) for row in InboundMessage.objects.order_by("pk")]
    assert stored == [long_header, malformed]


def test_import_mail_reports_each_message_and_a_second_import_changes_nothing(
    brand, support_address, tmp_path, capsys
):
    (tmp_path / "uno.eml").write_bytes(mail(message_id="<uno@example.com>"))
    (tmp_path / "auto.eml").write_bytes(
        mail(message_id="<auto@example.com>", headers={"Auto-Submitted": "auto-replied"})
    )
    archive = tmp_path / "archivo.mbox"
    archive.write_bytes(
        b"From lucia@example.com Mon Nov 23 10:00:00 2026\n"
        + mail(message_id="<mbox1@example.com>", body="uno")
        + b"\n"
        b"From lucia@example.com Mon Nov 23 11:00:00 2026\n"
        + mail(
            message_id="<mbox2@example.com>",
            subject="Re: Mi pedido no ha llegado",
            body="dos",
            headers={"In-Reply-To": "<mbox1@example.com>"},
        )
        + b"\n"
    )
    call_command("import_mail", str(tmp_path), "--brand", brand.slug, "--json")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    statuses = {Path(line["file"]).name: line["status"] for line in lines}
    assert statuses == {
        "archivo.mbox#1": "created",
        "archivo.mbox#2": "appended",
        "auto.eml": "auto_reply",
        "uno.eml": "created",
    }
    assert {line["message_id"] for line in lines} >= {"uno@example.com", "mbox1@example.com"}
    assert all(
        line["conversation"].startswith("SOL-")
        for line in lines
        if line["status"] in {"created", "appended"}
    )
    counts = (Conversation.objects.count(), Message.objects.count(), InboundMessage.objects.count())
    with CaptureQueriesContext(connection) as queries:
        call_command("import_mail", str(tmp_path), "--brand", brand.slug, "--json")
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["status"] for line in again} == {"duplicate"}
    # Reported as the first import reported them, what they became read for all at once.
    assert sorted((line["file"], line["conversation"], line["message_id"]) for line in again) == (
        sorted((line["file"], line["conversation"], line["message_id"]) for line in lines)
    )
    one_by_one = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and 'FROM "conversations_' in query["sql"]
    ]
    assert one_by_one == []
    assert (
        Conversation.objects.count(),
        Message.objects.count(),
        InboundMessage.objects.count(),
    ) == counts
