"""``{{ attachment|previews_as_image }}`` and ``|previews_as_pdf``: whether the conversation page
shows an attachment inline (a thumbnail, the browser's PDF viewer), by its sniffed type."""

from __future__ import annotations

from typing import Any

from django import template

from atiende.conversations.attachments import PDF_TYPE, is_previewable_image

register = template.Library()


@register.filter
def previews_as_image(attachment: Any) -> bool:
    return is_previewable_image(attachment.content_type)


@register.filter
def previews_as_pdf(attachment: Any) -> bool:
    return bool(attachment.content_type == PDF_TYPE)
