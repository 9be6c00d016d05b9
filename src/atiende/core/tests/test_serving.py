"""``atiende serve --workers N`` spreads its HTTP connections evenly over its workers, and each
worker freezes what it loaded out of the garbage collector's reach (core/serving.py)."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from atiende.core import serving
from atiende.core.serving import ConnectionTable, create_connection_table
from atiende.core.testing import child_environment, running_server


@pytest.fixture
def table_file() -> Iterator[Path]:
    path = create_connection_table()
    yield path
    path.unlink(missing_ok=True)


def ended_process_id() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_worker_over_its_even_share_is_told_so_and_one_at_it_is_not(table_file: Path) -> None:
    # Two tables on one file stand for two workers (each claims its own slot).
    crowded, quiet = ConnectionTable(table_file), ConnectionTable(table_file)
    for _ in range(3):
        crowded.opened()
    quiet.opened()
    assert crowded.over_share()  # 3 > ceil(4 / 2)
    assert not quiet.over_share()
    crowded.closed()
    assert not crowded.over_share()  # 2 of 3: ceil(3 / 2) = 2


def test_a_single_worker_is_never_over_its_share(table_file: Path) -> None:
    alone = ConnectionTable(table_file)
    for _ in range(50):
        alone.opened()
    assert not alone.over_share()


def test_an_ended_workers_slot_is_cleared_for_the_next(table_file: Path) -> None:
    # A worker that died holding five connections: its slot must not count them for ever.
    with table_file.open("r+b") as table:
        table.write(serving._SLOT.pack(ended_process_id(), 5))
    worker = ConnectionTable(table_file)
    other = ConnectionTable(table_file)
    worker.opened()
    worker.opened()
    assert worker.over_share()  # 2 > ceil(2 / 2): the dead slot's five are gone
    assert other._offset != worker._offset


class _Transport(asyncio.Transport):
    """Enough of a socket's transport for uvicorn's protocol to take a request over it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:  # type: ignore[override]
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _never_answers(scope: object, receive: object, send: object) -> None:
    await asyncio.sleep(3600)


def test_a_crowded_worker_sends_away_only_its_excess_while_requests_are_in_flight(
    table_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This worker holds six connections and the other two: the share is four, so two of this
    # worker's connections must go. Their requests are slow: all six start before any ends.
    this_worker, other_worker = ConnectionTable(table_file), ConnectionTable(table_file)
    monkeypatch.setattr(serving, "_table", this_worker)
    monkeypatch.setattr(serving, "_table_looked_up", True)
    other_worker.opened()
    other_worker.opened()
    loop = asyncio.new_event_loop()
    config = Config(app=_never_answers, lifespan="off")
    config.load()
    state = ServerState()
    connections = [
        serving.BalancedHttpProtocol(config=config, server_state=state, app_state={}, _loop=loop)
        for _ in range(6)
    ]
    try:
        for connection in connections:
            connection.connection_made(_Transport())
        assert this_worker.held == 6
        for connection in connections:
            connection.data_received(b"GET /api/v1/conversations HTTP/1.1\r\nHost: x\r\n\r\n")
        closing = [connection for connection in connections if not connection.cycle.keep_alive]
        assert len(closing) == 2
        assert (this_worker.held, this_worker.leaving) == (6, 2)
        for connection in closing:  # they close after their responses
            connection.connection_lost(None)
        assert (this_worker.held, this_worker.leaving) == (4, 0)
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def connections_per_worker(server_pid: int, port: int) -> list[int]:
    """How many established connections to ``port`` each worker (a child of ``server_pid`` other
    than multiprocessing's resource tracker) holds, from /proc (no ``ss`` needed)."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED
                established.add(fields[9])  # the socket's inode
    counts = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent != server_pid or b"resource_tracker" in (entry / "cmdline").read_bytes():
                continue
            links = [os.readlink(descriptor) for descriptor in (entry / "fd").iterdir()]
        except OSError:  # a process that ended while we looked
            continue
        sockets = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
        counts.append(len(sockets & established))
    return sorted(counts, reverse=True)


class KeptAliveClient:
    """One client connection that asks again on a new connection when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.reconnections = 0

    def get(self, path: str) -> int:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.reconnections += 1
        return response.status


def upgrade_to_websocket_and_leave(port: int) -> None:
    """A WebSocket handshake (refused: no session), then gone: the worker that took it must
    stop counting it as one of its HTTP connections."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            b"GET /ws/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert connection.recv(65536).startswith(b"HTTP/1.1 ")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_workers_even_out_the_connections_they_hold(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=2) as server:
        for _ in range(6):
            upgrade_to_websocket_and_leave(server.port)
        clients = [KeptAliveClient(server.port) for _ in range(8)]
        for client in clients:  # all connected before any request: the first worker awake
            client.connection.connect()  # may take every one of them
        shares: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = {client.get("/api/v1/conversations") for client in clients}
            assert statuses == {401}  # answered (no token), connection kept or renewed
            shares = connections_per_worker(server.pid, server.port)
            if shares == [4, 4]:
                break
        assert shares == [4, 4], server.output()
        # Once even, the connections stay: nothing more is closed.
        before = sum(client.reconnections for client in clients)
        for _ in range(5):
            for client in clients:
                client.get("/api/v1/conversations")
        assert sum(client.reconnections for client in clients) == before
        assert connections_per_worker(server.pid, server.port) == [4, 4]


def test_a_server_process_freezes_what_it_loaded(tmp_path: Path) -> None:
    # config/served.py is what atiende serve loads in each worker; config/asgi.py (imported by
    # tests and other servers) freezes nothing.
    probe = (
        "import gc, atiende.config.asgi; before = gc.get_freeze_count();"
        "import atiende.config.served; print(before, gc.get_freeze_count())"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe],
        env=child_environment(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    before, after = map(int, output.split())
    assert before == 0
    assert after > 50_000  # Django, the apps, the URLconf and the API's schemas
