"""A conversation's timeline (``web.timeline``) as HTML, written in Python.

The conversation page shows every message and event of a case; drawn by Django's template
engine an entry cost about a millisecond (author, channel, delivery state, dates, attachments,
each a handful of lookups and filters), which made a 50-message case's page twice its target
(``bench/README.md``, workspace). Here the fixed texts are translated once per page and an entry
is a few joins of escaped strings. The page and the timeline endpoint that live updates call
both draw entries with :func:`render_timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from atiende.conversations.attachments import PDF_TYPE, is_previewable_image
from atiende.conversations.models import (
    Attachment,
    AuthorKind,
    Conversation,
    DeliveryState,
    Direction,
    Message,
)
from atiende.web.dates import local_datetime
from atiende.web.templatetags.channel_icons import channel_icon_html
from atiende.web.timeline import EventSummary, SlaEventSummary, TimelineEntry


@dataclass(frozen=True)
class _Texts:
    """What every entry says the same way, translated once per page."""

    split_title: str
    split_label: str
    not_delivered: str
    retrying: str
    show_remote: str
    quoted: str
    attachments: str
    preview: str
    system: str
    directions: dict[str, str]
    author_kinds: dict[str, str]
    paperclip: str
    open_in_tab: str
    # Not escaped: the names are put in first, then the whole line is escaped.
    mentioned: str


def _texts() -> _Texts:
    return _Texts(
        split_title=escape(_("Choose for splitting into a new conversation")),
        split_label=escape(_("Choose for splitting")),
        not_delivered=escape(_("Not delivered")),
        retrying=escape(_("Retrying delivery")),
        show_remote=escape(_("Show remote images")),
        quoted=escape(_("Show quoted history")),
        attachments=escape(_("Attachments")),
        preview=escape(_("Preview")),
        system=escape(_("System")),
        # By code: get_FOO_display() hashes the field's choices on every call.
        directions={code: escape(str(label)) for code, label in Direction.choices},
        author_kinds={code: escape(str(label)) for code, label in AuthorKind.choices},
        paperclip=escape(static("web/icons.svg")) + "#paperclip",
        open_in_tab=escape(_("Open in a new tab")),
        mentioned=_("Mentioned: %(names)s"),
    )


def _time(moment: datetime, css: str = "") -> str:
    css_attribute = f' class="{css}"' if css else ""
    return (
        f'<time{css_attribute} datetime="{timezone.localtime(moment).isoformat()}">'
        f"{escape(local_datetime(moment))}</time>"
    )


def render_timeline(
    entries: list[TimelineEntry], *, conversation: Conversation, can_split: bool
) -> SafeString:
    """Every entry as an ``<li>`` of the page's ``<ol class="timeline">``, in order."""
    texts = _texts()
    timeline_url = reverse(
        "web:conversation_timeline", args=[conversation.brand.slug, conversation.number]
    )
    parts = []
    for entry in entries:
        if entry.message is not None:
            parts.append(_message(entry, entry.message, texts, can_split, timeline_url))
        elif entry.sla is not None:
            parts.append(_sla(entry, entry.sla, texts))
        elif entry.event is not None:
            parts.append(_event(entry, entry.event, conversation, texts))
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text in an entry is escaped


def _author(message: Message, texts: _Texts) -> str:
    if message.author_customer is not None:
        customer = message.author_customer
        return (
            f'{escape(customer.display_name)} <span class="crn">'
            f"{escape(customer.crn_display)}</span>"
        )
    if message.author_user is not None:
        return escape(str(message.author_user))
    return texts.author_kinds.get(message.author_kind, escape(message.author_kind))


def _message(
    entry: TimelineEntry, message: Message, texts: _Texts, can_split: bool, timeline_url: str
) -> str:
    pk = str(message.pk)
    dom_id = escape(entry.dom_id)
    parts = [
        f'<li class="timeline-item" id="{dom_id}" data-message-id="{pk}">'
        f'<article class="message message--{escape(message.direction)}"'
        f' aria-labelledby="message-{pk}-author"><header class="message-header">'
    ]
    if can_split:
        parts.append(
            f'<label class="split-choice" title="{texts.split_title}">'
            f'<input type="checkbox" name="messages" value="{pk}" form="split-form">'
            f'<span class="visually-hidden">{texts.split_label}</span></label>'
        )
    parts.append(
        f'<span class="message-author" id="message-{pk}-author">{_author(message, texts)}</span>'
        '<span class="message-meta"><span class="message-direction">'
        f"{texts.directions.get(message.direction, escape(message.direction))}</span> "
        f"{channel_icon_html(message.channel)} "
    )
    if message.delivery_state == DeliveryState.FAILED:
        parts.append(
            f'<span class="delivery delivery--failed" title="{escape(message.delivery_detail)}">'
            f"{texts.not_delivered}</span> "
        )
    elif message.delivery_state == DeliveryState.RETRYING:
        parts.append(
            f'<span class="delivery delivery--retrying" title="{escape(message.delivery_detail)}">'
            f"{texts.retrying}</span> "
        )
    parts.append(f"{_time(message.created_at)}</span></header>")
    if entry.mentions:
        said = texts.mentioned % {"names": ", ".join(entry.mentions)}
        parts.append(f'<p class="message-mentions">{escape(said)}</p>')
    # entry.html was sanitised when stored and again by html_for_display: it is the one piece
    # of the page taken as HTML.
    body = entry.html if entry.html else linebreaks(message.body_text, autoescape=True)
    parts.append(f'<div class="message-body">{body}</div>')
    if entry.remote_images_blocked:
        count = entry.remote_images_blocked
        said = ngettext(
            "One remote image was not loaded, so the sender cannot tell that this was read.",
            "%(counter)s remote images were not loaded, so the sender cannot tell that this "
            "was read.",
            count,
        ) % {"counter": count}
        parts.append(
            f'<p class="remote-images"><span class="muted">{escape(said)}</span> '
            f'<a href="?remote_images={pk}#{dom_id}"'
            f' hx-get="{escape(timeline_url)}?remote_images={pk}"'
            f' hx-select="#{dom_id}" hx-target="#{dom_id}" hx-swap="outerHTML">'
            f"{texts.show_remote}</a></p>"
        )
    if message.quoted_text:
        parts.append(
            f'<details class="quoted-history"><summary>{texts.quoted}</summary>'
            f'<div class="quoted-text">{linebreaks(message.quoted_text, autoescape=True)}</div>'
            "</details>"
        )
    attachments = list(message.attachments.all())
    if attachments:
        parts.append(
            f'<footer class="attachments"><h3 class="visually-hidden">{texts.attachments}</h3><ul>'
        )
        parts.extend(_attachment(attachment, texts) for attachment in attachments)
        parts.append("</ul></footer>")
    parts.append("</article></li>")
    return "".join(parts)


def _attachment(attachment: Attachment, texts: _Texts) -> str:
    pk = attachment.pk
    filename = escape(attachment.filename)
    content_type = attachment.content_type
    preview = escape(reverse("web:attachment_preview", args=[pk]))
    download = escape(reverse("web:attachment", args=[pk]))
    parts = ['<li class="attachment">']
    if is_previewable_image(content_type):
        parts.append(
            f'<a class="attachment-thumbnail" href="{preview}" target="_blank" rel="noopener">'
            f'<img src="{preview}" alt="{filename}" loading="lazy" decoding="async"></a>'
        )
    size = escape(str(filesizeformat(attachment.size)))
    parts.append(
        f'<svg class="icon" aria-hidden="true" focusable="false"><use href="{texts.paperclip}">'
        f'</use></svg> <a href="{download}" download>{filename}</a>'
        f' <span class="muted">{escape(content_type)} · {size}</span>'
    )
    if content_type == PDF_TYPE:
        # The browser's own PDF viewer, in the page but loaded only when opened.
        parts.append(
            f'<details class="attachment-pdf"><summary>{texts.preview}</summary>'
            f'<iframe src="{preview}" title="{filename}" loading="lazy"></iframe>'
            f'<a class="attachment-preview-link" href="{preview}" target="_blank" rel="noopener">'
            f"{texts.open_in_tab}</a></details>"
        )
    parts.append("</li>")
    return "".join(parts)


def _sla(entry: TimelineEntry, summary: SlaEventSummary, texts: _Texts) -> str:
    return (
        f'<li class="timeline-item timeline-item--event timeline-item--sla-{escape(summary.kind)}"'
        f' id="{escape(entry.dom_id)}"><p class="event">'
        f'<span class="event-title">{escape(summary.title)}</span> '
        f'<span class="muted">· {texts.system} ·</span> {_time(entry.at, "muted")}</p></li>'
    )


def _event(
    entry: TimelineEntry, summary: EventSummary, conversation: Conversation, texts: _Texts
) -> str:
    parts = [
        f'<li class="timeline-item timeline-item--event" id="{escape(entry.dom_id)}">'
        f'<p class="event"><span class="event-title">{escape(summary.title)}</span> '
    ]
    if summary.related_number:
        url = reverse("web:conversation", args=[conversation.brand.slug, summary.related_number])
        reference = f"{conversation.brand.number_prefix}-{summary.related_number}"
        parts.append(f'<a href="{escape(url)}">{escape(reference)}</a> ')
    parts.append(f'<span class="muted">· {escape(summary.actor)} ·</span> ')
    parts.append(f"{_time(entry.at, 'muted')}</p>")
    if summary.changes:
        parts.append('<ul class="event-changes">')
        for change in summary.changes:
            text = _("%(field)s: %(before)s → %(after)s") % {
                "field": change.field,
                "before": change.before,
                "after": change.after,
            }
            parts.append(f"<li>{escape(text)}</li>")
        parts.append("</ul>")
    parts.append("</li>")
    return "".join(parts)
