"""``{% channel_icon code %}``: a channel's icon from the sprite with its name for screen readers."""

from __future__ import annotations

from typing import Any

from django import template

from atiende.channels import registry

register = template.Library()


@register.inclusion_tag("web/includes/channel_icon.html")
def channel_icon(code: str) -> dict[str, Any]:
    """The icon and label of channel ``code``; a channel no plug-in registers shows its code."""
    try:
        kind = registry.get(code)
    except LookupError:
        return {"icon": "", "label": code}
    return {"icon": kind.icon, "label": kind.label}
