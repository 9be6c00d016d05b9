from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from atiende.api.models import IdempotencyRecord
from atiende.conversations.models import Conversation, Message

BODY = {"subject": "Pedido", "body_text": "¿Dónde está mi pedido?", "channel": "api"}


@pytest.mark.django_db
def test_a_retried_create_returns_the_first_result(api_as: Any, agent: Any, customer: Any) -> None:
    api = api_as(agent)
    body = {**BODY, "customer_id": customer.pk}

    first = api.post("/api/v1/conversations", body, **{"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/conversations", body, **{"Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Conversation.objects.count() == 1
    other_key = api.post("/api/v1/conversations", body, **{"Idempotency-Key": "k-2"})
    assert other_key.json()["id"] != first.json()["id"]


@pytest.mark.django_db
def test_a_key_reused_for_another_request_is_refused(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    api = api_as(agent)
    path = f"/api/v1/conversations/{conversation.pk}/notes"
    assert api.post(path, {"body_text": "uno"}, **{"Idempotency-Key": "k"}).status_code == 201

    response = api.post(path, {"body_text": "dos"}, **{"Idempotency-Key": "k"})

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Message.objects.filter(direction="internal").count() == 1


@pytest.mark.django_db
def test_keys_belong_to_a_token(api_as: Any, agent: Any, conversation: Any) -> None:
    path = f"/api/v1/conversations/{conversation.pk}/notes"
    for api in (api_as(agent), api_as(agent)):
        assert api.post(path, {"body_text": "x"}, **{"Idempotency-Key": "k"}).status_code == 201
    assert Message.objects.filter(direction="internal").count() == 2


@pytest.mark.django_db
def test_a_failed_request_does_not_use_up_its_key(api_as: Any, agent: Any, customer: Any) -> None:
    api = api_as(agent)
    body = {**BODY, "customer_id": customer.pk}
    bad = api.post(
        "/api/v1/conversations", {**body, "channel": "pigeon"}, **{"Idempotency-Key": "k"}
    )
    assert bad.status_code == 422
    assert not IdempotencyRecord.objects.exists()
    assert api.post("/api/v1/conversations", body, **{"Idempotency-Key": "k"}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_requests_make_one_object(
    api_as: Any, agent: Any, customer: Any
) -> None:
    api = api_as(agent)
    body = {**BODY, "customer_id": customer.pk}
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        try:
            barrier.wait()
            answers.append(api.post("/api/v1/conversations", body, **{"Idempotency-Key": "same"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Conversation.objects.count() == 1
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()


@pytest.mark.django_db
def test_replies_are_forgotten_after_a_day(api_as: Any, agent: Any, conversation: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from atiende.api.idempotency import forget_old_replies

    api = api_as(agent)
    path = f"/api/v1/conversations/{conversation.pk}/notes"
    api.post(path, {"body_text": "uno"}, **{"Idempotency-Key": "k"})

    assert forget_old_replies() == 0
    assert forget_old_replies(now=timezone.now() + timedelta(hours=25)) == 1
    assert api.post(path, {"body_text": "dos"}, **{"Idempotency-Key": "k"}).status_code == 201
