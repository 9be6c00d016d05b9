"""The search results page (``/search/?q=...``) and its CSV download (``&format=csv``)."""

from __future__ import annotations

import html
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.brands.queries import brands_visible_to
from atiende.channels import registry as channel_registry
from atiende.conversations.models import ConversationStatus
from atiende.search.queries import InvalidCursor, SearchPage, search_for
from atiende.web.csv_export import csv_download

PAGE_SIZE = 20
CSV_ROWS = 1_000


def _channel_label(code: str) -> str:
    return str(channel_registry.get(code).label) if channel_registry.is_registered(code) else code


def _filters(request: HttpRequest) -> dict[str, Any]:
    """The filters asked for, keeping only values that exist (anything else is ignored)."""
    visible = brand_ids_with(request.user, Capability.VIEW_CONVERSATIONS)
    brands = [
        brand
        for brand in brands_visible_to(request.user).order_by("name")
        if visible is None or brand.pk in visible
    ]
    brand = next((b for b in brands if b.slug == request.GET.get("brand")), None)
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    return {
        "brands": brands,
        "brand": brand,
        "status": status if status in ConversationStatus.values else "",
        "channel": channel if channel_registry.is_registered(channel) else "",
    }


def _search(request: HttpRequest, filters: dict[str, Any], *, limit: int) -> SearchPage:
    def search(after: str | None) -> SearchPage:
        return search_for(
            request.user,
            request.GET.get("q", ""),
            brand_ids=[filters["brand"].pk] if filters["brand"] else None,
            status=filters["status"] or None,
            channel=filters["channel"] or None,
            limit=limit,
            after=after,
        )

    try:
        return search(request.GET.get("after") or None)
    except InvalidCursor:
        # A mangled "next" link: start again from the first page.
        return search(None)


@login_required
@require_GET
def search_results(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    if request.GET.get("format") == "csv":
        return _csv(_search(request, filters, limit=CSV_ROWS))
    page = _search(request, filters, limit=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("after", None)
    next_query = None
    if page.next_after:
        query["after"] = page.next_after
        next_query = query.urlencode()
    csv_query = request.GET.copy()
    csv_query.pop("after", None)
    csv_query["format"] = "csv"
    return render(
        request,
        "search/results.html",
        {
            "q": page.query.text,
            "page": page,
            "filters": filters,
            "statuses": ConversationStatus.choices,
            "channels": channel_registry.choices(),
            "next_query": next_query,
            "csv_query": csv_query.urlencode(),
            "is_first_page": not request.GET.get("after"),
        },
    )


def _csv(page: SearchPage) -> HttpResponse:
    header = [
        _("Reference"),
        _("Customer"),
        _("CRN"),
        _("Subject"),
        _("Found in"),
        _("Excerpt"),
        _("Channel"),
        _("Status"),
        _("Last activity"),
    ]
    rows = [
        [
            hit.conversation.reference,
            hit.conversation.customer.display_name,
            hit.conversation.customer.crn_display,
            hit.conversation.subject,
            hit.kind_label,
            # The highlight's <mark> tags go; the text was escaped for HTML, so unescape it.
            html.unescape(strip_tags(hit.snippet)),
            _channel_label(hit.conversation.channel),
            hit.conversation.get_status_display(),
            timezone.localtime(hit.conversation.last_message_at).isoformat(timespec="minutes"),
        ]
        for hit in page.hits
    ]
    return csv_download("search.csv", header, rows)
