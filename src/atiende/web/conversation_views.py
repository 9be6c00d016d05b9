"""The conversation page (issue 5): timeline, composer, properties, customer, merge and split.

Reads go through ``queries`` (and :mod:`atiende.web.workspace`), writes through the actions. A
conversation the user may not see answers 404; one they may see but not change answers 403 with
a sentence saying so, never a server error. Every form works as a plain POST; with htmx the
composer and the properties are swapped in place.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from atiende.accounts.models import User
from atiende.accounts.permissions import can
from atiende.accounts.roles import Capability
from atiende.channels import registry as channel_registry
from atiende.conversations import actions as conversation_actions
from atiende.conversations.attachments import preview_response
from atiende.conversations.lifecycle import Status, TransitionNotAllowed
from atiende.conversations.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Message,
    Priority,
)
from atiende.conversations.queries import (
    attachment_for,
    conversation_for,
    conversations_visible_to,
    messages_of,
)
from atiende.inbox.actions import mark_read
from atiende.sla.queries import next_deadline, timers_of, why_this_policy
from atiende.web.forms import ComposerForm, MergeForm, SplitForm
from atiende.web.timeline import timeline_for
from atiende.web.timeline_html import render_timeline
from atiende.web.workspace import (
    assignable_agents,
    brand_categories,
    brand_teams,
    customer_panel,
    default_reply_channel,
    incoming_uploads,
    mentionable_colleagues,
    mentioned_in,
    newer_reply,
    reply_channels,
    reply_status_choices,
    status_choices,
)

# Fired (HX-Trigger) after a change, so the page fetches the new timeline entries and panel.
TIMELINE_CHANGED = "atiende:timeline-changed"
PROPERTIES_CHANGED = "atiende:properties-changed"
MENTION_SUGGESTIONS = 10


class AuthenticatedRequest(HttpRequest):
    user: User


def _visible(request: AuthenticatedRequest, brand_slug: str, number: int) -> Conversation:
    try:
        return conversation_for(request.user, brand_slug=brand_slug, number=number)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden(
        _("You may read this conversation but not change it."),
        content_type="text/plain; charset=utf-8",
    )


def _page_url(conversation: Conversation) -> str:
    return reverse("web:conversation", args=[conversation.brand.slug, conversation.number])


def _mark_read(conversation: Conversation, user: User) -> None:
    """Opening the page marks the conversation read for the user (the inbox's unread state)."""
    try:
        mark_read(conversation=conversation, actor=user)
    except PermissionDenied:
        # Someone who may only read (a client viewer) has no unread state to keep.
        return


def _message_ids(values: list[str]) -> set[int]:
    return {int(value) for value in values if value.isdigit()}


def _composer(
    conversation: Conversation,
    *,
    offered: list[Any],
    default_channel: str,
    seen: int,
    data: Any = None,
) -> ComposerForm:
    return ComposerForm(
        data,
        channels=[(channel.code, channel.label) for channel in offered],
        statuses=reply_status_choices(conversation.status),
        initial={"kind": ComposerForm.REPLY, "channel": default_channel, "seen": seen},
    )


def _can_split(conversation: Conversation, user: User, message_count: int) -> bool:
    """Whether the timeline offers its messages for splitting off (the page's split form and
    the entries appended live agree on it)."""
    return (
        can(user, Capability.WORK_CONVERSATIONS, conversation.brand_id)
        and conversation.status != Status.CLOSED
        and conversation.merged_into_id is None
        and message_count > 1
    )


def _page_context(
    request: AuthenticatedRequest,
    conversation: Conversation,
    *,
    remote_images_for: set[int] | None = None,
    composer: ComposerForm | None = None,
    collision: Message | None = None,
    merge_form: MergeForm | None = None,
    split_form: SplitForm | None = None,
) -> dict[str, Any]:
    user = request.user
    brand_id = conversation.brand_id
    timeline = timeline_for(conversation, viewer=user, remote_images_for=remote_images_for or ())
    shown = [entry.message for entry in timeline if entry.message is not None]
    panel = customer_panel(conversation, viewer=user)
    offered = reply_channels(panel.identities, {message.channel for message in shown})
    default_channel = default_reply_channel(conversation, shown, offered)
    works = can(user, Capability.WORK_CONVERSATIONS, brand_id)
    writable = works and conversation.status != Status.CLOSED
    timers = list(timers_of(conversation, viewer=user))
    resolution = why_this_policy(conversation, viewer=user)
    can_split = _can_split(conversation, user, len(shown))
    context: dict[str, Any] = {
        "conversation": conversation,
        "panel": panel,
        "reply_channels": offered,
        "can_work": works,
        "can_write": writable,
        "can_split": can_split,
        "timeline_html": render_timeline(timeline, conversation=conversation, can_split=can_split),
        "composer": composer
        or _composer(
            conversation,
            offered=offered,
            default_channel=default_channel,
            seen=max((message.pk for message in shown), default=0),
        ),
        "collision": collision,
        "merge_form": merge_form or MergeForm(),
        "split_form": split_form,
        "merged_into": _merged_into(conversation, user),
        "sla_timers": timers,
        "sla_deadline": next_deadline(timers),
        "sla_resolution": resolution,
        "sla_explanation": resolution.explanation() if resolution else [],
        "configures_brand": user.is_staff and can(user, Capability.CONFIGURE_BRAND, brand_id),
    }
    context.update(_properties_context(conversation, user))
    return context


def _merged_into(conversation: Conversation, user: User) -> Conversation | None:
    if conversation.merged_into_id is None:
        return None
    return conversations_visible_to(user).filter(pk=conversation.merged_into_id).first()


def _properties_context(conversation: Conversation, user: User) -> dict[str, Any]:
    brand_id = conversation.brand_id
    works = can(user, Capability.WORK_CONVERSATIONS, brand_id)
    assigns = can(user, Capability.ASSIGN_CONVERSATIONS, brand_id)
    return {
        "can_work": works,
        "can_assign": assigns,
        "status_choices": status_choices(conversation.status) if works else [],
        "priority_choices": Priority.choices,
        "assignee_choices": list(assignable_agents(user, brand_id)) if assigns else [],
        "team_choices": list(brand_teams(user, brand_id)) if assigns else [],
        "category_choices": list(brand_categories(brand_id)) if works else [],
        "tags_text": ", ".join(tag.name for tag in conversation.tags.all()),
    }


@login_required
@require_GET
def conversation_detail(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> HttpResponse:
    conversation = _visible(request, brand_slug, number)
    _mark_read(conversation, request.user)
    remote = _message_ids(request.GET.getlist("remote_images"))
    return render(
        request,
        "web/conversation.html",
        _page_context(request, conversation, remote_images_for=remote),
    )


@login_required
@require_GET
def conversation_timeline(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> HttpResponse:
    """The timeline entries after message ``?after=`` (all of them without it), as HTML to append."""
    conversation = _visible(request, brand_slug, number)
    after_id = request.GET.get("after", "")
    anchor = None
    if after_id not in ("", "0"):
        if not after_id.isdigit():
            return HttpResponseBadRequest(_("after must be a message id."))
        anchor = messages_of(conversation, viewer=request.user).filter(pk=int(after_id)).first()
        if anchor is None:
            raise Http404("No such message in this conversation")
    timeline = timeline_for(
        conversation,
        viewer=request.user,
        after=anchor,
        remote_images_for=_message_ids(request.GET.getlist("remote_images")),
    )
    message_count = messages_of(conversation, viewer=request.user).count()
    can_split = _can_split(conversation, request.user, message_count)
    return HttpResponse(render_timeline(timeline, conversation=conversation, can_split=can_split))


@login_required
@require_POST
def conversation_reply(request: AuthenticatedRequest, brand_slug: str, number: int) -> HttpResponse:
    """Send the composer: a reply on the chosen channel, or an internal note with @mentions."""
    conversation = _visible(request, brand_slug, number)
    user = request.user
    if not can(user, Capability.WORK_CONVERSATIONS, conversation.brand_id):
        return _forbidden()
    panel = customer_panel(conversation, viewer=user)
    used = set(messages_of(conversation, viewer=user).values_list("channel", flat=True))
    offered = reply_channels(panel.identities, used)
    form = ComposerForm(
        request.POST,
        channels=channel_registry.choices(),
        statuses=reply_status_choices(conversation.status),
    )
    collision: Message | None = None
    if form.is_valid():
        collision = _send(request, conversation, form)
        if collision is None and not form.errors:
            return _sent(request, conversation, form.cleaned_data["kind"])
        if collision is not None:
            # The second submit of the same draft is the agent's "send anyway".
            data = request.POST.copy()
            data["confirm"] = "1"
            form = ComposerForm(
                data,
                channels=channel_registry.choices(),
                statuses=reply_status_choices(conversation.status),
            )
            form.is_valid()
    # Re-shown with the draft kept; the channel list is the one the customer can be reached on.
    form.fields["channel"].choices = [(channel.code, channel.label) for channel in offered]  # type: ignore[attr-defined]
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "web/conversation/composer.html",
            {
                "conversation": conversation,
                "composer": form,
                "collision": collision,
                "reply_channels": offered,
                "can_write": True,
            },
        )
    context = _page_context(request, conversation, composer=form, collision=collision)
    return render(request, "web/conversation.html", context, status=200 if collision else 422)


def _send(
    request: AuthenticatedRequest,
    conversation: Conversation,
    form: ComposerForm,
) -> Message | None:
    """Run the composer's action; errors land on ``form``. Returns the newer reply instead of
    sending when someone else answered since the agent's view (and they did not confirm)."""
    data = form.cleaned_data
    user = request.user
    body = data["body"]
    try:
        attachments = incoming_uploads(request.FILES.getlist("attachments"))
        if data["kind"] == ComposerForm.NOTE:
            mentions = mentioned_in(body, mentionable_colleagues(user, conversation.brand_id))
            conversation_actions.add_internal_note(
                conversation=conversation,
                actor=user,
                body_text=body,
                attachments=attachments,
                mentions=mentions,
            )
            return None
        channel = data["channel"] or conversation.channel
        if not data["confirm"]:
            newer = newer_reply(conversation, seen=data["seen"] or 0, viewer=user)
            if newer is not None:
                return newer
        conversation_actions.reply_to_conversation(
            conversation=conversation,
            actor=user,
            body_text=body,
            channel=channel,
            attachments=attachments,
            status=data["status"] or None,
        )
    except PermissionDenied:
        form.add_error(None, _("You may read this conversation but not change it."))
    except TransitionNotAllowed as error:
        form.add_error(None, _transition_refused(error))
    except ValidationError as error:
        form.add_error(None, error)
    return None


def _transition_refused(error: TransitionNotAllowed) -> str:
    if error.current == error.target:
        return _("This conversation is closed: nothing more can be added to it.")
    return _("A conversation cannot go from %(current)s to %(target)s.") % {
        "current": _status_label(error.current),
        "target": _status_label(error.target),
    }


def _status_label(value: str) -> str:
    try:
        return str(ConversationStatus(value).label)
    except ValueError:
        return value


def _sent(request: AuthenticatedRequest, conversation: Conversation, kind: str) -> HttpResponse:
    done = _("Note added.") if kind == ComposerForm.NOTE else _("Reply sent.")
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, done)
        return redirect(_page_url(conversation) + "#composer")
    conversation.refresh_from_db()
    shown = list(messages_of(conversation, viewer=request.user).prefetch_related(None))
    panel = customer_panel(conversation, viewer=request.user)
    offered = reply_channels(panel.identities, {message.channel for message in shown})
    form = _composer(
        conversation,
        offered=offered,
        default_channel=default_reply_channel(conversation, shown, offered),
        seen=max((message.pk for message in shown), default=0),
    )
    response = render(
        request,
        "web/conversation/composer.html",
        {
            "conversation": conversation,
            "composer": form,
            "reply_channels": offered,
            "can_write": conversation.status != Status.CLOSED,
            "sent_notice": done,
        },
    )
    trigger_client_event(response, TIMELINE_CHANGED)
    return trigger_client_event(response, PROPERTIES_CHANGED)


@login_required
@require_http_methods(["GET", "POST"])
def conversation_properties(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> HttpResponse:
    """The properties panel (GET), or one property changed in place through its action (POST)."""
    conversation = _visible(request, brand_slug, number)
    error = ""
    if request.method == "POST":
        field = request.POST.get("field", "")
        value = request.POST.get("value", "").strip()
        try:
            changed = _change_property(conversation, request.user, field, value)
        except PermissionDenied:
            return _forbidden()
        except LookupError:
            return HttpResponseBadRequest(_("There is no such property."))
        except TransitionNotAllowed as refused:
            error = _transition_refused(refused)
            changed = False
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
            changed = False
        if not request.htmx:  # type: ignore[attr-defined]
            if error:
                messages.error(request, error)
            return redirect(_page_url(conversation))
        if changed:
            conversation = _visible(request, brand_slug, number)
    context: dict[str, Any] = {"conversation": conversation, "property_error": error}
    context.update(_properties_context(conversation, request.user))
    if request.htmx:  # type: ignore[attr-defined]
        # The page header shows status, priority, assignee and SLA too: it follows, out of band.
        context["facts_oob"] = True
        context["sla_deadline"] = next_deadline(timers_of(conversation, viewer=request.user))
    response = render(request, "web/conversation/properties.html", context)
    if request.method == "POST" and not error:
        trigger_client_event(response, TIMELINE_CHANGED)
    return response


def _change_property(conversation: Conversation, user: User, field: str, value: str) -> bool:
    """Apply one property change; False when the value is what it already was."""
    actions = conversation_actions
    if field == "status":
        if value == conversation.status:
            return False
        actions.change_status(conversation=conversation, status=value, actor=user)
    elif field == "priority":
        if value == conversation.priority:
            return False
        actions.change_priority(conversation=conversation, priority=value, actor=user)
    elif field == "assignee":
        if not can(user, Capability.ASSIGN_CONVERSATIONS, conversation.brand_id):
            raise PermissionDenied
        assignee = _one_of(assignable_agents(user, conversation.brand_id), value, _("agent"))
        if assignee == conversation.assignee:
            return False
        actions.assign_conversation(
            conversation=conversation, assignee=assignee, team=conversation.team, actor=user
        )
    elif field == "team":
        if not can(user, Capability.ASSIGN_CONVERSATIONS, conversation.brand_id):
            raise PermissionDenied
        team = _one_of(brand_teams(user, conversation.brand_id), value, _("team"))
        if team is None or team == conversation.team:
            return False
        actions.assign_conversation(
            conversation=conversation, assignee=conversation.assignee, team=team, actor=user
        )
    elif field == "category":
        category = _one_of(brand_categories(conversation.brand_id), value, _("category"))
        if category == conversation.category:
            return False
        actions.categorize_conversation(conversation=conversation, category=category, actor=user)
    elif field == "tags":
        tags = [name for name in value.split(",") if name.strip()]
        if sorted({t.strip().lower() for t in tags}) == sorted(
            tag.name for tag in conversation.tags.all()
        ):
            return False
        actions.set_conversation_tags(conversation=conversation, tags=tags, actor=user)
    else:
        raise LookupError(field)
    return True


def _one_of(choices: Any, value: str, what: str) -> Any:
    """The chosen row among ``choices`` (None for an empty value); a ValidationError otherwise."""
    if not value:
        return None
    chosen = choices.filter(pk=int(value)).first() if value.isdigit() else None
    if chosen is None:
        raise ValidationError(_("There is no such %(what)s in this brand."), params={"what": what})
    return chosen


@login_required
@require_GET
def conversation_colleagues(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> JsonResponse:
    """Colleagues a note on this conversation can @mention, filtered by ``?q=``, as JSON."""
    conversation = _visible(request, brand_slug, number)
    if not can(request.user, Capability.WORK_CONVERSATIONS, conversation.brand_id):
        raise Http404("No colleagues to mention")
    query = request.GET.get("q", "").strip().lstrip("@")
    colleagues = mentionable_colleagues(request.user, conversation.brand_id)
    if query:
        colleagues = colleagues.filter(Q(full_name__icontains=query) | Q(email__icontains=query))
    return JsonResponse(
        {
            "colleagues": [
                {"id": user.pk, "name": user.full_name, "email": user.email}
                for user in colleagues[:MENTION_SUGGESTIONS]
            ]
        }
    )


def _redirect(request: AuthenticatedRequest, url: str) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
@require_POST
def conversation_merge(request: AuthenticatedRequest, brand_slug: str, number: int) -> HttpResponse:
    """Merge this conversation into another of the brand, named by its reference (CV5)."""
    conversation = _visible(request, brand_slug, number)
    if not can(request.user, Capability.WORK_CONVERSATIONS, conversation.brand_id):
        return _forbidden()
    form = MergeForm(request.POST)
    if form.is_valid():
        try:
            target_number = form.target_number(conversation.brand.number_prefix)
            target = (
                conversations_visible_to(request.user)
                .filter(brand_id=conversation.brand_id, number=target_number)
                .first()
            )
            if target is None:
                raise ValidationError(
                    _("There is no conversation %(reference)s."),
                    params={"reference": f"{conversation.brand.number_prefix}-{target_number}"},
                )
            conversation_actions.merge_conversations(
                source=conversation, target=target, actor=request.user
            )
        except PermissionDenied:
            return _forbidden()
        except ValidationError as error:
            form.add_error("target", error)
        else:
            messages.success(
                request,
                _("%(source)s was merged into %(target)s.")
                % {"source": conversation.reference, "target": target.reference},
            )
            # Back to the pointer: its banner links to the target and offers the undo.
            return _redirect(request, _page_url(conversation))
    context = _page_context(request, conversation, merge_form=form)
    return render(request, "web/conversation.html", context, status=422)


@login_required
@require_POST
def conversation_undo_merge(
    request: AuthenticatedRequest, brand_slug: str, number: int
) -> HttpResponse:
    conversation = _visible(request, brand_slug, number)
    if not can(request.user, Capability.WORK_CONVERSATIONS, conversation.brand_id):
        return _forbidden()

    try:
        conversation_actions.undo_merge(source=conversation, actor=request.user)
    except PermissionDenied:
        return _forbidden()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The merge was undone."))
    return _redirect(request, _page_url(conversation))


@login_required
@require_POST
def conversation_split(request: AuthenticatedRequest, brand_slug: str, number: int) -> HttpResponse:
    """Move the chosen messages into a new conversation of the same customer (CV5)."""
    conversation = _visible(request, brand_slug, number)
    if not can(request.user, Capability.WORK_CONVERSATIONS, conversation.brand_id):
        return _forbidden()
    visible_ids = list(messages_of(conversation, viewer=request.user).values_list("pk", flat=True))
    form = SplitForm(request.POST, message_ids=visible_ids)
    if form.is_valid():
        try:
            new = conversation_actions.split_conversation(
                conversation=conversation,
                message_ids=form.cleaned_data["messages"],
                actor=request.user,
                subject=form.cleaned_data["subject"],
            )
        except PermissionDenied:
            return _forbidden()
        except ValidationError as error:
            form.add_error(None, error)
        else:
            new = conversations_visible_to(request.user).get(pk=new.pk)
            messages.success(
                request,
                _("The chosen messages are now %(reference)s.") % {"reference": new.reference},
            )
            return _redirect(request, _page_url(new))
    context = _page_context(request, conversation, split_form=form)
    return render(request, "web/conversation.html", context, status=422)


@login_required
@require_GET
# The page shows a PDF in the browser's viewer inside an iframe of its own origin.
@xframe_options_sameorigin
def attachment_preview(request: AuthenticatedRequest, attachment_id: int) -> FileResponse:
    """An image or PDF shown in the browser (thumbnails, the PDF viewer); anything else downloads."""
    try:
        return preview_response(attachment_for(request.user, attachment_id=attachment_id))
    except (Attachment.DoesNotExist, FileNotFoundError):
        raise Http404("No such attachment") from None
