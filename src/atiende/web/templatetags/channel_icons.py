"""``{% channel_icon code %}``: a channel's icon from the sprite with its name for screen readers."""

from __future__ import annotations

from html import escape

from django import template
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe

from atiende.channels import registry

register = template.Library()


def channel_icon_html(code: str) -> SafeString:
    """The icon and label of channel ``code``; a channel no plug-in registers shows its code.

    Plain Python rather than an inclusion template: lists draw it once a row (the inbox, the
    timeline, search results), where a template render each time was a measurable share.
    """
    try:
        kind = registry.get(code)
    except LookupError:
        label, inner = escape(code), escape(code)
    else:
        label = inner = escape(str(kind.label))
        if kind.icon:
            sprite = escape(static("web/icons.svg"))
            inner = (
                f'<svg class="icon" aria-hidden="true" focusable="false"><use href="{sprite}'
                f'#{escape(kind.icon)}"></use></svg><span class="visually-hidden">{label}</span>'
            )
    html = f'<span class="channel" title="{label}">{inner}</span>'
    return mark_safe(html)  # noqa: S308 - every piece of text above is escaped


@register.simple_tag
def channel_icon(code: str) -> SafeString:
    return channel_icon_html(code)
