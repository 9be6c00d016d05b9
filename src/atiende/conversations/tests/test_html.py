from hypothesis import given
from hypothesis import strategies as st

from atiende.conversations.html import preview_line, sanitize_html, text_from_html


def test_sanitiser_removes_everything_that_runs_or_frames():
    dirty = (
        '<div style="x"><script>alert(1)</script><style>p{}</style><iframe src="https://evil"></iframe>'
        '<form action="/x"><input name=a></form><a href="javascript:alert(1)" onclick="x()">link</a>'
        '<img src="cid:logo@x" onerror="alert(1)"><p onmouseover="x">texto</p></div>'
    )
    clean = sanitize_html(dirty)
    for forbidden in (
        "script",
        "style",
        "iframe",
        "form",
        "input",
        "javascript:",
        "onclick",
        "onerror",
        "onmouseover",
        "alert",
    ):
        assert forbidden not in clean
    assert 'src="cid:logo@x"' in clean
    assert "<p>texto</p>" in clean
    assert 'rel="noopener noreferrer nofollow"' in clean


def test_text_version_of_html_keeps_lines_and_entities():
    assert (
        text_from_html("<p>Hola&nbsp;Ana,</p><p>tu pedido &amp; factura</p><br>gracias")
        == "Hola\xa0Ana,\ntu pedido & factura\n\ngracias"
    )


def test_preview_is_the_start_of_the_text_on_one_line_cut_to_size():
    assert (
        preview_line("\n\n  Hola, Ana:  \n\nsu pedido   sale hoy")
        == "Hola, Ana: su pedido sale hoy"
    )
    assert preview_line("x" * 300, limit=10) == "xxxxxxxxx…"
    assert preview_line("") == ""


def _flattened_whole(text: str, limit: int) -> str:
    """The preview as the whole text flattened gives it: what preview_line must answer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@given(st.text(alphabet="ab \n\t\r\x0b\xa0\u2028é", max_size=80), st.integers(-3, 40))
def test_the_preview_is_what_the_whole_text_flattened_gives(text: str, limit: int) -> None:
    assert preview_line(text, limit=limit) == _flattened_whole(text, limit)
