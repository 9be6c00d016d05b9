"""parse_mail on small messages written for one behaviour each."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atiende.channels.email import parsing
from atiende.channels.email.parsing import (
    Address,
    UnparseableMail,
    decode_bytes,
    decode_header_value,
    normalize_message_id,
    parse_mail,
)

HEADERS = (
    "From: Carmen Cliente <carmen@example.com>\nTo: Soporte <soporte@tienda.test>\n"
    "Message-ID: <m1@example.com>\nDate: Mon, 3 Mar 2025 10:00:00 +0100\n"
)


def _mail(extra_headers: str = "", body: str = "Hola\n", *, headers: str = HEADERS) -> bytes:
    return f"{headers}{extra_headers}\n{body}".encode()


def _multipart(subtype: str, *parts: str, headers: str = HEADERS) -> bytes:
    body = "".join(f"--XYZ\n{part}\n" for part in parts) + "--XYZ--\n"
    return _mail(
        f'MIME-Version: 1.0\nContent-Type: multipart/{subtype}; boundary="XYZ"\n',
        body,
        headers=headers,
    )


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


# --- input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \r\n\t\n"])
def test_empty_input_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMail):
        parse_mail(raw)


def test_an_ordinary_message_reads_whole() -> None:
    mail = parse_mail(_mail("Subject: Pedido 1001\nCc: Ana <Ana@Example.com>, luis@example.com\n"))

    assert mail.sender == Address("Carmen Cliente", "carmen@example.com")
    assert mail.to == (Address("Soporte", "soporte@tienda.test"),)
    assert mail.cc == (Address("Ana", "ana@example.com"), Address("", "luis@example.com"))
    assert (mail.message_id, mail.subject, mail.text) == ("m1@example.com", "Pedido 1001", "Hola")
    assert mail.date == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    assert (mail.quoted_text, mail.html, mail.attachments, mail.defects) == ("", "", (), ())


# --- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_subject", "subject"),
    [
        ("=?UTF-8?B?wr9Ew7NuZGUgZXN0w6EgbWkgcGVkaWRvPw==?=", "¿Dónde está mi pedido?"),
        ("=?ISO-8859-1?Q?Devoluci=F3n_del_pedido?=", "Devolución del pedido"),
        (
            "Re: =?utf-8?q?Devoluci=C3=B3n?= =?iso-8859-1?q?_y_cambio_=E1gil?= ya",
            "Re: Devolución y cambio ágil ya",
        ),
        ("=?utf-8?B?wr9Ew7Nu?=\n =?utf-8?B?ZGUgZXN0w6E/?=", "¿Dónde está?"),
        ("=?utf-8?B?w6E=?= =?utf-8?B?w6k=?= - =?utf-8?B?w60=?=", "áé - í"),
        ("=?us-ascii?Q?ABC / 123 / ABC?=", "ABC / 123 / ABC"),
        ("=?utf-8?B?4oKs?= 10", "€ 10"),
    ],
)
def test_encoded_word_subjects_are_decoded(raw_subject: str, subject: str) -> None:
    assert parse_mail(_mail(f"Subject: {raw_subject}\n")).subject == subject


def test_a_character_split_between_two_encoded_words_is_rebuilt() -> None:
    # "á" is C3 A1 in UTF-8; one word ends after C3, the next starts with A1.
    assert decode_header_value("=?utf-8?Q?Cami=C3?= =?utf-8?Q?=A1n?=") == "Camián"


def test_a_mislabelled_encoded_word_is_read_in_the_charset_that_fits() -> None:
    shift_jis = "ツール".encode("cp932")

    assert (
        decode_header_value(f"=?iso-2022-jp?B?{base64.b64encode(shift_jis).decode()}?=") == "ツール"
    )


def test_raw_8bit_subject_bytes_are_decoded() -> None:
    raw = HEADERS.encode() + "Subject: Devolución\n\nHola\n".encode("latin-1")

    assert parse_mail(raw).subject == "Devolución"


@pytest.mark.parametrize(
    "raw_subject",
    [
        "=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?=",
        "=?utf-8?b?SGkNCkJjYzogeEBldmlsLnRlc3Q=?=",
        "Hi\n Bcc: x@evil.test",
    ],
)
def test_subject_header_injection_stays_on_one_line(raw_subject: str) -> None:
    mail = parse_mail(_mail(f"Subject: {raw_subject}\n"))

    assert mail.subject == "Hi Bcc: x@evil.test"
    assert "bcc" not in mail.headers


def test_display_names_are_decoded_and_a_comment_names_the_sender() -> None:
    mail = parse_mail(
        _mail(
            "Reply-To: =?utf-8?Q?Jos=C3=A9?= =?utf-8?Q?_P=C3=A9rez?= <Jose@Example.com>\n",
            headers="From: carmen@example.com (Carmen Cliente)\nTo: a@b.test\nMessage-ID: <x@y>\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n",
        )
    )

    assert mail.sender == Address("Carmen Cliente", "carmen@example.com")
    assert mail.reply_to == (Address("José Pérez", "jose@example.com"),)


def test_an_encoded_word_inside_an_address_is_not_decoded_into_another_address() -> None:
    raw = _mail(headers="From: =?utf-8?Q?attacker?Q?agent?=@victim.example\nTo: a@b.test\n")

    sender = parse_mail(raw).sender

    assert sender is not None
    assert sender.address != "agent@victim.example"


def test_an_address_that_cannot_be_read_is_empty_and_named_as_a_defect() -> None:
    mail = parse_mail(
        _mail(headers="From: Soporte de nadie\nTo: undisclosed-recipients:;\nMessage-ID: <a@b>\n")
    )

    assert mail.sender == Address("", "")
    assert mail.to == ()
    assert any("from header holds no valid address" in defect for defect in mail.defects)


def test_a_broken_bracketed_address_is_not_cut_into_someone_elses() -> None:
    raw = _mail(headers='From: "Secret" <power quadrant system@example.com>\nTo: a@b.test\n')

    assert parse_mail(raw).sender == Address("Secret", "")


def test_a_lone_address_beside_junk_is_salvaged() -> None:
    mail = parse_mail(_mail(headers="From: Fax test@example.com\nTo: a@b.test\n"))

    assert mail.sender == Address("", "test@example.com")
    assert any("from header holds no valid address" in defect for defect in mail.defects)


@pytest.mark.parametrize(
    ("missing", "defect"),
    [
        ("From", "no From header"),
        ("Message-ID", "no Message-ID header"),
        ("Date", "no Date header"),
    ],
)
def test_missing_headers_are_defects_not_exceptions(missing: str, defect: str) -> None:
    headers = "".join(line + "\n" for line in HEADERS.splitlines() if not line.startswith(missing))

    mail = parse_mail(_mail(headers=headers))

    assert defect in mail.defects
    assert mail.text == "Hola"


def test_a_missing_sender_is_none() -> None:
    assert parse_mail(_mail(headers="To: a@b.test\nSubject: x\n")).sender is None


@pytest.mark.parametrize(
    "date",
    [
        "Wed, 05 Sep 2018 29:24:05 +0700",
        "not a date",
        "Pn, 29 paX 2007 21:13:00 +0100",
        "32 Foo 99999",
    ],
)
def test_a_broken_date_is_none_with_a_defect(date: str) -> None:
    mail = parse_mail(_mail(f"Date: {date}\n", headers="From: a@b.test\nMessage-ID: <x@y>\n"))

    assert mail.date is None
    assert any(defect.startswith("Date header unreadable") for defect in mail.defects)


def test_a_date_without_zone_is_utc_and_others_are_converted_to_utc() -> None:
    plain = parse_mail(_mail("Date: Mon, 3 Mar 2025 10:00:00\n", headers="From: a@b.test\n"))
    offset = parse_mail(_mail("Date: Mon, 3 Mar 2025 10:00:00 -0500\n", headers="From: a@b.test\n"))

    assert plain.date == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    assert offset.date == datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def test_references_and_in_reply_to_keep_order_and_skip_junk() -> None:
    mail = parse_mail(
        _mail(
            "References: <first@example.com>\n <second@tienda.test> junk (comment) <third\n @x.test>\n"
            "References: <first@example.com> <not an id>\n"
            "In-Reply-To: Your message of Monday <third@x.test> (Carmen)\n"
        )
    )

    assert mail.references == ("first@example.com", "second@tienda.test", "third@x.test")
    assert mail.in_reply_to == ("third@x.test",)


def test_an_in_reply_to_without_brackets_is_still_read() -> None:
    assert parse_mail(_mail("In-Reply-To: abc@example.com\n")).in_reply_to == ("abc@example.com",)


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("<Abc@x>", "Abc@x"),
        ("  <Abc@x>  ", "Abc@x"),
        ("<Abc@\n x>", "Abc@x"),
        ("Abc@x", "Abc@x"),
        ("<Abc@x> (comment)", "Abc@x"),
        ("", ""),
        ("<>", ""),
    ],
)
def test_normalize_message_id(value: str, normalised: str) -> None:
    assert normalize_message_id(value) == normalised


def test_a_folded_message_id_is_read_whole() -> None:
    raw = _mail(headers="From: a@b.test\nMessage-ID:\n <DM6PR02MF1425@do1ram03.example.com>\n")

    assert parse_mail(raw).message_id == "DM6PR02MF1425@do1ram03.example.com"


def test_delivered_to_lists_envelope_recipients() -> None:
    mail = parse_mail(
        _mail(
            "Delivered-To: Soporte+c42@Tienda.test\nX-Original-To: soporte@tienda.test\nEnvelope-To: <soporte@tienda.test>\n"
        )
    )

    assert mail.delivered_to == ("soporte+c42@tienda.test", "soporte@tienda.test")


def test_useful_raw_headers_are_kept_with_lower_case_names() -> None:
    mail = parse_mail(
        _mail("X-Mailer: Outlook 16.0\nList-Id: <clientes.tienda.test>\nX-Secret: no\n")
    )

    assert dict(mail.headers) == {"x-mailer": "Outlook 16.0", "list-id": "<clientes.tienda.test>"}


def test_garbage_before_the_headers_and_unindented_continuations_are_repaired() -> None:
    raw = (
        b"---- Original email message ----\r\nReceived: from mail.example.cz\r\nby mx.example.cz with ESMTP\r\n"
        b"To: soporte@tienda.test\r\nSubject: Contact form\r\nFrom: carmen@example.com\r\n\r\nHola\r\n"
    )

    mail = parse_mail(raw)

    assert (mail.subject, mail.text) == ("Contact form", "Hola")
    assert mail.sender == Address("", "carmen@example.com")


# --- bodies and charsets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "payload", "text"),
    [
        ("utf8", "Devolución".encode(), "Devolución"),
        ("latin1", "Devolución".encode("latin-1"), "Devolución"),
        ("iso-8859-1", "Precio: 10€".encode("cp1252"), "Precio: 10€"),
        ("iso-2022-jp", "すみません".encode("iso2022_jp"), "すみません"),
        ("euc-kr", "스티해".encode("euc_kr"), "스티해"),
        ("ks_c_5601-1987", "Запрос цены".encode("cp949"), "Запрос цены"),
        ("shift_jis", "あいうえお".encode("shift_jis"), "あいうえお"),
        ("gb2312", "你好".encode("gb2312"), "你好"),
    ],
)
def test_text_parts_are_decoded_by_their_charset(charset: str, payload: bytes, text: str) -> None:
    raw = (
        HEADERS.encode()
        + f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n".encode()
        + payload
    )

    mail = parse_mail(raw)

    assert mail.text == text
    assert not [defect for defect in mail.defects if "charset" in defect]


@pytest.mark.parametrize(
    "charset", ["unknown-8bit", "x-unknown", "us-ascii", "utf-8", "bogus-charset"]
)
def test_bytes_that_do_not_fit_the_declared_charset_are_still_read(charset: str) -> None:
    raw = (
        HEADERS.encode()
        + f"Content-Type: text/plain; charset={charset}\n\n".encode()
        + "Devolución €".encode("cp1252")
    )

    assert parse_mail(raw).text == "Devolución €"


def test_a_wrong_charset_is_named_as_a_defect() -> None:
    raw = (
        HEADERS.encode()
        + b"Content-Type: text/plain; charset=utf-8\n\n"
        + "Devolución".encode("latin-1")
    )

    mail = parse_mail(raw)

    assert mail.text == "Devolución"
    assert any("did not fit" in defect for defect in mail.defects)


def test_decode_bytes_prefers_the_hinted_family_for_undeclared_bytes() -> None:
    assert decode_bytes("ツール".encode("cp932"), None, "iso-2022-jp") == (
        "ツール",
        "charset undeclared did not fit the bytes; read as cp932",
    )


@pytest.mark.parametrize(
    "encoding",
    ["quoted printable", "Quoted-Printable", "quoted-printable;", "QUOTED-PRINTABLE"],
)
def test_misspelt_quoted_printable_is_decoded(encoding: str) -> None:
    raw = _mail(
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {encoding}\n",
        "Devoluci=C3=B3n=\n del pedido\n",
    )

    assert parse_mail(raw).text == "Devolución del pedido"


def test_format_flowed_lines_are_joined() -> None:
    raw = _mail(
        "Content-Type: text/plain; charset=utf-8; format=flowed\n",
        "Este es un p\u00e1rrafo largo que el \nprograma parti\u00f3 en dos.\n\n> cita \n> partida\n-- \nCarmen\n",
    )

    assert (
        parse_mail(raw).text
        == "Este es un párrafo largo que el programa partió en dos.\n\n> cita partida\n-- \nCarmen"
    )


def test_html_only_mail_gets_its_text_from_the_html_without_scripts() -> None:
    raw = _mail(
        "Content-Type: text/html; charset=utf-8\n",
        "<html><head><style>p{color:red}</style><script>var secret = 1;</script></head><body>"
        "<p>Hola,</p><p>el pedido&nbsp;1001 no ha llegado &amp; nadie responde.</p><script>alert('x')</script></body></html>\n",
    )

    mail = parse_mail(raw)

    assert mail.text == "Hola,\n\nel pedido 1001 no ha llegado & nadie responde."
    assert "<script>" in mail.html  # the caller sanitises; the parser keeps the HTML as found


def test_an_html_reply_splits_the_quote_from_the_html() -> None:
    raw = _mail(
        "Content-Type: text/html; charset=utf-8\n",
        '<div>Sigo esperando.</div><div class="gmail_quote">El lun, 3 mar 2025, Soporte escribió:<blockquote>¿Número?</blockquote></div>',
    )

    mail = parse_mail(raw)

    assert (mail.text, mail.quoted_text) == (
        "Sigo esperando.",
        "El lun, 3 mar 2025, Soporte escribió:\n\n¿Número?",
    )


def test_a_plain_reply_is_split_into_new_text_and_quote() -> None:
    mail = parse_mail(
        _mail(
            "Content-Type: text/plain; charset=utf-8\n",
            "Sigue sin llegar.\n\nEl lun, 3 mar 2025 a las 10:12, Soporte <soporte@tienda.test> escribió:\n> ¿Le llegó?\n",
        )
    )

    assert mail.text == "Sigue sin llegar."
    assert mail.quoted_text.startswith("El lun, 3 mar 2025")


def test_the_first_plain_and_html_parts_of_the_alternative_are_the_bodies() -> None:
    raw = _multipart(
        "alternative",
        "Content-Type: text/plain; charset=utf-8\n\nTexto plano",
        "Content-Type: text/enriched\n\n<bold>enriched</bold>",
        "Content-Type: text/html; charset=utf-8\n\n<p>HTML</p>",
        "Content-Type: text/html; charset=utf-8\n\n<p>second HTML</p>",
    )

    mail = parse_mail(raw)

    assert (mail.text, mail.html, mail.attachments) == ("Texto plano", "<p>HTML</p>", ())


def test_an_empty_plain_alternative_gives_way_to_the_html() -> None:
    raw = _multipart(
        "alternative",
        "Content-Type: text/plain\n\n  ",
        "Content-Type: text/html\n\n<p>Solo HTML</p>",
    )

    assert parse_mail(raw).text == "Solo HTML"


def test_inline_text_parts_of_a_mixed_message_are_joined_in_order() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nThis is the text part",
        "Content-Type: text/html\n\n<h1>This is the html signature</h1>",
    )

    mail = parse_mail(raw)

    assert mail.text == "This is the text part\nThis is the html signature"
    assert mail.html == "<pre>This is the text part</pre><h1>This is the html signature</h1>"


def test_a_declared_multipart_without_parts_is_read_as_text() -> None:
    raw = _mail(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="never"\n', "Just text.\n"
    )

    assert parse_mail(raw).text == "Just text."


def test_an_unquoted_boundary_with_an_equals_sign_still_splits_the_parts() -> None:
    raw = _mail(
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=----=_NextPart_000_0093\n",
        "------=_NextPart_000_0093\nContent-Type: text/plain\n\nHello\n------=_NextPart_000_0093--\n",
    )

    assert parse_mail(raw).text == "Hello"


# --- attachments ---------------------------------------------------------------------------------


def test_an_inline_image_keeps_its_content_id() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    raw = _multipart(
        "related",
        'Content-Type: text/html\n\n<p>Logo: <img src="cid:logo@tienda"></p>',
        f"Content-Type: image/png\nContent-ID: <logo@tienda>\nContent-Transfer-Encoding: base64\n\n{_b64(png)}",
    )

    (image,) = parse_mail(raw).attachments

    assert (image.content_id, image.inline, image.content_type, image.content) == (
        "logo@tienda",
        True,
        "image/png",
        png,
    )


def test_an_attachment_with_a_content_id_but_disposition_attachment_is_not_inline() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nSee attached",
        'Content-Type: application/pdf\nContent-ID: <f1>\nContent-Disposition: attachment; filename="f.pdf"\n\n%PDF',
    )

    (pdf,) = parse_mail(raw).attachments

    assert (pdf.filename, pdf.content_id, pdf.inline) == ("f.pdf", "f1", False)


def test_a_forwarded_message_is_kept_as_an_eml_attachment() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nMira lo que me enviaron",
        "Content-Type: message/rfc822\n\nFrom: tienda@example.com\nSubject: Pedido enviado\nMessage-ID: <o1@example.com>\n\nSu pedido salió.\n",
    )

    mail = parse_mail(raw)
    (forwarded,) = mail.attachments

    assert (forwarded.filename, forwarded.content_type) == ("Pedido enviado.eml", "message/rfc822")
    assert forwarded.content.startswith(b"From: tienda@example.com\nSubject: Pedido enviado\n")
    assert b"Su pedido sali\xc3\xb3." in forwarded.content or b"Su pedido sali" in forwarded.content
    assert mail.text == "Mira lo que me enviaron"


def test_a_forwarded_message_without_subject_is_named_forwarded_message() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nFYI",
        "Content-Type: message/rfc822\n\nFrom: x@y.test\n\nHola\n",
    )

    assert parse_mail(raw).attachments[0].filename == "forwarded-message.eml"


def test_tnef_and_calendar_parts_are_kept() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: multipart/alternative; boundary=ALT\n\n--ALT\nContent-Type: text/plain\n\nInvitación\n"
        "--ALT\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n--ALT--",
        f"Content-Type: application/ms-tnef\nContent-Transfer-Encoding: base64\n\n{_b64(b'TNEF-data')}",
    )

    mail = parse_mail(raw)

    assert [(item.filename, item.content_type) for item in mail.attachments] == [
        ("invite.ics", "text/calendar"),
        ("winmail.dat", "application/ms-tnef"),
    ]
    assert mail.attachments[0].content.startswith(b"BEGIN:VCALENDAR")
    assert mail.attachments[1].content == b"TNEF-data"
    assert mail.text == "Invitación"


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ("attachment; filename*=utf-8''Factura%20n%C2%BA%201.pdf", "Factura nº 1.pdf"),
        (
            "attachment; filename*0*=utf-8''Presupuesto%20de%20; filename*1*=reparaci%C3%B3n.pdf",
            "Presupuesto de reparación.pdf",
        ),
        ('attachment; filename="=?utf-8?B?RXJrbMOkcnVuZy50eHQ=?="', "Erklärung.txt"),
        ("attachment; filename==?utf-8?Q?Devoluci=C3=B3n.pdf?=", "Devolución.pdf"),
        ("attachment; filename=Mi factura.pdf", "Mi factura.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="C:\\\\Users\\\\x\\\\virus.exe"', "virus.exe"),
    ],
)
def test_attachment_names_are_decoded_and_made_safe(disposition: str, filename: str) -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nAdjunto",
        f"Content-Type: application/octet-stream\nContent-Disposition: {disposition}\n\ndata",
    )

    assert parse_mail(raw).attachments[0].filename == filename


def test_a_name_in_the_content_type_is_used_when_the_disposition_has_none() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nAdjunto",
        'Content-Type: text/plain; name="notas.txt"\n\nnotas',
    )

    mail = parse_mail(raw)

    assert mail.text == "Adjunto"
    assert [(item.filename, item.content) for item in mail.attachments] == [("notas.txt", b"notas")]


def test_an_attachment_over_the_limit_is_named_but_not_kept() -> None:
    big = b"x" * 5000
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nAdjunto",
        f'Content-Type: application/pdf\nContent-Disposition: attachment; filename="grande.pdf"\nContent-Transfer-Encoding: base64\n\n{_b64(big)}',
        'Content-Type: text/plain; name="small.txt"\n\nsmall',
    )

    mail = parse_mail(raw, max_attachment_bytes=1000)

    assert [item.filename for item in mail.attachments] == ["small.txt"]
    assert [(item.filename, item.size) for item in mail.omitted_attachments] == [
        ("grande.pdf", 5000)
    ]
    assert any(
        "'grande.pdf' (5,000 bytes)" in defect and "left out" in defect for defect in mail.defects
    )


def test_attachments_under_the_limit_are_kept_whole() -> None:
    raw = _multipart(
        "mixed",
        "Content-Type: text/plain\n\nx",
        'Content-Type: application/pdf; name="a.pdf"\n\n%PDF-1.4',
    )

    assert parse_mail(raw, max_attachment_bytes=1000).attachments[0].content == b"%PDF-1.4"


# --- limits and hostile input --------------------------------------------------------------------


def _many_parts(count: int) -> bytes:
    parts = "".join(
        f"--B\nContent-Type: text/plain; name=f{index}.txt\n\npart {index}\n"
        for index in range(count)
    )
    return _mail(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n', parts + "--B--\n"
    )


def test_a_ten_thousand_part_message_stops_at_the_part_limit() -> None:
    mail = parse_mail(_many_parts(10_000))

    # The walk stops at the limit (without the cut the email package takes seconds); how long
    # parsing takes is measured by bench/ingest.py, not asserted here.
    assert "stopped after 500 parts" in mail.defects
    assert 0 < len(mail.attachments) < 500


def test_a_smaller_part_limit_is_honoured() -> None:
    mail = parse_mail(_many_parts(50), max_parts=10)

    assert "stopped after 10 parts" in mail.defects
    assert len(mail.attachments) <= 10


def test_a_message_under_the_part_limit_is_read_whole() -> None:
    mail = parse_mail(_many_parts(400))

    assert len(mail.attachments) == 400
    assert not [defect for defect in mail.defects if defect.startswith("stopped")]


def test_deeply_nested_multiparts_do_not_raise() -> None:
    depth = 1000
    opening = "".join(
        f"Content-Type: multipart/mixed; boundary=B{level}\n\n--B{level}\n"
        for level in range(depth)
    )
    closing = "".join(f"--B{level}--\n" for level in reversed(range(depth)))

    mail = parse_mail(
        f"{HEADERS}MIME-Version: 1.0\n{opening}Content-Type: text/plain\n\ndeep\n{closing}".encode()
    )

    assert mail.sender == Address("Carmen Cliente", "carmen@example.com")
    assert "stopped after 500 parts" in mail.defects


# The reference: the pattern matched case-insensitively on the message itself.
_BOUNDARY_ANY_CASE = re.compile(
    rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.IGNORECASE
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    b"boundary=",
                    b"BOUNDARY=",
                    b"BoUnDaRy =",
                    b'boundary="',
                    b'Boundary = "',
                    b'"',
                    b";",
                    b" ",
                    b"\t",
                    b"\r\n",
                    b"\n",
                    b"=",
                    b"Ab",
                    b"aB-_=",
                    b"\xc3\xa9",
                ]
            ),
            st.binary(max_size=6),
        ),
        max_size=40,
    ).map(b"".join)
)
def test_boundary_declarations_are_found_in_any_case_with_their_values_as_written(
    raw: bytes,
) -> None:
    expected = [
        (match.start(), match.group(1) or match.group(2))
        for match in _BOUNDARY_ANY_CASE.finditer(raw)
    ]

    assert parsing._boundary_declarations(raw) == expected


def test_a_message_declaring_its_boundary_in_capitals_is_cut_at_the_part_limit() -> None:
    raw = _many_parts(50).replace(b'boundary="B"', b'BOUNDARY="B"')
    defects: list[str] = []

    cut = parsing._limit_structure(raw, 10, defects)

    assert defects == ["stopped after 10 parts"]
    assert cut.count(b"\n--B") == 2 * 10 + 2
    assert parsing._boundary_declarations(raw) == [(raw.index(b"BOUNDARY"), b"B")]


def test_a_huge_subject_is_read_and_cut() -> None:
    raw = _mail("Subject: " + " ".join(["=?utf-8?q?caf=C3=A9?="] * 20_000) + "\n")

    mail = parse_mail(raw)

    assert mail.subject.startswith("cafécafé")
    assert len(mail.subject) <= 998


@settings(max_examples=150, deadline=None, database=None)
@given(st.binary(min_size=1, max_size=600))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    if not raw.strip():
        return
    mail = parse_mail(raw)

    assert not [defect for defect in mail.defects if defect.startswith("internal parser error")]


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "From: a@b.test\n",
                "Subject: =?utf-8?q?x=\n",
                "Content-Type: multipart/mixed; boundary=B\n",
                "Content-Type: text/html; charset=bogus\n",
                "Content-Transfer-Encoding: base64\n",
                "\n",
                "--B\n",
                "--B--\n",
                "<p>hi</p>\n",
                "=?utf-8?b?????\n",
                "Content-Type: message/rfc822\n",
                "Date: 99 99 99\n",
                "Content-Disposition: attachment; filename*=x''%ZZ\n",
                "\x00\xff\n",
                "> quote\n",
                "On 1 Jan, A wrote:\n",
            ]
        ),
        min_size=1,
        max_size=30,
    )
)
def test_arbitrary_mime_shaped_input_never_raises(lines: list[str]) -> None:
    raw = "".join(lines).encode("utf-8", "surrogateescape")
    if not raw.strip():
        return
    mail = parse_mail(raw)

    assert not [defect for defect in mail.defects if defect.startswith("internal parser error")]


PLAIN_CONTENT_TYPES = [
    'multipart/alternative; boundary="----=_Part_0_12345.67890"',
    "text/plain; charset=utf-8",
    'application/pdf; name="Factura 2025-03 (copia).pdf"',
    'TEXT/HTML;\r\n\tcharset="ISO-8859-1"',
]
OTHER_CONTENT_TYPES = [
    'application/pdf; name="=?utf-8?q?factura_marzo?=.pdf"',
    "application/pdf; name*=utf-8''factura%20marzo.pdf",
    "text/plain (a comment); charset=utf-8",
    'text/plain; name="back\\\\slash"',
    "text/plain; charset = utf-8",
    'text/plain; name="caf\udce9.txt"',
    "text/plain; charset=utf-8;",
]


def _read_alike(value: str) -> tuple[EmailMessage, EmailMessage]:
    """A part with this Content-Type under our policy and under policy.default, after checking
    that both read its type and parameters alike."""
    ours, theirs = EmailMessage(policy=parsing._POLICY), EmailMessage(policy=default)
    for message in (ours, theirs):
        message.set_raw("Content-Type", value)
    assert ours.get_content_type() == theirs.get_content_type()
    assert dict(parsing._params(ours, "content-type")) == dict(
        parsing._params(theirs, "content-type")
    )
    return ours, theirs


@pytest.mark.parametrize("value", PLAIN_CONTENT_TYPES + OTHER_CONTENT_TYPES)
def test_a_content_type_reads_the_same_as_policy_default_reads_it(value: str) -> None:
    ours, theirs = _read_alike(value)

    assert ours.get_boundary() == theirs.get_boundary()
    assert ours.get_content_charset() == theirs.get_content_charset()
    assert ours.get_param("name") == theirs.get_param("name")
    # A plain one is not given to policy.default's (slow) reader; the others are.
    plain = isinstance(ours["content-type"], parsing._PlainContentType)
    assert plain == (value in PLAIN_CONTENT_TYPES)


_ATOMS = st.text(alphabet="abcXYZ019!#$&^_.+-", min_size=1, max_size=8)
_QUOTED = (
    st.text(alphabet=" !#$%&()*+,-./09:;<=>?@AZ[]^_`az{|}~", max_size=12)
    .filter(lambda text: "=?" not in text)  # an encoded word: policy.default's reader's
    .map(lambda text: f'"{text}"')
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.tuples(_ATOMS, _ATOMS),
    params=st.lists(
        st.tuples(_ATOMS, st.one_of(_ATOMS, _QUOTED), st.sampled_from(["", " ", "\t"])),
        max_size=20,
    ),
)
def test_any_plain_content_type_reads_the_same_as_policy_default_reads_it(
    kind: tuple[str, str], params: list[tuple[str, str, str]]
) -> None:
    value = "/".join(kind) + "".join(f";{space}{name}={item}" for name, item, space in params)
    ours, _theirs = _read_alike(value)

    assert isinstance(ours["content-type"], parsing._PlainContentType)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (
            "Buenaventura =?utf-8?q?Alc=C3=A1ntara?= Borrell\n <b.alcantara@example.com>",
            "Buenaventura Alcántara Borrell",
        ),
        ("=?utf-8?b?Sm9zw6kgUMOpcmV6?= <b.alcantara@example.com>", "José Pérez"),
        # Adjacent encoded words join without the space between them (RFC 2047).
        ("=?utf-8?q?Jos=C3=A9?= =?utf-8?q?_P=C3=A9rez?= <b.alcantara@example.com>", "José Pérez"),
        ("=?iso-8859-1?q?Mu=F1oz?= <b.alcantara@example.com>", "Muñoz"),
    ],
)
def test_a_name_of_encoded_words_is_read_without_policy_default(
    header: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_by_policy: list[str] = []
    policy_header = parsing._policy_header

    def spy(header_name: str, value: str) -> object:
        read_by_policy.append(header_name)
        return policy_header(header_name, value)

    monkeypatch.setattr(parsing, "_policy_header", spy)

    mail = parse_mail(_mail(headers=HEADERS.replace("Carmen Cliente <carmen@example.com>", header)))

    assert mail.sender == Address(name, "b.alcantara@example.com")
    assert "From" not in read_by_policy


# --- the first value of a header, read without the parser ------------------------------------

_HEADER_PIECES = [
    "Message-ID: <a@b>", "message-id:<c@d>", "Message-Id :<e@f>", "MESSAGE-ID:", " <g@h>",
    "\t<i@j>", "From x@y Mon Jan  1", "From: Ana <ana@x>", ":", ": orphan", "Subject: hola",
    "X-Empty:", "no colon here", "Received: from a", "  by b", "Message-ID: <k\u00e9@l>",
    "Message-ID: <m@n> (comment)", "\u00f1: x", "To: z@z", "",
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_HEADER_PIECES), max_size=10),
    endings=st.lists(st.sampled_from(["\r\n", "\n", "\r", ""]), min_size=10, max_size=10),
    body=st.sampled_from(["", "\r\nbody\r\n", "\nbody", "\n\nMessage-ID: <late@x>\n"]),
)
def test_the_first_header_value_is_what_the_header_parser_reads(
    lines: list[str], endings: list[str], body: str
) -> None:
    text = "".join(line + ending for line, ending in zip(lines, endings, strict=False)) + body
    raw = text.encode("utf-8")
    parsed = parsing.read_headers(raw)
    for name in ("Message-ID", "From", "Received", "To"):
        found = parsing.first_header_value(raw, name)
        if found is not None:
            assert found == str(parsed.get(name, "") or ""), name


def test_the_first_header_value_leaves_a_bare_cr_and_non_ascii_to_the_parser() -> None:
    assert (
        parsing.first_header_value(b"Subject: a\rMessage-ID: <x@y>\r\n\r\n", "Message-ID") is None
    )
    assert parsing.first_header_value("Message-ID: <\u00e9@y>\n\n".encode(), "Message-ID") is None
    assert (
        parsing.first_header_value(b"Message-ID:\r\n <x@y>\r\n\r\n", "message-id") == "\r\n <x@y>"
    )
    assert parsing.first_header_value(b"Subject: x\r\n\r\n", "Message-ID") == ""
