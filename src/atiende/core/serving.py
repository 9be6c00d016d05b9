"""How the processes of ``atiende serve --workers N`` share the load.

**Connections spread evenly.** uvicorn's workers accept from one listening socket, and whichever
is awake first takes every connection waiting: a client pool or proxy that opens its keep-alive
connections at once may find twelve of sixteen on one worker and none on another (measured:
bench/README.md, "how wrk's connections fall on the workers"). The operating system gives each
busy worker about the same CPU whatever it holds, and a worker runs Python on one thread at a
time, so a request on a crowded worker waits several times as long as one on a quiet worker,
and the crowded worker's requests are the slow tail. Each worker writes how many HTTP
connections it holds into a small table that every worker maps (``ConnectionTable``: a file
named by ``ATIENDE_SERVE_CONNECTIONS``, made by ``atiende serve``), and a worker holding more
than its even share answers the next request with ``Connection: close``; the client opens a new
connection, which any worker may take. A connection told to close still counts in the total
(its client will be back) but no longer in its worker's share, so the requests that start on
the worker before it closes are not all sent away for the same excess. Closing after a
complete response is ordinary HTTP (browsers, HTTP libraries and proxies reconnect for the next
request) and happens only while the shares are uneven. WebSocket connections are not counted:
they are long-lived and cost nothing while idle.

**The start-up objects out of the collector's reach.** A full collection of the garbage
collector walks every object the process holds, with the GIL held, and every request on that
worker waits: with Django, the apps, the URLconf and the API's schemas loaded, that is over a
hundred thousand objects, and the API's p99 showed the stalls (bench/README.md).
``freeze_loaded_application`` loads the URLconf (and with it every view and schema), then
freezes what is loaded (``core/processes.py``): those objects are never walked again and a full
collection walks only what requests made since.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import mmap
import os
import struct
import tempfile
from pathlib import Path

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from atiende.core.processes import freeze_loaded_objects

logger = logging.getLogger(__name__)

ENVIRONMENT_VARIABLE = "ATIENDE_SERVE_CONNECTIONS"
PROTOCOL = "atiende.core.serving:BalancedHttpProtocol"
# Slots for worker processes; a worker that dies leaves its slot to the next one started.
SLOTS = 64
_SLOT = struct.Struct("=qq")  # process id, HTTP connections held
_TABLE = struct.Struct("=" + "qq" * SLOTS)


def create_connection_table() -> Path:
    """A new, zeroed table file for one ``atiende serve``; the caller removes it when done."""
    descriptor, name = tempfile.mkstemp(prefix="atiende-serve-", suffix=".connections")
    with os.fdopen(descriptor, "wb") as table:
        table.write(bytes(_TABLE.size))
    return Path(name)


def _alive(process_id: int) -> bool:
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, the id taken again
        return True
    return True


class ConnectionTable:
    """This worker's slot in the shared table, and the even share the table gives it."""

    def __init__(self, path: Path) -> None:
        with path.open("r+b") as table:
            self._map = mmap.mmap(table.fileno(), _TABLE.size)
            # Claiming is rare (a worker's start), so a lock on the file keeps it simple.
            fcntl.flock(table.fileno(), fcntl.LOCK_EX)
            try:
                self._offset = self._claim_slot()
            finally:
                fcntl.flock(table.fileno(), fcntl.LOCK_UN)
        self.held = 0
        # Of those, how many are told to close after their response: still counted in the
        # total (their clients will connect again, to some worker), no longer in this share.
        self.leaving = 0

    def _claim_slot(self) -> int:
        """The first free slot, after clearing the slots of processes that have ended (their
        connections ended with them)."""
        free = None
        for slot in range(SLOTS):
            offset = slot * _SLOT.size
            process_id, _ = _SLOT.unpack_from(self._map, offset)
            if process_id and not _alive(process_id):
                _SLOT.pack_into(self._map, offset, 0, 0)
                process_id = 0
            if not process_id and free is None:
                free = offset
        if free is None:
            raise RuntimeError(f"more than {SLOTS} server processes share one connection table")
        _SLOT.pack_into(self._map, free, os.getpid(), 0)
        return free

    def opened(self) -> None:
        self.held += 1
        _SLOT.pack_into(self._map, self._offset, os.getpid(), self.held)

    def closed(self, *, leaving: bool = False) -> None:
        self.held -= 1
        if leaving:
            self.leaving -= 1
        _SLOT.pack_into(self._map, self._offset, os.getpid(), self.held)

    def over_share(self) -> bool:
        """Whether this worker holds more than an even share of all workers' connections.

        Each worker writes only its own slot; the others' counts may be a moment old, which at
        worst sheds one connection too many or too few until the next request decides again.
        """
        values = _TABLE.unpack_from(self._map)
        workers = sum(1 for process_id in values[0::2] if process_id)
        if workers < 2:
            return False
        return self.held - self.leaving > math.ceil(sum(values[1::2]) / workers)


_table: ConnectionTable | None = None
_table_looked_up = False


def connection_table() -> ConnectionTable | None:
    """This process's slot, claimed on first use; None when no table is shared (one worker, or
    the application run by another server)."""
    global _table, _table_looked_up
    if not _table_looked_up:
        _table_looked_up = True
        path = os.environ.get(ENVIRONMENT_VARIABLE)
        if path:
            try:
                _table = ConnectionTable(Path(path))
            except (OSError, ValueError, RuntimeError):
                logger.exception("connections are not balanced: the table %s is unusable", path)
    return _table


class BalancedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), counting this worker's connections in the shared
    table and closing one after its response while the worker holds more than its share."""

    _counted = False
    _leaving = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        table = connection_table()
        if table is not None:
            table.opened()
            self._counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The connection now belongs to the WebSocket protocol; this one hears no more of it.
        self._uncount()
        super().handle_websocket_upgrade()

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        started = self.cycle is not previous and self.cycle is not None
        table = connection_table()
        if started and table is not None and not self._leaving and table.over_share():
            self.cycle.keep_alive = False
            # Out of this worker's share now, not when it closes after the response: the
            # requests that start meanwhile on this worker's other connections must not all
            # be sent away for the same excess (with slow requests, every one of them was).
            self._leaving = True
            table.leaving += 1

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            table = connection_table()
            if table is not None:
                table.closed(leaving=self._leaving)


def freeze_loaded_application() -> None:
    """Load the URLconf, then freeze every object loaded (:mod:`atiende.core.processes`). For a
    server process, after the application is loaded."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view, router and schema)
    freeze_loaded_objects()
