"""Deliveries to a real HTTP receiver on 127.0.0.1: signed, retried with back-off until delivered
exactly once, never for a change that was rolled back, only to the event's own brand."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from atiende.brands.models import BrandEvent
from atiende.conversations.actions import (
    add_internal_note,
    change_status,
    receive_customer_message,
    start_conversation,
)
from atiende.core.actions import action
from atiende.webhooks import actions, sending, signing
from atiende.webhooks.models import DeliveryStatus, WebhookDelivery

TOMORROW = timedelta(days=1)


def later(delta=TOMORROW):
    return timezone.now() + delta


def wait_after(delivery):
    """How long the delivery waits after its last attempt before the next."""
    assert delivery.next_attempt_at is not None
    assert delivery.last_attempt_at is not None
    return delivery.next_attempt_at - delivery.last_attempt_at


def verify_as_documented(secret, headers, body):
    """The Python recipe of docs/webhooks.md, copied as a receiver would copy it."""
    timestamp = headers["Atiende-Webhook-Timestamp"]
    signed = timestamp.encode() + b"." + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= 300
    return fresh and any(
        hmac.compare_digest(expected, candidate.strip())
        for candidate in headers["Atiende-Webhook-Signature"].split(",")
    )


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_signed_so_that_the_documented_recipe_verifies_it(
    receiver, subscribe, brand, conversation, system
):
    _subscription, secret = subscribe(brand, ["message.received"])
    message = receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="¿Y mi pedido?"
    )

    [request] = receiver.requests
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert verify_as_documented(secret, request.headers, request.body)
    assert signing.verify(
        secret,
        request.body,
        request.headers["Atiende-Webhook-Timestamp"],
        request.headers["Atiende-Webhook-Signature"],
    )
    assert not verify_as_documented("whsec_another", request.headers, request.body)
    assert not verify_as_documented(secret, request.headers, request.body.replace(b"}", b" }"))
    assert request.path == "/hooks/atiende"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Atiende-Webhook-Id"] == str(delivery.delivery_id)
    payload = request.payload
    assert payload["id"] == str(delivery.delivery_id)
    assert payload["type"] == "message.received"
    assert payload["brand"] == "tienda"
    assert payload["data"]["conversation"]["reference"] == conversation.reference
    assert payload["data"]["conversation"]["status"] == "new"
    assert payload["data"]["message"] == {
        "id": message.pk,
        "direction": "inbound",
        "channel": "email",
        "text": "¿Y mi pedido?",
        "created_at": message.created_at.isoformat(),
    }


def test_an_old_or_tampered_request_does_not_verify():
    body = b'{"id":"x"}'
    headers = signing.headers("whsec_s", "x", body, timestamp=1_700_000_000)
    timestamp = headers[signing.TIMESTAMP_HEADER]
    signature = headers[signing.SIGNATURE_HEADER]
    assert signing.verify("whsec_s", body, timestamp, signature, now=1_700_000_100)
    assert not signing.verify("whsec_s", body, timestamp, signature, now=1_700_000_400)
    assert not signing.verify("whsec_s", body + b" ", timestamp, signature, now=1_700_000_100)
    assert not signing.verify("whsec_s", body, "soon", signature, now=1_700_000_100)
    assert signing.verify("whsec_s", body, timestamp, f"v0=abc, {signature}", now=1_700_000_100)


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_twice_then_succeeding_gets_the_event_once_marked_delivered(
    receiver, subscribe, brand, conversation, system
):
    receiver.answers = [500, 500]
    subscription, _secret = subscribe(brand, ["conversation.status_changed"])
    change_status(conversation=conversation, status="open", actor=system)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500" in delivery.last_error
    assert wait_after(delivery) == actions.RETRY_DELAYS[0]
    # Not due yet: the retry waits for its moment.
    assert sending.send_due_deliveries() == 0

    assert sending.send_due_deliveries(due_by=later()) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert wait_after(delivery) == actions.RETRY_DELAYS[1]

    assert sending.send_due_deliveries(due_by=later()) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.last_error == ""

    # Nothing is due any more, nor does a stray task for it post again.
    assert sending.send_due_deliveries(due_by=later(timedelta(days=30))) == 0
    assert sending.send_delivery(delivery.pk, due_by=later()) is None
    assert [request.answered for request in receiver.requests] == [500, 500, 200]
    assert {request.payload["id"] for request in receiver.requests} == {str(delivery.delivery_id)}
    [accepted] = receiver.accepted
    assert accepted.payload["data"]["changes"] == {"status": ["new", "open"]}
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


@action
def _reopen_then_fail(conversation, actor):
    change_status(conversation=conversation, status="open", actor=actor)
    raise RuntimeError("something after the event went wrong")


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_transaction(
    receiver, subscribe, brand, conversation, system
):
    subscribe(brand, ["conversation.status_changed"])
    with pytest.raises(RuntimeError):
        _reopen_then_fail(conversation, system)

    assert not WebhookDelivery.objects.exists()
    assert sending.send_due_deliveries(due_by=later()) == 0
    assert receiver.requests == []
    # The same change, committed, is sent: the receiver was listening all along.
    change_status(conversation=conversation, status="open", actor=system)
    assert len(receiver.accepted) == 1


def test_a_subscription_receives_only_its_own_brands_events(
    receiver,
    subscribe,
    brand,
    other_brand,
    customer,
    other_customer,
    system,
    django_capture_on_commit_callbacks,
):
    ours, _ = subscribe(brand, ["conversation.created"], url=receiver.url + "/a")
    theirs, _ = subscribe(other_brand, ["conversation.created"], url=receiver.url + "/b")
    with django_capture_on_commit_callbacks(execute=True):
        start_conversation(
            brand=brand, customer=customer, channel="email", actor=system, body_text="hola"
        )
        start_conversation(
            brand=other_brand, customer=other_customer, channel="chat", actor=system, body_text="hi"
        )

    assert sorted((r.path, r.payload["brand"]) for r in receiver.requests) == [
        ("/hooks/atiende/a", "tienda"),
        ("/hooks/atiende/b", "telco"),
    ]
    assert set(
        WebhookDelivery.objects.filter(subscription=ours).values_list("brand", flat=True)
    ) == {brand.pk}
    assert set(
        WebhookDelivery.objects.filter(subscription=theirs).values_list("brand", flat=True)
    ) == {other_brand.pk}


def test_only_the_event_types_asked_for_are_delivered_and_never_internal_notes(
    receiver, subscribe, brand, conversation, system, django_capture_on_commit_callbacks
):
    from atiende.webhooks import registry

    subscribe(brand, [kind.code for kind in registry.all_types()])
    subscribe(brand, ["customer.created"], url=receiver.url + "/customers")
    with django_capture_on_commit_callbacks(execute=True):
        add_internal_note(conversation=conversation, actor=system, body_text="secreto interno")
        change_status(conversation=conversation, status="solved", actor=system)
        receive_customer_message(
            conversation=conversation, channel="email", actor=system, body_text="sigue sin llegar"
        )

    types = [request.payload["type"] for request in receiver.requests]
    # The customer's message reopened the case: a status change as well, for those who follow.
    assert types == [
        "conversation.status_changed",
        "message.received",
        "conversation.status_changed",
    ]
    assert not any(b"secreto interno" in request.body for request in receiver.requests)
    reopened = receiver.requests[2].payload["data"]
    assert reopened["changes"] == {"status": ["solved", "open"]}
    assert reopened["message"]["text"] == "sigue sin llegar"


def test_repeated_failures_pause_the_subscription_and_resuming_sends_what_waited(
    receiver,
    subscribe,
    brand,
    conversation,
    system,
    brand_admin,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr(actions, "PAUSE_AFTER_FAILURES", 3)
    receiver.answers = [503] * 3
    subscription, _ = subscribe(brand, ["conversation.status_changed"])
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("open", "pending", "open"):
            change_status(conversation=conversation, status=status, actor=system)

    subscription.refresh_from_db()
    assert subscription.paused_at is not None
    assert subscription.consecutive_failures == 3
    assert "3 failed attempts in a row" in subscription.pause_reason
    assert "HTTP 503" in subscription.pause_reason
    assert BrandEvent.objects.filter(type="webhook.subscription_paused").count() == 1
    # While paused, retries wait and new events are not queued for it.
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=conversation, status="solved", actor=system)
    assert sending.send_due_deliveries(due_by=later()) == 0
    assert WebhookDelivery.objects.count() == 3
    assert len(receiver.requests) == 3

    with django_capture_on_commit_callbacks(execute=True):
        actions.resume_subscription(subscription=subscription, actor=brand_admin)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert len(receiver.accepted) == 3
    subscription.refresh_from_db()
    assert (subscription.paused_at, subscription.consecutive_failures) == (None, 0)


def test_after_the_last_retry_the_delivery_is_failed(
    receiver, subscribe, brand, conversation, system, django_capture_on_commit_callbacks
):
    receiver.answers = [500] * 20
    subscribe(brand, ["conversation.assigned"])
    with django_capture_on_commit_callbacks(execute=True):
        from atiende.conversations.actions import assign_conversation

        assign_conversation(conversation=conversation, assignee=None, actor=system)
    delivery = WebhookDelivery.objects.get()
    waits = [wait_after(delivery)]
    while sending.send_due_deliveries(due_by=later()):
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(wait_after(delivery))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", actions.MAX_ATTEMPTS)
    assert delivery.next_attempt_at is None
    assert waits == list(actions.RETRY_DELAYS)
    assert timedelta(hours=20) < sum(waits, timedelta()) < timedelta(hours=25)
    assert len(receiver.requests) == actions.MAX_ATTEMPTS


def test_redelivering_keeps_the_delivery_id(
    receiver,
    subscribe,
    brand,
    conversation,
    system,
    brand_admin,
    outsider_admin,
    django_capture_on_commit_callbacks,
):
    from django.core.exceptions import PermissionDenied, ValidationError

    subscribe(brand, ["conversation.status_changed"])
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=conversation, status="open", actor=system)
    delivery = WebhookDelivery.objects.get(status="delivered")

    with pytest.raises(PermissionDenied):
        actions.redeliver(delivery=delivery, actor=outsider_admin)
    with django_capture_on_commit_callbacks(execute=True):
        actions.redeliver(delivery=delivery, actor=brand_admin)

    first, second = receiver.requests
    assert first.headers["Atiende-Webhook-Id"] == second.headers["Atiende-Webhook-Id"]
    assert first.payload == second.payload
    assert second.payload["id"] == str(delivery.delivery_id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert BrandEvent.objects.filter(type="webhook.redelivery_requested").count() == 1

    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        actions.redeliver(delivery=delivery, actor=brand_admin)
    with pytest.raises(ValidationError) as pending:
        actions.redeliver(delivery=delivery, actor=brand_admin)
    assert pending.value.code == "delivery_pending"


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweep(
    receiver, subscribe, brand, conversation, system, monkeypatch
):
    from atiende.webhooks import tasks

    subscribe(brand, ["conversation.status_changed"])
    # No on-commit callbacks run here: as if the worker died before taking the queued task.
    change_status(conversation=conversation, status="open", actor=system)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert receiver.requests == []
    assert sending.lost_delivery_ids() == []  # its task may still be in the queue

    monkeypatch.setattr(sending, "lost_delivery_ids", lambda: sending.due_delivery_ids(later()))
    tasks.send_lost_deliveries_task.call_local()
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(receiver.requests) == 1


def test_an_endpoint_that_does_not_answer_is_a_failed_attempt(
    subscribe, brand, conversation, system, django_capture_on_commit_callbacks
):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    subscribe(brand, ["conversation.status_changed"], url=f"http://127.0.0.1:{port}/")
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=conversation, status="open", actor=system)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "refused" in delivery.last_error.lower()
