"""The live connection (``/ws/live/``) through the real ASGI application: who hears which event,
presence on a conversation, and events from another process through Redis.

Each test drives ``WebsocketCommunicator``s signed in with a real session cookie; the events come
from real actions committed in the test's database (``transaction=True``, so the consumer's own
database thread sees them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from atiende.accounts.actions import revoke_brand_role
from atiende.config.asgi import application
from atiende.conversations.actions import (
    add_internal_note,
    change_status,
    receive_customer_message,
    start_conversation,
)
from atiende.core.realtime import notify_on_commit
from atiende.core.testing import child_environment, running_server
from atiende.web import consumers

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def signed_in(user: Any) -> tuple[Client, str]:
    """A client signed in as ``user`` (to sign out later) and its session cookie header."""
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return client, cookie


def session_cookie(user: Any) -> str:
    return signed_in(user)[1]


def communicator(cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


async def connected(cookie: str) -> WebsocketCommunicator:
    live = communicator(cookie)
    accepted, _ = await live.connect(timeout=TIMEOUT)
    assert accepted
    assert await live.receive_json_from(timeout=TIMEOUT) == {"kind": "ready"}
    return live


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def act(function: Callable[..., Any], **arguments: Any) -> Awaitable[Any]:
    return database_sync_to_async(function)(**arguments)


def test_signed_in_pages_load_live_js_and_mark_what_it_updates(
    client: Client, agent: Any, conversation: Any
) -> None:
    assert "web/live.js" not in client.get("/login/").content.decode()
    client.force_login(agent)
    inbox = client.get("/?view=all").content.decode()
    assert "web/live.js" in inbox
    assert re.search(r'<tbody data-live-inbox[^>]* data-row-url="/inbox/row/0/"', inbox)
    assert f'<tr data-conversation-id="{conversation.pk}"' in inbox
    page = client.get(f"/c/{conversation.brand.slug}/{conversation.number}/").content.decode()
    assert f'data-live-conversation="{conversation.pk}"' in page
    assert "data-presence" in page
    timeline_url = re.search(r'data-timeline-url="([^"]+)"', page)
    assert timeline_url is not None
    assert timeline_url.group(1) == f"/c/{conversation.brand.slug}/{conversation.number}/timeline/"
    assert 'name="body"' in page


def test_an_anonymous_connection_is_closed_with_4401(db: Any) -> None:
    async def scenario() -> None:
        live = communicator(None)
        accepted, _ = await live.connect(timeout=TIMEOUT)
        assert accepted
        assert await live.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4401,
        }

    run(scenario)


def test_a_connection_from_a_foreign_origin_is_refused(agent: Any) -> None:
    cookie = session_cookie(agent)

    async def scenario() -> None:
        live = WebsocketCommunicator(
            application,
            "/ws/live/",
            headers=[(b"origin", b"https://evil.test"), (b"cookie", cookie.encode())],
        )
        accepted, _ = await live.connect(timeout=TIMEOUT)
        assert not accepted

    run(scenario)


def test_an_agent_hears_of_its_brands_conversations_and_not_of_another_brand(
    agent: Any, brand: Any, customer: Any, conversation: Any, other_conversation: Any, system: Any
) -> None:
    cookie = session_cookie(agent)

    async def scenario() -> None:
        live = await connected(cookie)
        # The other brand's message goes first: were it forwarded, it would arrive first.
        await act(
            receive_customer_message,
            conversation=other_conversation,
            channel="chat",
            actor=system,
            body_text="¿Sigue ahí?",
        )
        message = await act(
            receive_customer_message,
            conversation=conversation,
            channel="email",
            actor=system,
            body_text="¿Alguna novedad?",
        )
        assert await live.receive_json_from(timeout=TIMEOUT) == {
            "kind": "message.received",
            "data": {"conversation": conversation.pk, "brand": brand.pk, "message": message.pk},
        }
        started = await act(
            start_conversation,
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            subject="Factura",
            body_text="Necesito la factura.",
        )
        event = await live.receive_json_from(timeout=TIMEOUT)
        assert event["kind"] == "conversation.created"
        assert event["data"]["conversation"] == started.pk
        assert await live.receive_nothing(timeout=0.2)
        await live.disconnect()

    run(scenario)


def test_events_sent_together_reach_the_browser_one_by_one_and_only_those_it_may_see(
    agent: Any, brand: Any, conversation: Any, other_conversation: Any
) -> None:
    """A worker's batch sends a group its events in one message (core.realtime): each is
    checked and forwarded on its own, in order; another brand's is dropped."""
    from channels.layers import get_channel_layer

    cookie = session_cookie(agent)
    mine = {"brand": brand.pk, "conversation": conversation.pk}
    theirs = {"brand": other_conversation.brand_id, "conversation": other_conversation.pk}

    async def scenario() -> None:
        live = await connected(cookie)
        await get_channel_layer().group_send(
            f"brand.{brand.pk}",
            {
                "type": "atiende.events",
                "events": [
                    {"kind": "conversation.created", "data": mine},
                    {"kind": "conversation.created", "data": theirs},
                    "not an event",
                    {"kind": "message.received", "data": {**mine, "message": 7}},
                ],
            },
        )
        assert await live.receive_json_from(timeout=TIMEOUT) == {
            "kind": "conversation.created",
            "data": mine,
        }
        assert await live.receive_json_from(timeout=TIMEOUT) == {
            "kind": "message.received",
            "data": {**mine, "message": 7},
        }
        assert await live.receive_nothing(timeout=0.2)
        await live.disconnect()

    run(scenario)


def test_a_client_viewer_is_not_told_of_internal_notes(
    agent: Any, client_viewer: Any, conversation: Any
) -> None:
    agent_cookie, viewer_cookie = session_cookie(agent), session_cookie(client_viewer)

    async def scenario() -> None:
        agent_live, viewer_live = await connected(agent_cookie), await connected(viewer_cookie)
        note = await act(
            add_internal_note, conversation=conversation, actor=agent, body_text="Llamé al courier."
        )
        await act(change_status, conversation=conversation, status="pending", actor=agent)
        heard_by_agent = await agent_live.receive_json_from(timeout=TIMEOUT)
        assert heard_by_agent["kind"] == "note.added"
        assert heard_by_agent["data"]["message"] == note.pk
        assert (await agent_live.receive_json_from(timeout=TIMEOUT))["kind"] == (
            "conversation.updated"
        )
        assert (await viewer_live.receive_json_from(timeout=TIMEOUT))["kind"] == (
            "conversation.updated"
        )
        await agent_live.disconnect()
        await viewer_live.disconnect()

    run(scenario)


def test_a_mention_reaches_only_the_person_mentioned_with_a_link_to_the_note(
    agent: Any, supervisor: Any, client_viewer: Any, brand: Any, conversation: Any
) -> None:
    cookies = [session_cookie(person) for person in (agent, supervisor, client_viewer)]

    async def scenario() -> None:
        agent_live, supervisor_live, viewer_live = [await connected(c) for c in cookies]
        note = await act(
            add_internal_note,
            conversation=conversation,
            actor=supervisor,
            body_text="@Alba ¿puedes mirar esto?",
            mentions=[agent],
        )
        heard = [await agent_live.receive_json_from(timeout=TIMEOUT) for _ in "ab"]
        assert [message["kind"] for message in heard] == ["note.added", "note.mentioned"]
        assert heard[1]["data"] == {
            "conversation": conversation.pk,
            "brand": brand.pk,
            "reference": conversation.reference,
            "message": note.pk,
            "by": "Sergio Supervisor",
            "url": f"/c/{brand.slug}/{conversation.number}/#message-{note.pk}",
        }
        assert (await supervisor_live.receive_json_from(timeout=TIMEOUT))["kind"] == "note.added"
        assert await supervisor_live.receive_nothing(timeout=0.2)
        # Even a notice addressed to a client viewer by mistake is not passed on.
        await act(
            notify_on_commit,
            kind="note.mentioned",
            data=heard[1]["data"],
            audience=[f"user.{client_viewer.pk}"],
        )
        assert await viewer_live.receive_nothing(timeout=0.3)
        for live in (agent_live, supervisor_live, viewer_live):
            await live.disconnect()

    run(scenario)


def test_watching_a_conversation_of_another_brand_is_refused(
    agent: Any, outsider: Any, conversation: Any, other_conversation: Any
) -> None:
    agent_cookie, outsider_cookie = session_cookie(agent), session_cookie(outsider)

    async def scenario() -> None:
        outsider_live = await connected(outsider_cookie)
        for target in (conversation.pk, 10**9):
            await outsider_live.send_json_to({"type": "watch", "conversation": target})
            assert await outsider_live.receive_json_from(timeout=TIMEOUT) == {
                "kind": "error",
                "code": "not_found",
                "conversation": target,
            }
        await outsider_live.send_json_to({"type": "watch", "conversation": "1; drop"})
        assert (await outsider_live.receive_json_from(timeout=TIMEOUT))["code"] == "bad_request"
        # The refused watcher joined nothing: the agent arriving there hears of no one, and the
        # outsider hears nothing of the agent.
        agent_live = await connected(agent_cookie)
        await agent_live.send_json_to({"type": "watch", "conversation": conversation.pk})
        assert await agent_live.receive_nothing(timeout=0.3)
        assert await outsider_live.receive_nothing(timeout=0.1)
        await agent_live.disconnect()
        await outsider_live.disconnect()

    run(scenario)


def test_two_people_on_one_conversation_see_each_other_view_type_and_leave(
    agent: Any, supervisor: Any, client_viewer: Any, conversation: Any
) -> None:
    cookies = [session_cookie(person) for person in (agent, supervisor, client_viewer)]
    watch = {"type": "watch", "conversation": conversation.pk}

    def presence(live_message: dict[str, Any]) -> tuple[str, str]:
        assert live_message["kind"] == "presence"
        assert live_message["conversation"] == conversation.pk
        return live_message["user"], live_message["state"]

    async def scenario() -> None:
        agent_live, supervisor_live, viewer_live = [await connected(c) for c in cookies]
        await agent_live.send_json_to(watch)
        assert await agent_live.receive_nothing(timeout=0.2)  # alone there
        await supervisor_live.send_json_to(watch)
        # The newcomer is announced to the agent, and the agent answers the newcomer.
        assert presence(await agent_live.receive_json_from(timeout=TIMEOUT)) == (
            "Sergio Supervisor",
            "viewing",
        )
        assert presence(await supervisor_live.receive_json_from(timeout=TIMEOUT)) == (
            "Alba Agente",
            "viewing",
        )
        await supervisor_live.send_json_to({"type": "typing", "conversation": conversation.pk})
        await supervisor_live.send_json_to({"type": "typing", "conversation": conversation.pk})
        assert presence(await agent_live.receive_json_from(timeout=TIMEOUT)) == (
            "Sergio Supervisor",
            "typing",
        )
        assert await agent_live.receive_nothing(timeout=0.2)  # the second one was throttled
        # A client viewer may watch, but does not write, so its "typing" is not passed on.
        await viewer_live.send_json_to(watch)
        assert presence(await agent_live.receive_json_from(timeout=TIMEOUT)) == (
            "Clara Cliente",
            "viewing",
        )
        assert presence(await supervisor_live.receive_json_from(timeout=TIMEOUT)) == (
            "Clara Cliente",
            "viewing",
        )
        answers = {presence(await viewer_live.receive_json_from(timeout=TIMEOUT)) for _ in "ab"}
        assert answers == {("Alba Agente", "viewing"), ("Sergio Supervisor", "viewing")}
        await viewer_live.send_json_to({"type": "typing", "conversation": conversation.pk})
        assert await agent_live.receive_nothing(timeout=0.2)
        await viewer_live.send_json_to({"type": "unwatch", "conversation": conversation.pk})
        assert presence(await agent_live.receive_json_from(timeout=TIMEOUT)) == (
            "Clara Cliente",
            "left",
        )
        await supervisor_live.disconnect()
        assert presence(await agent_live.receive_json_from(timeout=TIMEOUT)) == (
            "Sergio Supervisor",
            "left",
        )
        await agent_live.disconnect()
        await viewer_live.disconnect()

    run(scenario)


def test_a_second_tab_of_the_same_person_is_not_shown_as_someone_else(
    agent: Any, conversation: Any
) -> None:
    cookie = session_cookie(agent)
    watch = {"type": "watch", "conversation": conversation.pk}

    async def scenario() -> None:
        first, second = await connected(cookie), await connected(cookie)
        await first.send_json_to(watch)
        await second.send_json_to(watch)
        assert await first.receive_nothing(timeout=0.2)
        assert await second.receive_nothing(timeout=0.1)
        await first.disconnect()
        await second.disconnect()

    run(scenario)


def test_a_revoked_role_and_a_signed_out_session_take_effect_on_a_live_connection(
    agent: Any,
    brand: Any,
    conversation: Any,
    system: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumers, "ACCESS_TTL", 0.0)  # re-read the rights at every event
    session, cookie = signed_in(agent)

    async def scenario() -> None:
        live = await connected(cookie)
        await act(change_status, conversation=conversation, status="pending", actor=system)
        assert (await live.receive_json_from(timeout=TIMEOUT))["kind"] == "conversation.updated"
        await act(revoke_brand_role, user=agent, brand=brand, actor=system)
        await act(change_status, conversation=conversation, status="open", actor=system)
        assert await live.receive_nothing(timeout=0.3)

        again = await connected(cookie)
        await database_sync_to_async(session.logout)()
        await act(notify_on_commit, kind="note.mentioned", data={}, audience=[f"user.{agent.pk}"])
        assert await again.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4401,
        }
        await live.disconnect()

    run(scenario)


def test_a_connection_left_open_past_the_layers_group_expiry_still_hears_its_brand(
    agent: Any, conversation: Any, system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memberships expire in the layer (channels_redis: after a day) and vanish when Redis
    loses its keys; the connection renews them. Here the layer forgets them after 1 s."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_expiry", 1)
    monkeypatch.setattr(consumers, "MEMBERSHIP_RENEWAL", 0.3)
    cookie = session_cookie(agent)

    async def scenario() -> None:
        live = await connected(cookie)
        await asyncio.sleep(2.5)
        await act(change_status, conversation=conversation, status="pending", actor=system)
        heard = await live.receive_json_from(timeout=TIMEOUT)
        assert heard["kind"] == "conversation.updated"
        assert heard["data"]["conversation"] == conversation.pk
        await live.disconnect()

    run(scenario)


def test_an_idle_connection_closes_once_its_session_is_signed_out(
    agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "MEMBERSHIP_RENEWAL", 0.3)
    session, cookie = signed_in(agent)

    async def scenario() -> None:
        live = await connected(cookie)
        await database_sync_to_async(session.logout)()
        # No event and no message from the browser: the renewal alone notices.
        assert await live.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4401,
        }

    run(scenario)


@pytest.fixture
def redis_url() -> str:
    """CI starts Redis and names it in ATIENDE_TEST_REDIS_URL: there, no Redis is a failure."""
    import redis

    url = os.environ.get("ATIENDE_TEST_REDIS_URL")
    candidate = url or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(candidate, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if url:
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (CI sets ATIENDE_TEST_REDIS_URL and requires it)")
    return candidate


# A separate process, configured as `atiende` is with REDIS_URL, performs a real action. The
# layer's prefix is this test's own, so parallel runs sharing the Redis never cross.
CUSTOMER_WRITES_FROM_ANOTHER_PROCESS = """
import sys, django
django.setup()
from django.conf import settings
settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = sys.argv[1]
from atiende.conversations.actions import receive_customer_message
from atiende.conversations.models import Conversation
from atiende.core.actors import system_actor
message = receive_customer_message(
    conversation=Conversation.objects.get(pk=int(sys.argv[2])),
    channel="email",
    actor=system_actor("email"),
    body_text="Escribo desde otro proceso.",
)
print(message.pk)
"""


def test_an_event_from_another_process_reaches_a_connected_agent_through_redis(
    agent: Any, conversation: Any, redis_url: str, settings: Any, tmp_path: Path
) -> None:
    prefix = f"atiende-test-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # As settings.py configures it (socket_timeout: see there), with a prefix of its own.
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 30}], "prefix": prefix},
        }
    }
    cookie = session_cookie(agent)
    environment = {**child_environment(tmp_path), "REDIS_URL": redis_url}

    def act_in_another_process() -> int:
        finished = subprocess.run(
            [
                sys.executable,
                "-c",
                CUSTOMER_WRITES_FROM_ANOTHER_PROCESS,
                prefix,
                str(conversation.pk),
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return int(finished.stdout.split()[-1])

    async def scenario() -> None:
        live = await connected(cookie)
        message_id = await asyncio.to_thread(act_in_another_process)

        assert await live.receive_json_from(timeout=TIMEOUT) == {
            "kind": "message.received",
            "data": {
                "conversation": conversation.pk,
                "brand": conversation.brand_id,
                "message": message_id,
            },
        }
        await live.disconnect()

    run(scenario)


@pytest.mark.slow
def test_the_real_server_keeps_a_signed_in_agents_live_connection_through_redis(
    agent: Any, brand: Any, redis_url: str, tmp_path: Path
) -> None:
    """``atiende serve`` as deployed with REDIS_URL: the handshake with a session cookie, an
    anonymous connection closed with 4401, and a connection idle longer than redis-py 8's default
    read timeout (5 s) still open and hearing a notice sent by another process."""
    import websockets.sync.client
    from channels_redis.core import RedisChannelLayer
    from websockets.typing import Origin

    cookie = session_cookie(agent)
    # The session signed here must verify there: the same key.
    environment = {
        **child_environment(tmp_path),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    with running_server(tmp_path, environment) as server:
        port = server.port
        url, origin = f"ws://127.0.0.1:{port}/ws/live/", Origin(f"http://127.0.0.1:{port}")
        with websockets.sync.client.connect(url, origin=origin, open_timeout=TIMEOUT) as anonymous:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                anonymous.recv(timeout=TIMEOUT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
        with websockets.sync.client.connect(
            url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=TIMEOUT
        ) as live:
            assert json.loads(live.recv(timeout=TIMEOUT)) == {"kind": "ready"}
            # Idle across several of the layer's 5 s blocking reads: without a socket timeout
            # above them, redis-py 8 fails the read and the server drops the connection.
            time.sleep(12)
            notice = {"brand": brand.pk, "conversation": 1, "marker": uuid.uuid4().hex}
            sender = RedisChannelLayer(hosts=[{"address": redis_url, "socket_timeout": 30}])
            async_to_sync(sender.group_send)(
                f"user.{agent.pk}",
                {"type": "atiende.event", "kind": "conversation.updated", "data": notice},
            )
            # Another run may share this Redis and these small ids: wait for our own notice.
            while True:
                try:
                    heard = json.loads(live.recv(timeout=TIMEOUT))
                except TimeoutError:
                    pytest.fail(
                        f"no notice within {TIMEOUT} s; the server said:\n{server.output()}"
                    )
                if heard.get("data", {}).get("marker") == notice["marker"]:
                    break
            assert heard == {"kind": "conversation.updated", "data": notice}
