"""A large download through the web server's hand-off (core/wsgi_threads.py) and Django itself:
streamed in parts from the request's thread, whole at the other end, with the API's headers."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import MutableMapping
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from atiende.core.wsgi_threads import BUFFER_BYTES, WsgiOnThreads

# The request's thread reads the rows the test wrote: they must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_attachment_larger_than_the_buffer_is_streamed_whole(
    api_as: Any, agent: Any, conversation: Any
) -> None:
    api = api_as(agent)
    content = b"%PDF-1.4\n" + os.urandom(3 * BUFFER_BYTES)
    reply = api.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {
            "body_text": "El contrato completo",
            "attachments": [
                {
                    "filename": "contrato.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(content).decode(),
                }
            ],
        },
    )
    assert reply.status_code == 201, reply.content
    (attachment,) = reply.json()["attachments"]

    # Imported here, not at collection: the module builds the whole ASGI application.
    from atiende.config.asgi import django_application

    bridge = WsgiOnThreads(
        django_application, threads=1, max_body_bytes=settings.HTTP_MAX_BODY_BYTES
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": attachment["download_url"],
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {api.secret}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    try:
        asyncio.run(bridge(scope, receive, send))
    finally:
        bridge.executor.submit(connections.close_all).result()
        bridge.executor.shutdown()

    start, *bodies = sent
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert b"contrato.pdf" in headers[b"content-disposition"]
    assert headers[b"cache-control"] == b"private, no-store"
    assert len(bodies) > 2  # streamed from the thread, not gathered whole
    assert bodies[-1].get("more_body", False) is False
    assert b"".join(body["body"] for body in bodies) == content
