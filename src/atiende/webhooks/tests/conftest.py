"""A real HTTP receiver on the loopback interface, and subscriptions pointed at it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next code of ``answers`` (200 once they run out) and keeps
    every request, as a receiver's log would."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[ReceivedRequest]:
        return [request for request in self.requests if 200 <= request.answered < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                code = receiver.answers.pop(0) if receiver.answers else 200
                receiver.requests.append(
                    ReceivedRequest(self.path, dict(self.headers.items()), body, code)
                )
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"receiver is down")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/atiende"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def subscribe(receiver: Receiver, system: Any) -> Any:
    """subscribe(brand, ["message.received"]) -> (subscription, secret), posting to the receiver."""
    from atiende.webhooks.actions import create_subscription

    def subscribe(brand: Any, event_types: list[str], url: str | None = None) -> Any:
        return create_subscription(
            brand=brand, url=url or receiver.url, event_types=event_types, actor=system
        )

    return subscribe
