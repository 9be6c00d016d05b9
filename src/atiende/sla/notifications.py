"""Telling people about warnings and breaches by email (the in-app side is the SlaEvent row and
the real-time message sent when it is recorded).

Who hears: the conversation's assignee; with no assignee, the active members of its team. Each
in their own language and time zone, with a link when ATIENDE_PUBLIC_URL says where Atiende is.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from atiende.accounts.models import User
from atiende.sla.models import Metric, SlaEvent

logger = logging.getLogger(__name__)


def recipients_of(event: SlaEvent) -> list[User]:
    conversation = event.conversation
    if conversation.assignee is not None:
        return [conversation.assignee] if conversation.assignee.is_active else []
    if conversation.team is None:
        return []
    return list(conversation.team.members.filter(is_active=True).exclude(email=""))


def email_about(event_id: int) -> int:
    """Send the event's notice to each recipient; returns how many were sent."""
    event = (
        SlaEvent.objects.select_related(
            "timer", "conversation__brand", "conversation__assignee", "conversation__team"
        )
        .filter(pk=event_id, type__in=["sla.warning", "sla.breached"])
        .first()
    )
    if event is None:
        return 0
    sent = 0
    for user in recipients_of(event):
        message = _notice(event, user)
        try:
            message.send()
        except Exception:
            logger.exception("could not email %s about SLA event %s", user.email, event_id)
            continue
        sent += 1
    return sent


def _notice(event: SlaEvent, user: User) -> EmailMessage:
    conversation, timer = event.conversation, event.timer
    language = user.language or conversation.brand.default_language or settings.LANGUAGE_CODE
    zone = user.time_zone or "UTC"
    with translation.override(language), timezone.override(zone):
        metric = Metric(timer.metric).label
        due = timezone.localtime(timer.due_at).strftime("%Y-%m-%d %H:%M") if timer.due_at else ""
        values = {
            "reference": conversation.reference,
            "metric": metric,
            "due": f"{due} ({zone})",
            "subject": conversation.subject,
        }
        if event.type == "sla.breached":
            subject = _("[%(reference)s] %(metric)s deadline missed") % values
            lead = _("The %(metric)s target of %(reference)s was missed at %(due)s.") % values
        else:
            subject = _("[%(reference)s] %(metric)s due soon") % values
            lead = _("The %(metric)s target of %(reference)s is due at %(due)s.") % values
        lines = [lead, "", f"{conversation.reference} · {conversation.subject}", timer.explanation]
        public_url = settings.ATIENDE_PUBLIC_URL
        if public_url:
            path = reverse("web:conversation", args=[conversation.brand.slug, conversation.number])
            lines += ["", public_url.rstrip("/") + path]
    return EmailMessage(subject=subject, body="\n".join(lines), to=[user.email])
