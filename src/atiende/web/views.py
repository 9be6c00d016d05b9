"""The agent's screens: home, a conversation, attachments, preferences.

Views only read through ``queries`` and write through ``actions``; whatever a user may not see
answers 404, never 403, so guessing another brand's addresses reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from atiende.accounts.actions import update_preferences
from atiende.accounts.models import User
from atiende.accounts.queries import memberships_of
from atiende.channels import registry as channel_registry
from atiende.conversations.models import Attachment, Conversation, ConversationStatus
from atiende.conversations.queries import (
    attachment_for,
    conversation_for,
    recent_conversations_for,
    status_counts_for,
    unsolved_assigned_count_for,
)
from atiende.customers.queries import identities_of
from atiende.web.csv_export import csv_download
from atiende.web.forms import PreferencesForm
from atiende.web.timeline import timeline_for


class AuthenticatedRequest(HttpRequest):
    """A request behind ``login_required``: its user is a staff user."""

    user: User


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@login_required
@require_GET
def home(request: AuthenticatedRequest) -> HttpResponse:
    counts = status_counts_for(request.user)
    return render(
        request,
        "web/home.html",
        {
            "memberships": list(memberships_of(request.user)),
            "status_counts": [
                StatusCount(status.value, str(status.label), counts.get(status.value, 0))
                for status in ConversationStatus
            ],
            "assigned_to_me": unsolved_assigned_count_for(request.user),
            "conversations": recent_conversations_for(request.user),
        },
    )


@login_required
@require_GET
def recent_conversations_csv(request: AuthenticatedRequest) -> HttpResponse:
    """The home screen's table of recent conversations, same rows and same scope, as CSV."""
    header = [
        _("Reference"),
        _("Customer"),
        _("CRN"),
        _("Subject"),
        _("Last message"),
        _("Channel"),
        _("Status"),
        _("Priority"),
        _("Assignee"),
        _("Team"),
        _("Tags"),
        _("Last activity"),
    ]
    rows = [
        [
            conversation.reference,
            conversation.customer.display_name,
            conversation.customer.crn_display,
            conversation.subject,
            conversation.last_message_preview,
            _channel_label(conversation.channel),
            conversation.get_status_display(),
            conversation.get_priority_display(),
            str(conversation.assignee) if conversation.assignee else "",
            str(conversation.team) if conversation.team else "",
            ", ".join(tag.name for tag in conversation.tags.all()),
            timezone.localtime(conversation.last_message_at).isoformat(timespec="minutes"),
        ]
        for conversation in recent_conversations_for(request.user)
    ]
    # Translators: part of a downloaded file's name; keep it lower case, ASCII, without spaces.
    name = _("recent-conversations")
    return csv_download(f"atiende-{name}-{timezone.localdate():%Y-%m-%d}.csv", header, rows)


@login_required
@require_GET
def conversation_detail(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> HttpResponse:
    try:
        conversation = conversation_for(request.user, brand_slug=brand_slug, number=number)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None
    return render(
        request,
        "web/conversation.html",
        {
            "conversation": conversation,
            "identities": list(identities_of(conversation.customer)),
            "timeline": timeline_for(conversation, viewer=request.user),
        },
    )


@login_required
@require_GET
def attachment_download(request: AuthenticatedRequest, attachment_id: int) -> FileResponse:
    """The file, always as a download and typed by its sniffed content, never rendered inline."""
    try:
        attachment = attachment_for(request.user, attachment_id=attachment_id)
        stream = attachment.file.open("rb")
    except (Attachment.DoesNotExist, FileNotFoundError):
        raise Http404("No such attachment") from None
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    form = PreferencesForm(
        request.POST or None,
        initial={
            "full_name": user.full_name,
            "language": user.language,
            "time_zone": user.time_zone or "UTC",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_preferences(user=user, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _preferences_saved(request, user)
    return render(request, "web/preferences.html", {"form": form})


def _preferences_saved(request: AuthenticatedRequest, user: User) -> HttpResponse:
    # The confirmation is written in the language just chosen, not the one this request began in.
    translation.activate(user.language or translation.get_language_from_request(request))
    messages.success(request, _("Your preferences have been saved."))
    response = redirect("web:preferences")
    # The language cookie (set by the sign-in page's switcher) would otherwise outvote the
    # browser for someone who asked to follow it, and it keeps the chosen language after sign-out.
    if user.language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            user.language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


def _channel_label(code: str) -> str:
    try:
        return str(channel_registry.get(code).label)
    except LookupError:
        return code
