"""A real SMTP server on loopback for delivery tests (aiosmtpd), which can be told to refuse.

``refuse(address, "451 4.7.1 Try again later", times=1)`` makes it answer RCPT TO for that
address with the given reply (``times=None``: always); everything else is accepted and kept in
``messages`` with the "250 2.0.0 Ok: queued as ..." answer it gave.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from atiende.core.testing import free_port


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    queue_id: str

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class _Refusal:
    reply: str
    times: int | None


@dataclass
class RecordingHandler:
    messages: list[Delivered] = field(default_factory=list)
    refusals: dict[str, _Refusal] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, address: str, reply: str, times: int | None = None) -> None:
        with self._lock:
            self.refusals[address.lower()] = _Refusal(reply, times)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self._lock:
            refusal = self.refusals.get(address.lower())
            if refusal is not None and refusal.times != 0:
                if refusal.times is not None:
                    refusal.times -= 1
                return refusal.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            queue_id = f"Q{len(self.messages) + 1:04d}"
            self.messages.append(
                Delivered(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    raw=envelope.original_content or envelope.content,
                    queue_id=queue_id,
                )
            )
        return f"250 2.0.0 Ok: queued as {queue_id}"


@dataclass
class SMTPServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def messages(self) -> list[Delivered]:
        return self.handler.messages

    def refuse(self, address: str, reply: str, times: int | None = None) -> None:
        self.handler.refuse(address, reply, times)


@contextmanager
def running_smtp_server() -> Iterator[SMTPServer]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SMTPServer(controller.hostname, controller.port, handler)
    finally:
        controller.stop()
