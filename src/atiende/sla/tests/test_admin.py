"""Calendars and policies are edited in the administration as people write them, through the
actions (events, recomputation), with errors in words on the form."""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from django.urls import reverse

from atiende.brands.models import BrandEvent
from atiende.sla.models import Calendar, Policy

WEEKDAYS_FORM = {f"hours_{day}": "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def admin_client(client, brand_admin):
    client.login(username=brand_admin.email, password=PASSWORD)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _calendar_form(brand, **overrides):
    return {
        "brand": brand.pk, "name": "Oficina Madrid", "time_zone": "Europe/Madrid",
        **WEEKDAYS_FORM, "hours_mon": "09:00-14:00, 15:00-18:00", "hours_fri": "09:00-15:00",
        "hours_sat": "22:00-06:00+1", "holiday_country": "es", "holiday_subdivision": "md",
        "closures": "2026-08-14\n", "special_dates": "2026-12-24: 09:00-13:00", "date_breaks": "",
        **overrides,
    }  # fmt: skip


def test_a_calendar_is_written_as_hours_and_stored_through_the_action(admin_client, brand):
    response = admin_client.post(reverse("admin:sla_calendar_add"), _calendar_form(brand))
    assert response.status_code == 302, response.content.decode()[:2000]
    calendar = Calendar.objects.get()
    assert calendar.weekly == {
        "mon": [["09:00", "14:00"], ["15:00", "18:00"]],
        "fri": [["09:00", "15:00"]],
        "sat": [["22:00", "06:00+1"]],
    }
    assert calendar.date_hours == {"2026-12-24": [["09:00", "13:00"]]}
    assert calendar.closed_dates == ["2026-08-14"]
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("ES", "MD")
    assert BrandEvent.objects.filter(type="sla.calendar_created").exists()
    page = admin_client.get(
        reverse("admin:sla_calendar_change", args=[calendar.pk])
    ).content.decode()
    assert 'value="09:00-14:00, 15:00-18:00"' in page
    assert "2026-12-24: 09:00-13:00" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hours_mon": "18:00-09:00"}, "ends before it starts"),
        ({"hours_mon": "9 to 5"}, "is not an interval like 09:00-14:00"),
        ({"hours_tue": "09:00-14:00, 13:00-18:00"}, "overlap"),
        ({"special_dates": "Nochebuena 09:00-13:00"}, "as a date, a colon and hours"),
        ({"closures": "mañana"}, "is not a date like 2026-12-24"),
        ({"holiday_country": "XX"}, "no public holiday list"),
    ],
)
def test_bad_hours_are_shown_on_the_form_and_nothing_is_saved(
    admin_client, brand, overrides, message
):
    response = admin_client.post(
        reverse("admin:sla_calendar_add"), _calendar_form(brand, **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Calendar.objects.exists()


def test_a_policy_with_targets_is_saved_by_one_action(admin_client, brand):
    data = {
        "brand": brand.pk, "name": "Corporativo", "is_active": "on", "precedence": "0",
        "scope": "brand", "business_area": "", "pause_when_pending": "unknown",
        "pause_when_on_hold": "unknown", "breach_raises_priority": "unknown",
        "targets-TOTAL_FORMS": "2", "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0", "targets-MAX_NUM_FORMS": "1000",
        "targets-0-metric": "first_response", "targets-0-priority": "", "targets-0-minutes": "240",
        "targets-1-metric": "first_response", "targets-1-priority": "urgent", "targets-1-minutes": "30",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:sla_policy_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = Policy.objects.get()
    assert sorted(policy.targets.values_list("priority", "minutes")) == [("", 240), ("urgent", 30)]
    assert BrandEvent.objects.filter(type="sla.policy_created").count() == 1
