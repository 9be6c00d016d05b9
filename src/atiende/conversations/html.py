"""Making customer and agent HTML safe to store and show.

Everything that ends up in ``Message.body_html`` passes :func:`sanitize_html`: scripts, styles,
frames, forms, event handlers and ``javascript:`` links are removed; remote images are kept as
data but the workspace decides whether to load them.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "div",
    "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "col": {"span"},
    "font": {"color"},
    "ol": {"start", "type"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}
_LINK_REL = "noopener noreferrer nofollow"
# Built once: nh3.clean() builds a sanitizer from these sets on every call, and building it
# cost more than cleaning a typical mail's HTML with it. Same output (checked on every HTML
# body of bench/ingest.py's mail and the test corpora).
_SANITIZER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    url_schemes=_URL_SCHEMES,
    link_rel=_LINK_REL,
    strip_comments=True,
)
_TAG_STRIPPER = nh3.Cleaner(tags=set(), strip_comments=True)
_WHITESPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def sanitize_html(raw: str) -> str:
    """Safe HTML for ``raw``: an allow-list of tags and attributes, links that open safely."""
    if not raw:
        return ""
    return _SANITIZER.clean(raw)


def text_from_html(raw: str) -> str:
    """A readable plain-text version of HTML, for previews, search and HTML-only mail."""
    if not raw:
        return ""
    with_breaks = re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\s*/?>", "\n", raw)
    without_tags = _TAG_STRIPPER.clean(with_breaks)
    text = html_lib.unescape(without_tags)
    lines = [_WHITESPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def preview_line(text: str, limit: int = 160) -> str:
    """The start of ``text`` as one line, cut to ``limit`` characters.

    Lines are joined rather than taking the first one, which in mail is often only "Hola, Ana:".
    """
    # At most ``limit`` splits: the words before them, joined with one space each, are already
    # longer than ``limit``, so what is kept is what the whole text flattened would give, and a
    # long message is not split word by word to its end. (The last piece may keep whitespace
    # inside it; it is then cut away.) A limit of 0 means no limit to split().
    flat = " ".join(text.split(maxsplit=limit or -1))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def html_for_display(
    safe_html: str,
    *,
    inline_images: Mapping[str, str],
    load_remote_images: bool,
    placeholder: str,
) -> tuple[str, int]:
    """Stored (already sanitised) HTML as the workspace shows it, and how many remote images it held back.

    A remote image is a tracking pixel as often as a picture: opening a conversation must not tell
    the sender that, when and from where it was read. So unless ``load_remote_images``, every
    ``http(s)`` image source becomes ``placeholder``. ``cid:`` sources (images sent inside the
    message) become the addresses in ``inline_images`` (Content-ID without angle brackets → URL),
    and disappear when the message carried no such part. The HTML passes the sanitiser again, so a
    row written before a tightening of the rules is shown by the rules of today.
    """
    if not safe_html:
        return "", 0
    blocked = 0

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag != "img" or attribute != "src":
            return value
        source = value.strip()
        scheme = source.split(":", 1)[0].lower() if ":" in source else ""
        if scheme == "cid":
            return inline_images.get(source[4:].strip().strip("<>"))
        if scheme in {"http", "https"} or source.startswith("//"):
            if load_remote_images:
                return value
            blocked += 1
            return placeholder
        if scheme == "data":
            return value
        # A relative address would load from this server, with the reader's session.
        return None

    cleaned = nh3.clean(
        safe_html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=_LINK_REL,
        strip_comments=True,
        attribute_filter=rewrite,
    )
    return cleaned, blocked
