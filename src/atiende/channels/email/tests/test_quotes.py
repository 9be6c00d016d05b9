"""Separating the customer's new words from the history their client quoted."""

from __future__ import annotations

import pytest

from atiende.channels.email.quotes import (
    html_to_text,
    split_html_reply,
    split_quoted,
    split_quoted_html,
)


def _squeeze(value: str) -> str:
    return "".join(value.split())


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 3 Mar 2025 at 10:12, Soporte Tienda <soporte@tienda.test> wrote:",
        "El lun, 3 mar 2025 a las 10:12, Soporte Tienda (<soporte@tienda.test>) escribió:",
        "El 3/3/2025, a las 10:12, Soporte Tienda <soporte@tienda.test> escribió:",
        "On 03/03/2025 10:12, Soporte Tienda wrote:",
        "Am 03.03.2025 um 10:12 schrieb Soporte Tienda <soporte@tienda.test>:",
        "Am 07.05.2012 08:10, schrieb Martin:",
    ],
)
def test_an_attribution_line_starts_the_quote(attribution: str) -> None:
    text = f"Sigo sin recibir el pedido.\n\nCarmen\n\n{attribution}\n\n> Su pedido está en camino.\n> Saludos\n"

    new, quoted = split_quoted(text)

    assert new == "Sigo sin recibir el pedido.\n\nCarmen"
    assert quoted.startswith(attribution)
    assert quoted.endswith("> Saludos")


def test_an_attribution_wrapped_over_two_lines_goes_whole_into_the_quote() -> None:
    text = (
        "Thanks, that works.\n\nOn Mon, Mar 3, 2025 at 10:12 AM Soporte Tienda <\n"
        "soporte@tienda.test> wrote:\n\n> Try again please.\n"
    )

    new, quoted = split_quoted(text)

    assert new == "Thanks, that works."
    assert quoted.startswith("On Mon, Mar 3, 2025")


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Mensaje original-----",
        "----- Original Message -----",
        "-----Mensaje Original-----",
    ],
)
def test_an_original_message_separator_starts_the_quote(separator: str) -> None:
    text = f"Adjunto la factura.\n\n{separator}\nFrom: Soporte\nSent: lunes\nSubject: Factura\n\nHola\n"

    new, quoted = split_quoted(text)

    assert new == "Adjunto la factura."
    assert quoted.startswith(separator)


def test_an_outlook_header_block_in_english_starts_the_quote() -> None:
    text = (
        "Please cancel it.\n\nFrom: Soporte Tienda [mailto:soporte@tienda.test]\nSent: Monday, March 3, 2025 10:12 AM\n"
        "To: Carmen Cliente\nSubject: RE: Order 1001\n\nYour order is on its way.\n"
    )

    new, quoted = split_quoted(text)

    assert new == "Please cancel it."
    assert quoted.startswith("From: Soporte Tienda")
    assert quoted.endswith("Your order is on its way.")


def test_an_outlook_header_block_in_spanish_starts_the_quote() -> None:
    text = (
        "Por favor, anúlenlo.\n\nDe: Soporte Tienda <soporte@tienda.test>\nEnviado: lunes, 3 de marzo de 2025 10:12\n"
        "Para: Carmen Cliente <carmen@example.com>\nAsunto: RE: Pedido 1001\n\nSu pedido está en camino.\n"
    )

    new, quoted = split_quoted(text)

    assert new == "Por favor, anúlenlo."
    assert quoted.startswith("De: Soporte Tienda")


def test_outlooks_line_of_underscores_goes_with_the_quote() -> None:
    text = (
        "Recibido, gracias.\n\n________________________________\nDe: Soporte Tienda\nEnviado: lunes, 3 de marzo de 2025 10:12\n"
        "Para: Carmen\nAsunto: Pedido\n\nHola\n"
    )

    new, quoted = split_quoted(text)

    assert new == "Recibido, gracias."
    assert quoted.startswith("____")


def test_a_trailing_block_of_quoted_lines_is_the_quote() -> None:
    new, quoted = split_quoted("Yes, please.\n\n> Shall we send a new one?\n> Thanks\n")

    assert (new, quoted) == ("Yes, please.", "> Shall we send a new one?\n> Thanks")


def test_a_quote_above_the_answer_is_split_off_too() -> None:
    new, quoted = split_quoted(
        "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello, here is my answer.\n"
    )

    assert new == "Hello, here is my answer."
    assert quoted == "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi"


def test_answers_written_between_quoted_lines_are_kept_whole() -> None:
    text = "On Mon, 3 Mar 2025, Soporte wrote:\n> What is your order number?\n1001\n> And your postcode?\n28001\n"

    assert split_quoted(text) == (text, "")


def test_answers_between_quoted_lines_after_an_attribution_are_kept_whole() -> None:
    text = "See below.\n\nOn Mon, 3 Mar 2025, Soporte wrote:\n> Order number?\n1001\n> Postcode?\n28001"

    assert split_quoted(text) == (text, "")


def test_the_signature_stays_with_the_new_text() -> None:
    text = "Hello\n\n-- \nCarmen Cliente\nTel. 600 111 222\n\nOn Tue, Apr 3, 2012 at 4:55 PM, Soporte wrote:\n\n> Hi\n"

    new, _quoted = split_quoted(text)

    assert new == "Hello\n\n-- \nCarmen Cliente\nTel. 600 111 222"


def test_a_message_that_is_all_quote_keeps_its_text() -> None:
    text = "-----Original Message-----\nFrom: Soporte\nSent: lunes\nTo: Carmen\nSubject: Hola\n\nHola\n"

    assert split_quoted(text) == (text, "")


def test_a_colleague_quoted_in_the_customers_own_words_is_not_a_quote_marker() -> None:
    text = "My colleague wrote:\nthe parcel arrived broken.\nPlease advise.\n"

    assert split_quoted(text) == (text, "")


def test_a_forwarded_messages_headers_are_content_not_history() -> None:
    text = (
        "Mira lo que me llegó.\n\n---------- Forwarded message ---------\nFrom: Tienda <info@tienda.test>\n"
        "Date: Mon, 3 Mar 2025 at 10:12\nSubject: Pedido enviado\nTo: <carmen@example.com>\n\nSu pedido ha salido.\n"
    )

    assert split_quoted(text) == (text, "")


def test_plain_text_without_markers_is_returned_unchanged() -> None:
    assert split_quoted("Hola, ¿cuándo llega mi pedido?") == ("Hola, ¿cuándo llega mi pedido?", "")
    assert split_quoted("") == ("", "")


# --- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, Soporte wrote:</div><blockquote>Hi</blockquote></div>',
        '<blockquote type="cite">Hi there</blockquote>',
        '<div id="divRplyFwdMsg"><b>From:</b> Soporte<br><b>Sent:</b> Monday</div><div>Hi</div>',
        '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>De:</b> Soporte</div><div>Hola</div>',
        '<div class="yahoo_quoted"><div>On Monday, Soporte wrote:</div><div>Hi</div></div>',
        '<div class="moz-cite-prefix">El 03/03/2025 a las 10:12, Soporte escribió:<br></div><blockquote type="cite">Hola</blockquote>',
    ],
)
def test_html_quote_containers_are_split_off(quote: str) -> None:
    html = f"<html><body><div>Sigo esperando.</div><div>Carmen</div>{quote}</body></html>"

    new_html, quoted_html = split_quoted_html(html)

    assert _squeeze(html_to_text(new_html)) == "Sigoesperando.Carmen"
    assert quoted_html.startswith("<")
    assert html_to_text(quoted_html)


def test_an_outlook_header_block_in_html_is_split_with_its_divider() -> None:
    html = (
        "<p>Por favor, anúlenlo.</p><div style='border-top:solid #E1E1E1 1.0pt'><p><b>De:</b> Soporte Tienda<br>"
        "<b>Enviado:</b> lunes, 3 de marzo de 2025 10:12<br><b>Para:</b> Carmen<br><b>Asunto:</b> Pedido</p></div>"
        "<p>Su pedido está en camino.</p>"
    )

    split = split_html_reply(html)

    assert split.new_text == "Por favor, anúlenlo."
    assert split.quoted_html.startswith("<div style='border-top")
    assert split.quoted_text.startswith("De: Soporte Tienda")


def test_a_trailing_blockquote_takes_its_attribution_line_along() -> None:
    html = "<p>Hi. I am fine.<br><br>26.06.2014, 14:41, Alexander &lt;abc@example.com&gt;:</p><blockquote>Hello! How are you?</blockquote>"

    split = split_html_reply(html)

    assert split.new_text == "Hi. I am fine."
    assert split.quoted_text.startswith("26.06.2014")


def test_html_without_a_quote_is_returned_whole() -> None:
    html = "<p>Hola,</p><p>¿cuándo llega mi pedido?</p>"

    assert split_quoted_html(html) == (html, "")
    assert split_html_reply(html).new_text == "Hola,\n\n¿cuándo llega mi pedido?"


def test_a_blockquote_followed_by_more_answer_is_not_the_quote() -> None:
    html = "<p>Mira:</p><blockquote>Texto citado</blockquote><p>Y aquí sigo yo.</p>"

    assert split_quoted_html(html) == (html, "")


def test_html_to_text_drops_scripts_styles_and_head_and_unescapes_entities() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Caf&eacute; &amp; t&#233;</p><div>line<br>break</div>"
        "<ul><li>uno</li><li>dos</li></ul><table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )

    text = html_to_text(html)

    assert "alert" not in text
    assert "color" not in text
    assert "T" not in text.split()
    assert text == "Café & té\n\nline\nbreak\n\nuno\ndos\n\na b"


def test_html_to_text_collapses_whitespace_but_keeps_preformatted_text() -> None:
    assert (
        html_to_text("<p>  many   \n spaces </p><pre>a  b\n  c</pre>") == "many spaces\n\na  b\nc"
    )


def test_html_to_text_survives_unclosed_head_and_broken_markup() -> None:
    assert html_to_text("<head><title>x</title><body><p>Hola<p>adiós") == "Hola\n\nadiós"
    assert html_to_text("<div <p>text</b></i>") == "text"
