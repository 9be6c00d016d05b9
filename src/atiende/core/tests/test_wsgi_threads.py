"""The web server's hand-off of HTTP requests to WSGI on a pool of threads (core/wsgi_threads.py),
driven through its ASGI interface as uvicorn drives it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import pytest

from atiende.core.wsgi_threads import BODY_IN_MEMORY_BYTES, WsgiOnThreads, wsgi_environ

Environ = dict[str, Any]


def http_scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return scope


def serve(
    application: Callable[..., Iterable[bytes]],
    scope: dict[str, Any],
    body_parts: list[bytes] | None = None,
    *,
    disconnect: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """What the server would be told to send for one request."""
    options.setdefault("threads", 2)
    options.setdefault("max_body_bytes", 10 * 1024 * 1024)
    bridge = WsgiOnThreads(application, **options)
    parts = list(body_parts or [b""])
    sent: list[dict[str, Any]] = []

    async def scenario() -> None:
        # As uvicorn: past the body's end, receive() waits and then says the client is gone,
        # when the response is complete or the client left.
        complete = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not parts:
                if not disconnect:
                    await complete.wait()
                return {"type": "http.disconnect"}
            part = parts.pop(0)
            more = bool(parts) or disconnect
            return {"type": "http.request", "body": part, "more_body": more}

        async def send(message: MutableMapping[str, Any]) -> None:
            assert not complete.is_set(), "sent after the response was complete"
            sent.append(dict(message))
            if message["type"] == "http.response.body" and not message.get("more_body"):
                complete.set()

        await bridge(scope, receive, send)

    asyncio.run(scenario())
    bridge.executor.shutdown()
    return sent


def echo(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Length", str(len(body)))])
    return [b"got ", body]


def test_a_small_response_comes_back_whole_in_two_messages() -> None:
    sent = serve(echo, http_scope(method="POST"), [b"hello ", b"world"])

    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-length", b"11")],
        },
        {"type": "http.response.body", "body": b"got hello world"},
    ]


def test_a_body_past_the_in_memory_size_arrives_whole() -> None:
    chunk = b"x" * (BODY_IN_MEMORY_BYTES // 4)
    sent = serve(echo, http_scope(method="POST"), [chunk] * 6)

    assert sent[0]["headers"][1] == (b"x-length", str(len(chunk) * 6).encode())


def test_a_body_over_the_limit_is_refused_before_the_application_runs() -> None:
    called = []

    def application(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        called.append(True)
        return echo(environ, start_response)

    sent = serve(
        application, http_scope(method="POST"), [b"x" * 600, b"x" * 600], max_body_bytes=1000
    )

    assert called == []
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b"Request body too large.\n"


def test_a_client_gone_before_its_body_ended_reaches_no_application() -> None:
    called = []

    def application(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        called.append(True)
        return echo(environ, start_response)

    sent = serve(application, http_scope(method="POST"), [b"half of it"], disconnect=True)

    assert called == []
    assert sent == []


class Streamed:
    """A streamed response that records the threads it runs on and that it was closed."""

    def __init__(self, parts: int, size: int) -> None:
        self.parts, self.size = parts, size
        self.threads: set[int] = set()
        self.closed_on: int | None = None
        self.produced = 0

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Streamed:
        self.threads.add(threading.get_ident())
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return self

    def __iter__(self) -> Iterator[bytes]:
        for number in range(self.parts):
            self.threads.add(threading.get_ident())
            self.produced = number + 1
            yield bytes([number % 256]) * self.size

    def close(self) -> None:
        self.closed_on = threading.get_ident()


def test_a_large_response_is_streamed_from_the_thread_that_produced_it() -> None:
    response = Streamed(parts=40, size=64 * 1024)

    sent = serve(response, http_scope(), buffer_bytes=256 * 1024)

    assert sent[0] == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/octet-stream")],
    }
    bodies = sent[1:]
    assert all(message["more_body"] for message in bodies[:-1])
    assert bodies[-1] == {"type": "http.response.body", "body": b""}
    received = b"".join(message["body"] for message in bodies)
    assert received == b"".join(bytes([n]) * 64 * 1024 for n in range(40))
    # One thread ran the view, produced every part and closed it (a streamed queryset keeps its
    # database connection); the first parts travelled together.
    assert len(response.threads) == 1
    assert response.closed_on in response.threads
    assert len(bodies) < 40


def test_a_client_gone_mid_download_stops_the_stream_and_closes_the_response() -> None:
    """uvicorn takes what is sent to a client that left without a word; the thread must not go
    on reading a large attachment for nobody."""
    response = Streamed(parts=400, size=64 * 1024)
    sent: list[dict[str, Any]] = []
    bridge = WsgiOnThreads(response, threads=2, max_body_bytes=1024, buffer_bytes=256 * 1024)

    async def scenario() -> None:
        left = asyncio.Event()
        body_read = False

        async def receive() -> dict[str, Any]:
            nonlocal body_read
            if not body_read:
                body_read = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))
            if len(sent) == 3:  # the start and two pieces, then the client leaves
                left.set()

        await bridge(http_scope(), receive, send)

    asyncio.run(scenario())
    bridge.executor.shutdown()
    assert response.produced < 20
    assert response.closed_on in response.threads
    assert all(message.get("more_body") for message in sent[1:])


def test_a_failing_application_is_closed_and_the_error_reaches_the_server() -> None:
    class Failing(Streamed):
        def __iter__(self) -> Iterator[bytes]:
            yield b"part"
            raise RuntimeError("broken view")

    response = Failing(parts=0, size=0)

    with pytest.raises(RuntimeError, match="broken view"):
        serve(response, http_scope())
    assert response.closed_on is not None


def test_requests_run_on_long_lived_threads() -> None:
    seen: list[int] = []

    def application(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(threading.get_ident())
        start_response("204 No Content", [])
        return []

    bridge = WsgiOnThreads(application, threads=1, max_body_bytes=100)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    async def three_requests() -> None:
        for _ in range(3):
            await bridge(http_scope(), receive, send)

    asyncio.run(three_requests())
    bridge.executor.shutdown()

    assert len(seen) == 3
    assert len(set(seen)) == 1


def test_the_environ_follows_pep_3333() -> None:
    scope = http_scope(
        method="POST",
        path="/app/buscar/canción",
        root_path="/app",
        query_string=b"q=%C3%B1&page=2",
        scheme="https",
        headers=[
            (b"host", b"help.example.com"),
            (b"content-type", b"application/json"),
            (b"content-length", b"2"),
            (b"accept", b"text/html"),
            (b"accept", b"application/json"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"x-forwarded-for", b"203.0.113.9"),
        ],
    )

    environ = wsgi_environ(scope, body=None)  # type: ignore[arg-type]

    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/app"
    # PATH_INFO carries the UTF-8 bytes one character each, as Django's handler expects.
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/buscar/canción"
    assert environ["QUERY_STRING"] == "q=%C3%B1&page=2"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "2"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_HOST"] == "help.example.com"
    assert environ["HTTP_ACCEPT"] == "text/html,application/json"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("127.0.0.1", "50000")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_only_http_scopes_are_served() -> None:
    bridge = WsgiOnThreads(echo, threads=1, max_body_bytes=10)

    async def nothing() -> dict[str, Any]:
        raise AssertionError

    async def ignore(message: MutableMapping[str, Any]) -> None:
        raise AssertionError

    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(bridge({"type": "websocket"}, nothing, ignore))
    bridge.executor.shutdown()
