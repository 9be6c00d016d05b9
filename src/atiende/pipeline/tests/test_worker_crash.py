"""A worker killed (SIGKILL) in the middle of a batch and started again: no message lost, none
processed twice.

Real processes on the real database file (or PostgreSQL database) of this test: the messages are
stored and committed here, ``atiende manage process_inbound`` (the batch path of the workers) runs in a
child process, is killed once some batches are committed, and is started again.
"""

from __future__ import annotations

import email.utils
import signal
import subprocess
import sys
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from atiende.channels.email.intake import receive_email
from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import AuthorKind, Conversation, ConversationEvent, Message
from atiende.core.testing import child_environment
from atiende.customers.models import Customer
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = 300
SENDERS = 100
BATCH = 20
TIMEOUT = 60.0


def _mails() -> list[tuple[str, bytes, str | None]]:
    """(Message-ID, raw, the Message-ID it replies to): each sender opens a case, then replies."""
    mails: list[tuple[str, bytes, str | None]] = []
    first_of: dict[int, str] = {}
    for number in range(MESSAGES):
        sender = number % SENDERS
        replies_to = first_of.get(sender)
        message_id = f"<crash-{number}@cliente{sender}.test>"
        message = EmailMessage()
        message["Message-ID"] = message_id
        message["From"] = email.utils.formataddr((f"Cliente {sender}", f"c{sender}@cliente.test"))
        message["To"] = "soporte@tienda.test"
        message["Subject"] = f"Pedido {sender}" if replies_to is None else f"Re: Pedido {sender}"
        if replies_to is not None:
            message["In-Reply-To"] = replies_to
            message["References"] = replies_to
        message.set_content(f"Mensaje {number}: mi pedido {sender} no ha llegado.\n")
        mails.append((message_id, message.as_bytes(), replies_to))
        first_of.setdefault(sender, message_id)
    return mails


def _worker(data_dir: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "atiende", "manage", "process_inbound", "--batch-size", str(BATCH)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=child_environment(data_dir),
    )


def _processed() -> int:
    return InboundMessage.objects.exclude(status=InboundStatus.RECEIVED).count()


def test_a_worker_killed_mid_batch_and_restarted_loses_and_repeats_no_message(
    brand: Any, tmp_path: Path
) -> None:
    mails = _mails()
    for _message_id, raw, _replies_to in mails:
        assert receive_email(brand=brand, raw=raw, source="crash-test", process=False).created
    # A second delivery of a stored message is recognised and stores nothing.
    assert not receive_email(brand=brand, raw=mails[0][1], source="again", process=False).created
    assert InboundMessage.objects.filter(status=InboundStatus.RECEIVED).count() == MESSAGES

    with (tmp_path / "worker.log").open("wb") as log:
        worker = _worker(tmp_path, log)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not 0 < _processed() < MESSAGES:
                assert worker.poll() is None, "the worker finished before it could be killed"
                assert time.monotonic() < deadline, "the worker committed nothing in time"
                time.sleep(0.005)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == -signal.SIGKILL
        done_at_kill = _processed()
        assert 0 < done_at_kill < MESSAGES
        # What was committed is whole batches: the killed batch left no message half-done.
        assert done_at_kill % BATCH == 0

        restarted = _worker(tmp_path, log)
        try:
            assert restarted.wait(timeout=TIMEOUT) == 0, (tmp_path / "worker.log").read_text()
        finally:
            if restarted.poll() is None:
                restarted.kill()
                restarted.wait()

    inbound = list(InboundMessage.objects.order_by("pk"))
    assert len(inbound) == MESSAGES
    assert Counter(row.status for row in inbound) == {InboundStatus.DONE: MESSAGES}
    outcomes = Counter(row.outcome for row in inbound)
    assert outcomes == {
        InboundOutcome.CREATED: SENDERS,
        InboundOutcome.APPENDED: MESSAGES - SENDERS,
    }
    not_duplicates = [row for row in inbound if row.outcome != InboundOutcome.DUPLICATE]

    from_customers = Message.objects.filter(author_kind=AuthorKind.CUSTOMER)
    assert from_customers.count() == len(not_duplicates)
    # Each inbound row has its own message, and each message is a mail we sent exactly once.
    assert len({row.message_id for row in inbound}) == MESSAGES
    # (Stored without the angle brackets of the header.)
    assert sorted(from_customers.values_list("external_id", flat=True)) == sorted(
        message_id.strip("<>") for message_id, _raw, _replies_to in mails
    )
    # One conversation per case, every reply in the conversation of the mail it answers.
    assert Conversation.objects.count() == SENDERS
    assert Customer.objects.count() == SENDERS
    conversation_of = dict(from_customers.values_list("external_id", "conversation_id"))
    for message_id, _raw, replies_to in mails:
        if replies_to is not None:
            assert (
                conversation_of[message_id.strip("<>")] == conversation_of[replies_to.strip("<>")]
            )
    events = Counter(ConversationEvent.objects.values_list("type", flat=True))
    assert events[ConversationEventType.CREATED] == SENDERS
    assert events[ConversationEventType.MESSAGE_RECEIVED] == MESSAGES - SENDERS


def _real_worker(data_dir: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "atiende", "worker", "--no-periodic", "--threads", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=child_environment(data_dir),
    )


def test_the_real_worker_killed_mid_batch_and_restarted_loses_and_repeats_nothing(
    brand: Any, tmp_path: Path
) -> None:
    """The same proof with ``atiende worker`` itself (huey): it takes up received messages in
    batches when it starts, is SIGKILLed between batches' commits, and a new worker finishes."""
    mails = _mails()
    for _message_id, raw, _replies_to in mails:
        assert receive_email(brand=brand, raw=raw, source="crash-test", process=False).created
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = _real_worker(tmp_path, log)
        try:
            deadline = time.monotonic() + TIMEOUT
            while not 0 < _processed() < MESSAGES:
                assert worker.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.005)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        done_at_kill = _processed()
        assert 0 < done_at_kill < MESSAGES
        restarted = _real_worker(tmp_path, log)
        try:
            deadline = time.monotonic() + TIMEOUT
            while _processed() < MESSAGES:
                assert restarted.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
        finally:
            restarted.terminate()
            restarted.wait(timeout=20)
    assert Counter(InboundMessage.objects.values_list("status", flat=True)) == {
        InboundStatus.DONE: MESSAGES
    }
    from_customers = Message.objects.filter(author_kind=AuthorKind.CUSTOMER)
    assert from_customers.count() == MESSAGES
    assert from_customers.values("external_id").distinct().count() == MESSAGES
    assert Conversation.objects.count() == SENDERS
    assert Customer.objects.count() == SENDERS
