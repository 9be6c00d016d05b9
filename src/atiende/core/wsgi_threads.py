"""HTTP requests of the ASGI server answered by Django's WSGI handler on a fixed pool of threads.

Every view is synchronous. Django's own ASGI handler runs each request on a new thread with a
new database connection; a2wsgi (used before this) kept the threads but crossed between the event
loop and the request's thread four times per request (each part of the response sent through
the loop and waited for). Here a request crosses twice: the event loop reads the whole body
first (a slow upload holds no thread), a pool thread runs Django and hands back the complete
response when it is small, and the loop writes it. With the API's GET as cheap as it now is, that
is 1.9 instead of 2.7 ms of server CPU per request and 1.5 times the rate (bench/README.md, "API
under load", what changed commit by commit).

A large or streamed response (an attachment, an export) is not held in memory: past
``buffer_bytes`` the thread that runs the view sends the rest itself, piece by piece, through the
loop, waiting for each piece to be taken (the client's pace holds the thread, as in any WSGI
server). The whole response is produced on the request's own thread, so a streamed queryset keeps
its database connection. A client that goes away mid-way stops it: the server then answers
``http.disconnect`` to ``receive`` (and takes what is sent without sending it), so the loop
listens for that while the thread streams, and the thread stops producing at the next piece.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# A request body up to this size stays in memory; a larger one goes to a temporary file.
BODY_IN_MEMORY_BYTES = 1024 * 1024
# A response up to this size is handed back whole; a larger one is streamed from its thread.
BUFFER_BYTES = 256 * 1024


@dataclass
class _Complete:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class BodyTooLarge(Exception):
    pass


class WsgiOnThreads:
    """An ASGI application for ``http`` scopes that runs ``application`` (WSGI) on ``threads``
    long-lived threads. Bodies larger than ``max_body_bytes`` are refused with 413 before the
    application sees them."""

    def __init__(
        self,
        application: WsgiApplication,
        *,
        threads: int,
        max_body_bytes: int,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        self.application = application
        self.max_body_bytes = max_body_bytes
        self.buffer_bytes = buffer_bytes
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WsgiOnThreads serves http scopes, not {scope['type']!r}")
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await _send_plain(send, 413, b"Request body too large.\n")
            return
        if body is None:
            return  # the client went away before sending all of it
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(
                self.executor, self._respond, wsgi_environ(scope, body), send, receive, loop
            )
        finally:
            body.close()
        if answer is not None:
            await send(
                {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
            )
            await send({"type": "http.response.body", "body": answer.body})

    def _respond(
        self,
        environ: dict[str, Any],
        send: Send,
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
    ) -> _Complete | None:
        """On a pool thread: run the application; the complete response when it is small,
        ``None`` when this thread has streamed it already."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and started and started[2]:
                # Headers already went out: too late to change them (PEP 3333).
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [
                int(status.split(" ", 1)[0]),
                [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in headers
                ],
                False,
            ]
            return written.append  # the legacy write() callable: buffered like the rest

        result = self.application(environ, start_response)
        try:
            parts: Iterator[bytes] = iter(result)
            size = sum(len(part) for part in written)
            for part in parts:
                written.append(part)
                size += len(part)
                if size > self.buffer_bytes:
                    started[2] = True
                    self._stream(loop, send, receive, started, written, parts)
                    return None
            if not started:
                raise RuntimeError("the WSGI application returned without starting a response")
            return _Complete(status=started[0], headers=started[1], body=b"".join(written))
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _stream(
        loop: asyncio.AbstractEventLoop,
        send: Send,
        receive: Receive,
        started: list[Any],
        buffered: list[bytes],
        rest: Iterator[bytes],
    ) -> None:
        """On the request's thread: send the response piece by piece until its end or until
        the client is gone (the caller then closes the application's iterable)."""
        gone = threading.Event()

        async def sending(message: Message) -> None:
            await send(message)

        async def watching() -> None:
            # The body was read whole: the next thing a server says (ASGI) is that the client
            # left. Anything else, from a server that says otherwise, ends the watch.
            if (await receive())["type"] == "http.disconnect":
                gone.set()

        def deliver(message: Message) -> None:
            asyncio.run_coroutine_threadsafe(sending(message), loop).result()

        watcher = asyncio.run_coroutine_threadsafe(watching(), loop)
        try:
            deliver({"type": "http.response.start", "status": started[0], "headers": started[1]})
            deliver({"type": "http.response.body", "body": b"".join(buffered), "more_body": True})
            for part in rest:
                if gone.is_set():
                    return
                if part:
                    deliver({"type": "http.response.body", "body": part, "more_body": True})
            deliver({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


async def _read_body(receive: Receive, limit: int) -> IO[bytes] | None:
    """The whole request body, or ``None`` if the client disconnected first."""
    body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY_BYTES)  # noqa: SIM115
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            body.close()
            raise BodyTooLarge
        if part:
            body.write(part)
        if not message.get("more_body", False):
            body.seek(0)
            return body


async def _send_plain(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


def _latin1(text: str) -> str:
    """A str as PEP 3333 wants it in the environ: its UTF-8 bytes, one character per byte."""
    return text.encode("utf-8").decode("latin-1")


def wsgi_environ(scope: Scope, body: IO[bytes]) -> dict[str, Any]:
    """The WSGI environ of an ASGI ``http`` scope (PEP 3333 and the ASGI spec's mapping)."""
    server_name, server_port = scope.get("server") or ("localhost", 80)
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _latin1(root_path),
        "PATH_INFO": _latin1(path),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server_name),
        "SERVER_PORT": str(server_port if server_port is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        # Repeated headers are joined with commas (RFC 9110 5.3); cookies with "; ".
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            value = f"{environ[key]}{separator}{value}"
        environ[key] = value
    return environ
