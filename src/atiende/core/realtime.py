"""The one door to real-time pushes (live inbox, collision warnings, chat).

Callers say what happened and who should hear it; the transport (Django Channels, with the Redis
layer when several processes must share events) stays behind this function.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Notice = tuple[str, dict[str, Any], list[str]]

# Notices whose transaction committed inside collect_notices(), waiting to be sent together.
_collected: ContextVar[list[Notice] | None] = ContextVar("atiende_realtime_collected", default=None)


def notify_on_commit(kind: str, data: dict[str, Any], audience: Iterable[str]) -> None:
    """After the current transaction commits, tell each group in ``audience`` that ``kind`` happened.

    Nothing is sent for a rolled-back change. A failing transport is logged, never raised: the
    change is already committed and clients resynchronise on their next load.
    """
    notice: Notice = (kind, data, list(audience))

    def send() -> None:
        collected = _collected.get()
        if collected is not None:
            collected.append(notice)
        else:
            _send([notice])

    # Registered per notice, so a savepoint that rolls back takes its notices with it.
    transaction.on_commit(send)


@contextmanager
def collect_notices() -> Iterator[None]:
    """Send the notices of every transaction committed inside this block together, at its end.

    For a worker committing many changes at once (a batch of inbound messages): one hop into the
    channel layer's event loop for all of them instead of one per notice. Notices of a
    transaction that rolled back were never collected (their on-commit callbacks did not run).
    """
    collected: list[Notice] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
        if collected:
            _send(collected)


# Events of one group carried by one layer message at most (a worker's batch is a hundred).
EVENTS_PER_MESSAGE = 100


def layer_messages(notices: list[Notice]) -> list[tuple[str, dict[str, Any]]]:
    """What to send to each group for ``notices``, in their order: a group's events together.

    One notice to a group is an ``atiende.event`` (kind, data); several, an ``atiende.events``
    carrying up to EVENTS_PER_MESSAGE of them in order (``web.consumers`` forwards each). A
    group_send costs the Redis layer two round trips and its Python whatever the message: sent
    one per notice, a worker's batch of a hundred messages spent 25 ms on them, 13 % of the
    processing (bench/ingest.py --redis-url). And a listening channel holds a hundred messages
    (channels_redis's default capacity) and a group_send drops what a full channel cannot take:
    one message per notice, a browser's connection a hundred behind during a burst of mail
    would lose events; one per group and batch, it takes a hundred batches to.
    """
    by_group: dict[str, list[dict[str, Any]]] = {}
    for kind, data, groups in notices:
        for group in groups:
            by_group.setdefault(group, []).append({"kind": kind, "data": data})
    messages = []
    for group, events in by_group.items():
        for start in range(0, len(events), EVENTS_PER_MESSAGE):
            chunk = events[start : start + EVENTS_PER_MESSAGE]
            if len(chunk) == 1:
                messages.append((group, {"type": "atiende.event", **chunk[0]}))
            else:
                messages.append((group, {"type": "atiende.events", "events": chunk}))
    return messages


class _OwnLoop:
    """An event loop of this process's own, run by a daemon thread, kept between sends.

    The Redis layer keeps its connections per event loop, and ``async_to_sync`` started a
    thread and an event loop for every call: a worker connected to Redis again for every batch
    it committed, about 4 ms a batch (``bench/ingest.py --redis-url --profile``). A forked
    child makes its own (the parent's thread is not in it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, make: Callable[[], Coroutine[Any, Any, None]], *, timeout: float) -> None:
        asyncio.run_coroutine_threadsafe(make(), self._running()).result(timeout)

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="atiende-notices", daemon=True
                ).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


_OWN_LOOP = _OwnLoop()
# Seconds a sender waits for its notices to be handed to the layer (the Redis layer's socket
# timeout in the settings is 30 s); past it the failure is logged, like any other.
_SEND_TIMEOUT = 30.0


def _send(notices: list[Notice]) -> None:
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None or not _anyone_can_hear(layer, notices):
            return

        async def send_all() -> None:
            for group, message in layer_messages(notices):
                try:
                    await layer.group_send(group, message)
                except Exception:
                    logger.exception("real-time notices to %s were not delivered", group)

        from channels.layers import InMemoryChannelLayer

        if isinstance(layer, InMemoryChannelLayer):
            # Its queues belong to the loop of the server that listens in this process.
            async_to_sync(send_all)()
        else:
            _OWN_LOOP.run(send_all, timeout=_SEND_TIMEOUT)
    except Exception:
        logger.exception("%d real-time notices were not delivered", len(notices))


def _anyone_can_hear(layer: Any, notices: list[Notice]) -> bool:
    """False when the layer is the in-memory one (this process's alone: the embedded setup
    without Redis) and none of the notices' groups has a member here, as in a worker. Sending
    would then deliver nothing, and still cost a thread and an event loop per call (about 2 ms a
    batch of inbound mail, bench/ingest.py)."""
    from channels.layers import InMemoryChannelLayer

    if not isinstance(layer, InMemoryChannelLayer):
        return True
    return any(group in layer.groups for _kind, _data, groups in notices for group in groups)
