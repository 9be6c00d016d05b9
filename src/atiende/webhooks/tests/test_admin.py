"""The administration of webhooks: limited to the admin's brands, the secret shown once, the
delivery log with "Redeliver"."""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from django.urls import reverse

from atiende.conversations.actions import change_status
from atiende.webhooks.models import WebhookDelivery, WebhookSubscription


@pytest.fixture
def admin_client(client, brand_admin):
    client.login(username=brand_admin.email, password=PASSWORD)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_creating_a_subscription_shows_its_secret_once(admin_client, brand, receiver):
    response = admin_client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {
            "brand": brand.pk,
            "url": receiver.url,
            "description": "ERP",
            "event_types": ["conversation.created", "sla.breached"],
            "is_active": "on",
        },
        follow=True,
    )
    assert response.redirect_chain, response.content.decode()[:3000]
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["conversation.created", "sla.breached"]
    assert subscription.secret in response.content.decode()

    page = admin_client.get(
        reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk])
    ).content.decode()
    assert subscription.secret not in page


def test_a_non_https_url_is_refused_on_the_form(admin_client, brand):
    response = admin_client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"brand": brand.pk, "url": "http://example.com/", "event_types": ["sla.breached"]},
    )
    assert response.status_code == 200
    assert "Use an https:// URL" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_an_admin_sees_and_redelivers_only_their_brands_deliveries(
    admin_client,
    subscribe,
    receiver,
    brand,
    other_brand,
    conversation,
    other_conversation,
    system,
    django_capture_on_commit_callbacks,
):
    ours, _ = subscribe(brand, ["conversation.status_changed"])
    theirs, _ = subscribe(other_brand, ["conversation.status_changed"], url=receiver.url + "/b")
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=conversation, status="open", actor=system)
        change_status(conversation=other_conversation, status="open", actor=system)
    mine = WebhookDelivery.objects.get(subscription=ours)
    other = WebhookDelivery.objects.get(subscription=theirs)

    listing = admin_client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert list(listing.context["cl"].result_list) == [mine]
    assert admin_client.get(
        reverse("admin:webhooks_webhookdelivery_change", args=[other.pk])
    ).status_code in (302, 403, 404)
    found = admin_client.get(
        reverse("admin:webhooks_webhookdelivery_changelist"), {"q": str(mine.delivery_id)}
    )
    assert list(found.context["cl"].result_list) == [mine]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "redeliver_selected", "_selected_action": [mine.pk, other.pk]},
        )
    assert response.status_code == 302
    ours_received = [r for r in receiver.requests if r.path == "/hooks/atiende"]
    assert [r.payload["id"] for r in ours_received] == [str(mine.delivery_id)] * 2
    assert len([r for r in receiver.requests if r.path.endswith("/b")]) == 1


def test_the_delivery_log_costs_the_same_queries_for_many_rows(
    admin_client, subscribe, brand, conversation, system
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    subscribe(brand, ["conversation.status_changed"])
    url = reverse("admin:webhooks_webhookdelivery_changelist")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    change_status(conversation=conversation, status="open", actor=system)
    one = queries()
    for status in ("pending", "open", "pending", "open"):
        change_status(conversation=conversation, status=status, actor=system)
    assert WebhookDelivery.objects.count() == 5
    assert queries() == one
    page = admin_client.get(
        reverse(
            "admin:webhooks_webhookdelivery_change", args=[WebhookDelivery.objects.latest("id").pk]
        )
    )
    assert "conversation.status_changed" in page.content.decode()
