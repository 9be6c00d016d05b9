"""The environment switches the database, the real-time layer and the task queue; with Redis, a
notice sent by one process reaches a listener in another."""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import async_to_sync

PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "database": settings.DATABASES["default"]["ENGINE"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "queue": settings.HUEY["huey_class"],
    "sqlite_options": settings.DATABASES["default"].get("OPTIONS", {}),
}))
"""


def run_python(code: str, tmp_path, **env: str) -> str:
    clean = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "atiende.config.settings",
            "ATIENDE_DATA_DIR": str(tmp_path),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_no_environment_means_sqlite_in_wal_with_immediate_transactions(tmp_path):
    config = json.loads(run_python(PROBE, tmp_path))
    assert config["database"] == "atiende.core.sqlite"
    assert config["sqlite_options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["sqlite_options"]["init_command"]
    assert config["layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["queue"] == "huey.SqliteHuey"
    assert (tmp_path / "secret_key").exists()


def test_database_url_and_redis_url_switch_to_postgresql_and_redis(tmp_path):
    config = json.loads(
        run_python(
            PROBE,
            tmp_path,
            DATABASE_URL="postgres://u:p@127.0.0.1:5432/x",
            REDIS_URL="redis://127.0.0.1:6379/15",
        )
    )
    assert config["database"] == "django.db.backends.postgresql"
    assert config["layer"] == "channels_redis.core.RedisChannelLayer"
    assert config["queue"] == "huey.RedisHuey"


@pytest.fixture
def redis_url():
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


def test_a_notice_from_another_process_arrives_through_redis(redis_url, tmp_path):
    from channels_redis.core import RedisChannelLayer

    # A prefix of this test's own: other tests share this Redis at the same time (a live server's
    # group memberships live under the default prefix), and the cleanup below deletes every key
    # under the prefix it is given.
    prefix = f"atiende-test-{uuid.uuid4().hex[:12]}"
    layer = RedisChannelLayer(hosts=[redis_url], prefix=prefix)
    group = f"brand.test-{os.getpid()}"

    async def listen_while_another_process_sends() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            sender = (
                "import django; django.setup()\n"
                "from django.conf import settings\n"
                f"settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'] = {prefix!r}\n"
                "from atiende.core.realtime import notify_on_commit\n"
                f"notify_on_commit('message.received', {{'conversation': 7}}, audience=[{group!r}])\n"
            )
            await asyncio.to_thread(run_python, sender, tmp_path, REDIS_URL=redis_url)
            return await asyncio.wait_for(layer.receive(channel), timeout=10)
        finally:
            await layer.group_discard(group, channel)
            await layer.flush()

    message = async_to_sync(listen_while_another_process_sends)()
    assert message == {
        "type": "atiende.event",
        "kind": "message.received",
        "data": {"conversation": 7},
    }


def test_notices_through_redis_are_sent_from_one_event_loop_kept_by_the_process(
    redis_url, settings
):
    """Not a thread and an event loop (and so a connection to Redis) per send, as async_to_sync
    made: every send runs on the process's own loop."""
    import threading

    from channels.layers import get_channel_layer
    from channels_redis.core import RedisChannelLayer

    from atiende.core import realtime

    prefix = f"atiende-test-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    }
    layer = get_channel_layer()
    listener = RedisChannelLayer(hosts=[redis_url], prefix=prefix)
    group = f"brand.test-{os.getpid()}"
    sent_from: list[tuple[int, str]] = []
    group_send = layer.group_send

    async def recorded(group_name, message):
        sent_from.append((id(asyncio.get_running_loop()), threading.current_thread().name))
        await group_send(group_name, message)

    layer.group_send = recorded

    async def listen() -> list[dict]:
        channel = await listener.new_channel()
        await listener.group_add(group, channel)
        try:
            for number in (1, 2, 3):
                await asyncio.to_thread(
                    realtime._send, [("message.received", {"conversation": number}, [group])]
                )
            return [await asyncio.wait_for(listener.receive(channel), 10) for _ in range(3)]
        finally:
            await listener.group_discard(group, channel)
            await listener.flush()

    received = async_to_sync(listen)()
    assert [message["data"]["conversation"] for message in received] == [1, 2, 3]
    assert len(set(sent_from)) == 1
    assert sent_from[0][1] == "atiende-notices"
