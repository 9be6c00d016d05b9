"""The inbox's rows as HTML, written in Python rather than in the template.

The inbox is the screen agents keep open all day. Drawn by Django's template engine, a row
cost about 1.5 ms (some 25 variable lookups, two inclusion tags, humanize's ``naturaltime``),
so fifty rows were most of the page's time (``bench/README.md``, workspace). Here the page's
fixed texts are translated once and a row is a few joins of escaped strings. The page and the
live row endpoint (``inbox:row``) both draw rows with :func:`render_rows`, so a row that
arrives live is the row a reload would show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from atiende.conversations.models import ConversationStatus, Priority
from atiende.inbox.queries import InboxRow, RowConversation
from atiende.web.dates import local_datetime, time_ago
from atiende.web.templatetags.channel_icons import channel_icon_html
from atiende.web.templatetags.sla_badges import badge_for, sla_badge_html


@dataclass(frozen=True)
class _Texts:
    """What every row says the same way, translated once per page in the active language."""

    unread: str
    unassigned: str
    no_tags: str
    no_subject: str
    crn_title: str
    # "Select %(reference)s", to be filled per row.
    select: str
    # By code: get_FOO_display() hashes the field's choices on every call.
    statuses: dict[str, str]
    priorities: dict[str, str]


def _texts() -> _Texts:
    return _Texts(
        unread=escape(_("Unread:")),
        unassigned=escape(_("Unassigned")),
        no_tags=escape(_("No tags")),
        no_subject=escape(_("(no subject)")),
        crn_title=escape(_("Customer reference number")),
        select=_("Select %(reference)s"),
        statuses={code: escape(str(label)) for code, label in ConversationStatus.choices},
        priorities={code: escape(str(label)) for code, label in Priority.choices},
    )


class _Addresses:
    """Each conversation's page address, by brand: one ``reverse`` a brand, not one a row."""

    def __init__(self) -> None:
        self._prefixes: dict[str, str] = {}

    def of(self, conversation: RowConversation) -> str:
        slug = conversation.brand_slug
        prefix = self._prefixes.get(slug)
        if prefix is None:
            example = reverse("web:conversation", args=[slug, 0])
            assert example.endswith("/0/"), example
            prefix = self._prefixes[slug] = escape(example[: -len("0/")])
        return f"{prefix}{conversation.number}/"


def render_rows(rows: list[InboxRow], *, may_work: bool) -> SafeString:
    """The ``<tr>`` of every row, in order; ``may_work`` adds the bulk-selection checkbox."""
    texts = _texts()
    now = timezone.now()
    channel_icons: dict[str, str] = {}
    addresses = _Addresses()
    html = "".join(_row(row, may_work, texts, now, channel_icons, addresses) for row in rows)
    return mark_safe(html)  # noqa: S308 - every piece of text in a row is escaped


def _row(
    row: InboxRow,
    may_work: bool,
    texts: _Texts,
    now: datetime,
    channel_icons: dict[str, str],
    addresses: _Addresses,
) -> str:
    conversation = row.conversation
    pk = str(conversation.pk)
    reference = escape(conversation.reference)
    parts = [
        f'<tr data-conversation-id="{pk}" class="inbox-row{" is-unread" if row.unread else ""}"'
        ' tabindex="-1">'
    ]
    if may_work:
        label = escape(texts.select % {"reference": conversation.reference})
        parts.append(
            f'<td class="select"><input type="checkbox" name="conversation" value="{pk}"'
            f' form="inbox-bulk" id="select-{pk}" aria-label="{label}"></td>'
        )
    unread = (
        '<span class="unread-dot" aria-hidden="true"></span>'
        f'<span class="visually-hidden">{texts.unread} </span>'
        if row.unread
        else ""
    )
    url = addresses.of(conversation)
    parts.append(f'<th scope="row" class="reference">{unread}<a href="{url}">{reference}</a></th>')
    parts.append(
        '<td class="customer"><span class="customer-name">'
        f"{escape(conversation.customer_name)}</span>"
        f' <span class="crn" title="{texts.crn_title}">{escape(conversation.crn_display)}</span></td>'
    )
    subject = escape(conversation.subject) if conversation.subject else texts.no_subject
    preview = (
        f' <span class="preview">{escape(conversation.last_message_preview)}</span>'
        if conversation.last_message_preview
        else ""
    )
    parts.append(f'<td class="subject"><span class="subject-line">{subject}</span>{preview}</td>')
    icon = channel_icons.get(conversation.channel)
    if icon is None:
        icon = channel_icons[conversation.channel] = channel_icon_html(conversation.channel)
    parts.append(f"<td>{icon}</td>")
    parts.append(
        f'<td><span class="badge badge--{escape(conversation.status)}">'
        f"{texts.statuses.get(conversation.status, escape(conversation.status))}</span></td>"
        f'<td><span class="priority priority--{escape(conversation.priority)}">'
        f"{texts.priorities.get(conversation.priority, escape(conversation.priority))}</span></td>"
    )
    parts.append(f'<td class="nowrap">{sla_badge_html(badge_for(row.sla_timer, now))}</td>')
    assignee = (
        escape(conversation.assignee_name)
        if conversation.assignee_name
        else f'<span class="muted">{texts.unassigned}</span>'
    )
    team = (
        f'<span class="inbox-team">{escape(conversation.team_name)}</span>'
        if conversation.team_name
        else ""
    )
    parts.append(f"<td>{assignee}{team}</td>")
    tags = "".join(f'<span class="tag">{escape(name)}</span>' for name in row.tags)
    if not tags:
        tags = (
            '<span class="muted" aria-hidden="true">—</span>'
            f'<span class="visually-hidden">{texts.no_tags}</span>'
        )
    parts.append(f'<td class="tags">{tags}</td>')
    last = timezone.localtime(conversation.last_message_at)
    parts.append(
        f'<td class="nowrap"><time datetime="{last.isoformat()}"'
        f' title="{escape(local_datetime(last))}">'
        f"{escape(time_ago(last, now))}</time></td></tr>"
    )
    return "".join(parts)
