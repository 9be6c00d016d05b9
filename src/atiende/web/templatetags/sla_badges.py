"""``{% sla_badge timer %}``: how a conversation stands against its service level, as a badge.

The text (time left or overdue) is written here so the page reads right without JavaScript;
``static/web/sla.js`` then keeps it current and switches the state at the warning and due instants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.sla.models import Metric, SlaTimer, TimerState
from atiende.sla.policies import format_minutes
from atiende.sla.queries import Deadline
from atiende.web.dates import local_datetime

register = template.Library()


@dataclass(frozen=True)
class SlaBadge:
    # ok, warning, breached, paused, met, stopped or none
    state: str
    text: str
    # Said before the text to screen readers, where the colour alone tells the state.
    state_label: str = ""
    metric: str = ""
    due_at: datetime | None = None
    warn_at: datetime | None = None
    # A running clock with a deadline: the browser keeps its text current.
    live: bool = False

    @property
    def due_iso(self) -> str:
        return _iso(self.due_at)

    @property
    def warn_iso(self) -> str:
        return _iso(self.warn_at)


def _duration(minutes: int) -> str:
    """``2 h 13 min``; past two days ``3 d 4 h``, where minutes no longer matter."""
    if minutes < 48 * 60:
        return format_minutes(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours = rest // 60
    if not hours:
        return _("%(days)d d") % {"days": days}
    return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}


def _iso(moment: datetime | None) -> str:
    # Whole seconds: a valid HTML datetime, and one every browser's Date.parse reads.
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _metric_label(code: str) -> str:
    return _metric_labels(get_language()).get(code, code)


# The inbox draws a badge on every row: what every badge says the same way is translated once
# per language (get_metric_display() alone hashes the field's choices on every call).
@lru_cache(maxsize=16)
def _metric_labels(language: str | None) -> dict[str, str]:
    return {code: str(label) for code, label in Metric.choices}


@lru_cache(maxsize=16)
def _live_attributes(language: str | None) -> str:
    return (
        f' data-sla-label-warning="{escape(_("At risk"))}"'
        f' data-sla-label-breached="{escape(_("Overdue"))}"'
    )


def badge_for(timer: SlaTimer | Deadline | None, now: datetime | None = None) -> SlaBadge:
    """The badge of one timer at ``now``: its state and, for a running clock, the time left."""
    if timer is None:
        return SlaBadge("none", _("No SLA"))
    now = now or timezone.now()
    metric = _metric_label(timer.metric)
    if timer.state == TimerState.PAUSED:
        return SlaBadge("paused", _("Paused"), metric=metric)
    if timer.state == TimerState.MET:
        if timer.breached_at is not None:
            return SlaBadge("breached", _("Met late"), metric=metric, due_at=timer.due_at)
        return SlaBadge("met", _("Met"), metric=metric, due_at=timer.due_at)
    if timer.state != TimerState.RUNNING or timer.due_at is None:
        return SlaBadge("stopped", _("Stopped"), metric=metric)
    seconds = (timer.due_at - now).total_seconds()
    if timer.breached_at is not None or seconds <= 0:
        # Whole minutes late, at least one: "overdue 0 min" would read as on time.
        late = _duration(max(1, math.floor(-seconds / 60)))
        state, text = "breached", _("overdue %(duration)s") % {"duration": late}
        state_label = _("Overdue")
    else:
        # Minutes left rounded up: "0 min left" while there is still time would read as late.
        left = _duration(math.ceil(seconds / 60))
        text = _("%(duration)s left") % {"duration": left}
        warned = timer.warned_at is not None or (timer.warn_at is not None and timer.warn_at <= now)
        state, state_label = ("warning", _("At risk")) if warned else ("ok", "")
    return SlaBadge(
        state,
        text,
        state_label=state_label,
        metric=metric,
        due_at=timer.due_at,
        warn_at=timer.warn_at,
        live=True,
    )


def sla_badge_html(badge: SlaBadge, show_metric: bool = False) -> SafeString:
    """The badge as HTML; ``show_metric`` names the metric visibly (else for screen readers only).

    Plain Python rather than an inclusion template: the inbox draws one a row, and a template
    render each time was a measurable share of the page.
    """
    if badge.state == "none":
        html = (
            '<span class="sla-none"><span class="muted" aria-hidden="true">—</span>'
            f'<span class="visually-hidden">{escape(badge.text)}</span></span>'
        )
        return mark_safe(html)  # noqa: S308 - the text is escaped
    parts = [f'<span class="sla sla--{escape(badge.state)}"']
    due_iso = badge.due_iso
    if badge.live:
        parts.append(f' data-sla-due="{due_iso}"')
        if badge.warn_at:
            parts.append(f' data-sla-warn="{badge.warn_iso}"')
        parts.append(_live_attributes(get_language()))
    parts.append(">")
    if badge.metric:
        metric = escape(str(badge.metric))
        if show_metric:
            parts.append(
                f'<span class="sla-metric">{metric}</span><span aria-hidden="true">·</span> '
            )
        else:
            parts.append(f'<span class="visually-hidden">{metric}:</span> ')
    if badge.live:
        state_label = f"{escape(badge.state_label)}:" if badge.state_label else ""
        title = local_datetime(badge.due_at) if badge.due_at else ""
        parts.append(
            f'<span class="sla-state visually-hidden">{state_label}</span> '
            f'<time class="sla-time" datetime="{due_iso}" title="{escape(title)}">'
            f"{escape(badge.text)}</time>"
        )
    else:
        parts.append(f'<span class="sla-time">{escape(badge.text)}</span>')
    parts.append("</span>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text above is escaped


@register.simple_tag
def sla_badge(timer: SlaTimer | None, show_metric: bool = False) -> SafeString:
    """The badge of ``timer`` (None: no SLA); ``show_metric`` names the metric visibly."""
    return sla_badge_html(badge_for(timer), show_metric)


@register.simple_tag
def sees_reports(user: Any) -> bool:
    """Whether ``user`` may see the reports of at least one brand (the navigation's link)."""
    if not getattr(user, "is_authenticated", False):
        return False
    brands = brand_ids_with(user, Capability.VIEW_REPORTS)
    return brands is None or bool(brands)
