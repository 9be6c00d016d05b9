"""Subscriptions are configured by the brand's administrators through actions, with clear errors;
SLA warnings and breaches and new customers become deliveries too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from atiende.brands.models import BrandEvent
from atiende.sla.testing import around_the_clock_policy
from atiende.webhooks import actions, registry
from atiende.webhooks.models import WebhookDelivery, WebhookSubscription


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://example.com/hooks", "https_required"),
        ("http://10.0.0.7/hooks", "https_required"),
        ("ftp://example.com/hooks", "invalid_url"),
        ("not a url", "invalid_url"),
        ("https://user:pw@example.com/hooks", "credentials_in_url"),
    ],
)
def test_a_url_that_is_not_https_is_refused_in_words(brand, brand_admin, url, code):
    with pytest.raises(ValidationError) as refused:
        actions.create_subscription(
            brand=brand, url=url, event_types=["conversation.created"], actor=brand_admin
        )
    assert refused.value.code == code
    assert refused.value.messages[0].endswith(".")
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/atiende", "http://127.0.0.1:8080/x", "http://localhost/x"]
)
def test_https_or_plain_http_to_this_machine_is_accepted(brand, brand_admin, url):
    subscription, secret = actions.create_subscription(
        brand=brand, url=f"  {url} ", event_types=["conversation.created"], actor=brand_admin
    )
    assert subscription.url == url
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert subscription.secret == secret


@pytest.mark.parametrize(
    ("event_types", "code"),
    [
        (["conversation.created", "conversation.deleted"], "unknown_event_type"),
        (["note.added"], "unknown_event_type"),  # internal notes never leave Atiende
        ([], "no_event_types"),
    ],
)
def test_an_unknown_event_type_is_refused_in_words(brand, brand_admin, event_types, code):
    with pytest.raises(ValidationError) as refused:
        actions.create_subscription(
            brand=brand, url="https://x.example", event_types=event_types, actor=brand_admin
        )
    assert refused.value.code == code
    if code == "unknown_event_type":
        assert event_types[-1] in refused.value.messages[0]


def test_only_the_brands_administrators_configure_its_webhooks(
    brand, agent, outsider_admin, brand_admin
):
    for someone in (agent, outsider_admin):
        with pytest.raises(PermissionDenied):
            actions.create_subscription(
                brand=brand, url="https://x.example", event_types=["sla.breached"], actor=someone
            )
    subscription, _ = actions.create_subscription(
        brand=brand, url="https://x.example", event_types=["sla.breached"], actor=brand_admin
    )
    for change in (
        lambda actor: actions.update_subscription(
            subscription=subscription, actor=actor, url="https://y.example"
        ),
        lambda actor: actions.pause_subscription(subscription=subscription, actor=actor),
        lambda actor: actions.rotate_secret(subscription=subscription, actor=actor),
    ):
        with pytest.raises(PermissionDenied):
            change(outsider_admin)


def test_each_configuration_action_records_one_brand_event_and_the_sender_none(
    brand, brand_admin, system
):
    def events():
        return BrandEvent.objects.filter(type__startswith="webhook.").count()

    subscription, secret = actions.create_subscription(
        brand=brand, url="https://x.example", event_types=["sla.breached"], actor=brand_admin
    )
    assert events() == 1
    updated = actions.update_subscription(
        subscription=subscription,
        actor=brand_admin,
        event_types=["sla.warning", "sla.breached", "sla.warning"],
        description="  ERP  ",
    )
    assert updated.event_types == ["sla.breached", "sla.warning"]
    assert updated.description == "ERP"
    assert events() == 2
    actions.update_subscription(subscription=subscription, actor=brand_admin, description="ERP")
    assert events() == 2  # nothing changed, nothing recorded
    actions.pause_subscription(subscription=subscription, actor=brand_admin, reason="Mantenimiento")
    subscription.refresh_from_db()
    assert subscription.pause_reason == "Mantenimiento"
    actions.resume_subscription(subscription=subscription, actor=brand_admin)
    new_secret = actions.rotate_secret(subscription=subscription, actor=brand_admin)
    assert new_secret != secret
    subscription.refresh_from_db()
    assert subscription.secret == new_secret
    assert events() == 5
    with pytest.raises(ValidationError):
        actions.update_subscription(
            subscription=subscription, actor=brand_admin, url="http://example.com"
        )
    with pytest.raises(TypeError):
        actions.update_subscription(subscription=subscription, actor=brand_admin, secret="x")

    declared = {name for name, value in vars(actions).items() if getattr(value, "is_action", False)}
    # The sender's bookkeeping is recorded on the delivery rows, not as brand events.
    assert declared == {
        "create_subscription", "update_subscription", "pause_subscription",
        "resume_subscription", "rotate_secret", "redeliver",
        "enqueue_deliveries", "claim_delivery", "record_attempt",
    }  # fmt: skip


def test_guarded_rows_are_written_only_through_actions(brand, brand_admin):
    from atiende.core.actions import WriteOutsideAction

    subscription, _ = actions.create_subscription(
        brand=brand, url="https://x.example", event_types=["sla.breached"], actor=brand_admin
    )
    subscription.is_active = False
    with pytest.raises(WriteOutsideAction):
        subscription.save()


def test_sla_warnings_and_breaches_are_delivered_with_the_deadline(
    brand, customer, system, brand_admin
):
    from atiende.conversations.actions import start_conversation

    around_the_clock_policy(brand, system, first_response=60)
    actions.create_subscription(
        brand=brand,
        url="https://x.example",
        event_types=["sla.warning", "sla.breached"],
        actor=brand_admin,
    )
    created = timezone.now() - timedelta(minutes=90)
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="hola",
        created_at=created,
    )  # fmt: skip

    deliveries = {d.event_type: d.payload for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {"sla.warning", "sla.breached"}
    breached = deliveries["sla.breached"]
    assert breached["data"]["conversation"]["id"] == conversation.pk
    assert breached["data"]["sla"]["metric"] == "first_response"
    assert breached["data"]["sla"]["target_minutes"] == 60
    assert breached["data"]["sla"]["due_at"] == (created + timedelta(minutes=60)).isoformat()


def test_a_new_customer_is_delivered_with_its_crn_only(brand, system, brand_admin):
    from atiende.customers.actions import IdentityInput, create_customer, update_customer

    actions.create_subscription(
        brand=brand, url="https://x.example", event_types=["customer.created"], actor=brand_admin
    )
    customer = create_customer(
        brand=brand,
        actor=system,
        name="Rosa Reyes",
        identities=[IdentityInput("email", "rosa@example.com")],
    )
    update_customer(customer=customer, actor=system, name="Rosa Reyes Ruiz")

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event_type == "customer.created"
    assert delivery.event_id.startswith("customer_event:")
    assert delivery.payload["data"] == {"customer": {"id": customer.pk, "crn": customer.crn}}


def test_the_registry_refuses_a_type_registered_twice_differently():
    registry.register("conversation.created", registry._registry["conversation.created"].label)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("conversation.created", "Something else")
