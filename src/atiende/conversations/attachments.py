"""Attachments as they arrive: limited in size, named safely, typed by their bytes."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import filetype
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# Path separators, control characters, characters Windows forbids, and the invisible bidi and
# zero-width controls that make "factura\u202efdp.exe" display as "factura exe.pdf".
_UNSAFE_FILENAME_CHARACTERS = re.compile(
    r'[\x00-\x1f\x7f/\\:*?"<>|\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+'
)
_TEXT_TYPES = {
    "text/plain",
    "text/csv",
    "text/calendar",
    "text/html",
    "application/json",
    "text/markdown",
}


@dataclass(frozen=True)
class IncomingAttachment:
    """An attachment before it is stored: what a channel or the composer hands to an action."""

    filename: str
    content: bytes = field(repr=False)
    declared_content_type: str = ""
    content_id: str = ""

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name that is safe to show and to offer for download: no path, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME_CHARACTERS.sub("_", name).strip(" .")
    if not name:
        return fallback
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = (
            (stem[: 200 - len(extension) - 1] + dot + extension)
            if dot and len(extension) <= 10
            else name[:200]
        )
    return name


def sniff_content_type(content: bytes, filename: str, declared: str = "") -> str:
    """The content type the bytes really have.

    Binary formats are recognised by their signature, whatever the sender claimed (a ``.pdf`` that
    is really an executable is reported as what it is). Bytes with no signature are text only if
    they decode as UTF-8; then the declared or guessed text type is kept.
    """
    kind = filetype.guess(content[:8192])
    if kind is not None:
        return str(kind.mime)
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    declared = declared.split(";", 1)[0].strip().lower()
    if declared in _TEXT_TYPES or declared.startswith("text/"):
        return declared
    guessed, _encoding = mimetypes.guess_type(filename)
    if guessed and (guessed in _TEXT_TYPES or guessed.startswith("text/")):
        return guessed
    return "text/plain"


def check_attachment_size(attachment: IncomingAttachment, limit: int) -> None:
    if attachment.size > limit:
        raise ValidationError(
            _("%(name)s is %(size)s; attachments may be at most %(limit)s."),
            code="attachment_too_large",
            params={
                "name": safe_filename(attachment.filename),
                "size": filesizeformat(attachment.size),
                "limit": filesizeformat(limit),
            },
        )


def download_response(attachment: Any, *, content_type: str = "") -> FileResponse:
    """The stored file as a download that a browser never renders inline (the web page and the
    API both serve attachments through this). Raises FileNotFoundError when the file is gone."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=content_type or attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# Types a browser may show in the page: raster images (never SVG, which is a document that can
# run script) and PDF, which browsers open in their own viewer. The type is the sniffed one.
_PREVIEW_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PDF_TYPE = "application/pdf"


def is_previewable_image(content_type: str) -> bool:
    return content_type in _PREVIEW_IMAGE_TYPES


def is_previewable(content_type: str) -> bool:
    return content_type in _PREVIEW_IMAGE_TYPES or content_type == PDF_TYPE


def preview_response(attachment: Any) -> FileResponse:
    """The stored file shown in the browser when it is an image or a PDF, else the download.

    Inline only for the sniffed types above, with ``nosniff`` so the browser cannot decide it is
    HTML after all. Images keep the sandbox of downloads; a PDF cannot (Chromium will not run its
    viewer in a sandboxed document), and its viewer runs no script of the file anyway.
    """
    if not is_previewable(attachment.content_type):
        return download_response(attachment)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=False,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        "default-src 'none'; sandbox"
        if is_previewable_image(attachment.content_type)
        else "default-src 'none'; object-src 'self'"
    )
    # Thumbnails come back on every visit of the page; only this user's browser keeps them.
    response["Cache-Control"] = "private, max-age=600"
    return response
