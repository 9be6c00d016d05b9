"""The agent's screens besides the inbox (atiende.inbox): a conversation, attachments, preferences.

Views only read through ``queries`` and write through ``actions``; whatever a user may not see
answers 404, never 403, so guessing another brand's addresses reveals nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_http_methods

from atiende.accounts.actions import update_preferences
from atiende.accounts.models import User
from atiende.brands.models import Brand
from atiende.conversations.attachments import download_response
from atiende.conversations.models import Attachment
from atiende.conversations.queries import attachment_for
from atiende.sla.reports import (
    Grouping,
    Period,
    attainment_for,
    breaches_for,
    report_brands_for,
    total_of,
)
from atiende.web.csv_export import csv_download
from atiende.web.forms import PreferencesForm


class AuthenticatedRequest(HttpRequest):
    """A request behind ``login_required``: its user is a staff user."""

    user: User


@login_required
@require_GET
def attachment_download(request: AuthenticatedRequest, attachment_id: int) -> FileResponse:
    """The file, always as a download and typed by its sniffed content, never rendered inline."""
    try:
        return download_response(attachment_for(request.user, attachment_id=attachment_id))
    except (Attachment.DoesNotExist, FileNotFoundError):
        raise Http404("No such attachment") from None


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


class SlaReportFilters(forms.Form):
    """The SLA report's filters; the brand is one of those whose reports the user may see."""

    brand = forms.ChoiceField(label=gettext_lazy("Brand"), required=False)
    group = forms.ChoiceField(
        label=gettext_lazy("Group by"), choices=Grouping.choices, required=False
    )

    def __init__(self, *args: Any, brands: list[Brand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        brand_field = self.fields["brand"]
        assert isinstance(brand_field, forms.ChoiceField)
        brand_field.choices = [("", _("All my brands")), *((b.slug, b.name) for b in brands)]
        # "from" and "to" are the names in the address; Python cannot declare them as attributes.
        for name, label in (("from", gettext_lazy("From")), ("to", gettext_lazy("To"))):
            self.fields[name] = forms.DateField(
                label=label,
                widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            )
        self.order_fields(["brand", "from", "to", "group"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, last = cleaned.get("from"), cleaned.get("to")
        if first and last and first > last:
            self.add_error("to", _("The end of the period comes before its start."))
        return cleaned


@login_required
@require_GET
def sla_report(request: AuthenticatedRequest) -> HttpResponse:
    """Service-level attainment and breaches over a period, for the brands whose reports the
    user may see; a brand that is not one of them answers 404, as if it did not exist."""
    brands = list(report_brands_for(request.user))
    if not brands:
        raise Http404("No reports")
    wanted = request.GET.get("brand", "")
    if wanted and wanted not in {brand.slug for brand in brands}:
        raise Http404("No such brand")
    today = timezone.localdate()
    data = request.GET.copy()
    data.setdefault("from", (today - timedelta(days=29)).isoformat())
    data.setdefault("to", today.isoformat())
    data.setdefault("group", Grouping.POLICY)
    form = SlaReportFilters(data, brands=brands)
    context: dict[str, Any] = {"form": form, "valid": form.is_valid()}
    if not context["valid"]:
        return render(request, "web/sla_report.html", context)
    chosen = [brand for brand in brands if not wanted or brand.slug == wanted]
    brand_ids = [brand.pk for brand in chosen]
    period = Period(
        form.cleaned_data["from"], form.cleaned_data["to"], timezone.get_current_timezone()
    )
    grouping = form.cleaned_data["group"] or Grouping.POLICY
    table = request.GET.get("table", "summary")
    if request.GET.get("format") == "csv":
        if table == "summary":
            rows = attainment_for(
                viewer=request.user, brand_ids=brand_ids, period=period, grouping=grouping
            )
            return _sla_summary_csv(rows, grouping, period)
        if table == "breaches":
            breaches = breaches_for(viewer=request.user, brand_ids=brand_ids, period=period)
            return _sla_breaches_csv(breaches, period)
        raise Http404("No such table")
    rows = attainment_for(
        viewer=request.user, brand_ids=brand_ids, period=period, grouping=grouping
    )
    total = total_of(rows)
    context.update(
        {
            "period": period,
            "grouping": Grouping(grouping),
            "rows": rows,
            "total": total,
            "several_brands": len(chosen) > 1,
            "breaches": list(
                breaches_for(viewer=request.user, brand_ids=brand_ids, period=period)[
                    :SLA_BREACHES_SHOWN
                ]
            ),
            "breaches_shown": SLA_BREACHES_SHOWN,
        }
    )
    return render(request, "web/sla_report.html", context)


# The page lists the latest breaches; the CSV download has every one.
SLA_BREACHES_SHOWN = 100


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _local_iso(moment: Any) -> str:
    return timezone.localtime(moment).isoformat(timespec="minutes") if moment else ""


def _sla_summary_csv(rows: list[Any], grouping: str, period: Period) -> HttpResponse:
    header = [
        str(Grouping(grouping).label),
        _("Brand"),
        pgettext("number of SLA clocks", "Met on time"),
        pgettext("number of SLA clocks", "Breached"),
        pgettext("number of SLA clocks", "Still open"),
        pgettext("number of SLA clocks", "Stopped"),
        _("Attainment (%)"),
    ]
    lines = [
        [
            row.label,
            row.brand,
            row.met_on_time,
            row.breached,
            row.still_open,
            row.stopped,
            _percent(row.attainment),
        ]
        for row in [*rows, total_of(rows)]
    ]
    # Translators: part of a downloaded file's name; keep it lower case, ASCII, without spaces.
    name = _("sla-attainment")
    return csv_download(f"atiende-{name}-{period.first}-{period.last}.csv", header, lines)


def _sla_breaches_csv(breaches: Any, period: Period) -> HttpResponse:
    header = [
        _("Reference"),
        _("Brand"),
        _("Metric"),
        _("Cycle"),
        _("Started"),
        _("Due"),
        _("Breached"),
        _("Met"),
        _("Policy"),
        _("Team"),
        _("Assignee"),
    ]
    rows = [
        [
            timer.conversation.reference,
            timer.conversation.brand.name,
            timer.get_metric_display(),
            timer.cycle + 1,
            _local_iso(timer.started_at),
            _local_iso(timer.due_at),
            _local_iso(timer.breached_at),
            _local_iso(timer.met_at),
            timer.policy.name if timer.policy else "",
            timer.conversation.team.name if timer.conversation.team else "",
            str(timer.conversation.assignee) if timer.conversation.assignee else "",
        ]
        for timer in breaches.iterator(chunk_size=1000)
    ]
    # Translators: part of a downloaded file's name; keep it lower case, ASCII, without spaces.
    name = _("sla-breaches")
    return csv_download(f"atiende-{name}-{period.first}-{period.last}.csv", header, rows)
