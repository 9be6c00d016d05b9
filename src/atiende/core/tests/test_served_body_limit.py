"""``atiende serve`` itself refuses a request body past the largest message or attachment allowed
(``HTTP_MAX_BODY_BYTES``) with 413, whether the client announces its length or streams it in
chunks, before Django reads it, and goes on serving."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from atiende.core.testing import child_environment, running_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MIB = 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    # A limit of 2 MiB: 1 MiB allowed for a message and an attachment, plus 1 MiB of form.
    environment = {
        **child_environment(tmp_path),
        "ATIENDE_MAX_MESSAGE_BYTES": str(MIB),
        "ATIENDE_MAX_ATTACHMENT_BYTES": str(MIB),
    }
    with running_server(tmp_path, environment) as running:
        yield running.port


def answer_to(port: int, request: bytes) -> bytes:
    """What the server answers to ``request`` (sent whole), read until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def head(*, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        "POST /api/v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
    ).encode()


def chunks(body: bytes, *, last: bool) -> bytes:
    pieces = [body[start : start + 64 * 1024] for start in range(0, len(body), 64 * 1024)]
    framed = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in pieces)
    return framed + (b"0\r\n\r\n" if last else b"")


# One byte past the limit, and no more: the server reads all that was sent before it answers
# and closes (closing on unread bytes would reset the connection and lose the answer).
PAST_THE_LIMIT = b"x" * (2 * MIB + 1)


def test_a_body_announced_past_the_limit_gets_413_and_the_server_goes_on(server: int) -> None:
    answer = answer_to(server, head(length=3 * MIB) + PAST_THE_LIMIT)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.endswith(b"Request body too large.\n")

    # Under the limit, the same request reaches Django (which wants a token: 401).
    assert answer_to(server, head(length=2) + b"{}").startswith(b"HTTP/1.1 401 ")


def test_a_chunked_body_past_the_limit_gets_413_and_the_server_goes_on(server: int) -> None:
    answer = answer_to(server, head(length=None) + chunks(PAST_THE_LIMIT, last=False))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]

    body = b"{" + b" " * (MIB // 2) + b"}"
    assert answer_to(server, head(length=None) + chunks(body, last=True)).startswith(
        b"HTTP/1.1 401 "
    )
