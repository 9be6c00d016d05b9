"""IMAP polling against a real dovecot on loopback: every message exactly once, whatever breaks.

The tests commit for real (transactional database): the poller's order — store, commit, then
move ``last_uid`` — only means something with real commits.
"""

import io
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import PASSWORD
from django.core.management import call_command
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from atiende.brands.models import BrandEvent
from atiende.channels.email import imap
from atiende.channels.email.actions import (
    add_imap_mailbox,
    claim_imap_mailbox,
    hold_imap_mailbox,
    update_imap_mailbox,
)
from atiende.channels.email.imap import poll_mailbox
from atiende.channels.email.models import EmailAddress, ImapMailbox
from atiende.channels.email.tasks import poll_imap_mailboxes
from atiende.channels.email.tests.imap_server import ImapServer, running_imap_server
from atiende.conversations.models import Conversation
from atiende.core.testing import free_port
from atiende.pipeline.models import InboundMessage

pytestmark = pytest.mark.django_db(transaction=True)


class Crash(BaseException):
    """The process dying mid-way: no ``except Exception`` catches it, nothing after it runs."""


@pytest.fixture
def imap_server():
    with running_imap_server() as server:
        yield server


@pytest.fixture
def support_address(brand):
    return EmailAddress.objects.create(
        brand=brand, address="soporte@tiendasol.test", is_default=True
    )


@pytest.fixture
def mailbox(brand, support_address, imap_server, system):
    return add_imap_mailbox(
        brand=brand,
        host=imap_server.host,
        port=imap_server.port,
        security="none",
        username=imap_server.username,
        password=imap_server.password,
        actor=system,
    )


def mail(n: int, body: str = "") -> bytes:
    """A customer's first mail; each ``n`` is another customer, so another conversation."""
    return (
        f"From: Cliente {n} <cliente{n}@example.com>\r\n"
        "To: soporte@tiendasol.test\r\n"
        f"Subject: Pedido {n}\r\n"
        f"Message-ID: <pedido-{n}@example.com>\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Hola, mi pedido {n} no ha llegado.\r\n{body}"
    ).encode()


def server_uids(server: ImapServer, folder: str = "INBOX") -> list[int]:
    with server.client() as client:
        client.select_folder(folder, readonly=True)
        return sorted(client.search(["ALL"]))


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_three_messages_become_three_conversations_and_a_second_poll_stores_nothing(
    mailbox, imap_server
):
    for n in (1, 2, 3):
        imap_server.append(mail(n))

    first = poll_mailbox(mailbox)

    assert (first.fetched, first.stored, first.duplicates, first.errors) == (3, 3, 0, 0)
    assert InboundMessage.objects.count() == Conversation.objects.count() == 3
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {f"imap:{mailbox.pk}"}
    second = poll_mailbox(mailbox)
    assert (second.fetched, second.stored, second.duplicates) == (0, 0, 0)
    assert InboundMessage.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_uid == max(server_uids(imap_server)) == 3
    assert mailbox.uidvalidity is not None
    assert mailbox.last_polled_at is not None
    assert mailbox.last_error == ""
    assert mailbox.polling_until is None
    # Read with BODY.PEEK from a read-only folder: the mailbox's own state is untouched.
    with imap_server.client() as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags([1, 2, 3])
        assert len(flags) == 3
        assert all(b"\\Seen" not in each for each in flags.values())


def test_a_message_appended_after_a_poll_is_the_only_one_fetched_next_time(mailbox, imap_server):
    imap_server.append(mail(1))
    poll_mailbox(mailbox)
    imap_server.append(mail(2))

    result = poll_mailbox(mailbox)

    assert (result.fetched, result.stored, result.duplicates) == (1, 1, 0)
    assert Conversation.objects.count() == 2
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2


def test_a_fetched_batch_is_stored_with_the_uid_move_in_one_transaction(mailbox, imap_server):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in (1, 2, 3):
        imap_server.append(mail(n))
    with CaptureQueriesContext(connection) as statements:
        result = poll_mailbox(mailbox)
    assert (result.fetched, result.stored) == (3, 3)
    inserts = [
        query["sql"]
        for query in statements.captured_queries
        if query["sql"].startswith('INSERT INTO "pipeline_inboundmessage"')
    ]
    assert len(inserts) == 1  # the three rows in one statement
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3


def test_a_crash_between_fetch_and_commit_loses_nothing_and_duplicates_nothing(
    mailbox, imap_server, monkeypatch
):
    for n in (1, 2, 3):
        imap_server.append(mail(n))
    real_store = imap.store_imap_messages

    def crash_before_commit(**kwargs):
        # Stored and the position moved, not yet committed, and then the process dies.
        with transaction.atomic():
            real_store(**kwargs)
            raise Crash

    monkeypatch.setattr(imap, "store_imap_messages", crash_before_commit)
    with pytest.raises(Crash):
        poll_mailbox(mailbox)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 0
    assert InboundMessage.objects.count() == 0
    monkeypatch.setattr(imap, "store_imap_messages", real_store)

    result = poll_mailbox(mailbox)

    assert (result.fetched, result.stored, result.duplicates) == (3, 3, 0)
    assert InboundMessage.objects.count() == Conversation.objects.count() == 3
    subjects = sorted(Conversation.objects.values_list("subject", flat=True))
    assert subjects == ["Pedido 1", "Pedido 2", "Pedido 3"]
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3


def _store_together_fails(monkeypatch):
    """Storing a batch together fails (say the database refuses the statement): one at a time."""

    def refuse(**kwargs):
        raise RuntimeError("too many SQL variables")

    monkeypatch.setattr(imap, "store_imap_messages", refuse)


def test_one_at_a_time_a_crash_between_two_messages_loses_nothing(
    mailbox, imap_server, monkeypatch
):
    _store_together_fails(monkeypatch)
    for n in (1, 2, 3):
        imap_server.append(mail(n))
    real_receive = imap.receive_email
    calls = []

    def crash_on_the_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            # Stored, not yet committed, and then the process dies: the row rolls back.
            with transaction.atomic():
                real_receive(**kwargs)
                raise Crash
        return real_receive(**kwargs)

    monkeypatch.setattr(imap, "receive_email", crash_on_the_second)
    with pytest.raises(Crash):
        poll_mailbox(mailbox)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 1
    assert InboundMessage.objects.count() == 1
    monkeypatch.setattr(imap, "receive_email", real_receive)

    result = poll_mailbox(mailbox)

    assert (result.fetched, result.stored, result.duplicates) == (2, 2, 0)
    assert InboundMessage.objects.count() == Conversation.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3


def test_one_at_a_time_a_crash_after_commit_before_the_uid_moves_finds_a_duplicate_next_time(
    mailbox, imap_server, monkeypatch
):
    _store_together_fails(monkeypatch)
    imap_server.append(mail(1))
    real_advance = imap.advance_imap_uid

    def crash_once(**kwargs):
        monkeypatch.setattr(imap, "advance_imap_uid", real_advance)
        raise Crash

    monkeypatch.setattr(imap, "advance_imap_uid", crash_once)
    with pytest.raises(Crash):
        poll_mailbox(mailbox)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 0
    assert InboundMessage.objects.count() == Conversation.objects.count() == 1

    result = poll_mailbox(mailbox)

    assert (result.fetched, result.stored, result.duplicates) == (1, 0, 1)
    assert InboundMessage.objects.count() == Conversation.objects.count() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 1


def test_a_store_failure_stops_the_poll_in_words_and_the_next_poll_carries_on(
    mailbox, imap_server, monkeypatch
):
    for n in (1, 2):
        imap_server.append(mail(n))
    real_store = imap.store_imap_messages
    _store_together_fails(monkeypatch)
    real_receive = imap.receive_email

    def database_down(**kwargs):
        if b"Pedido 2" in kwargs["raw"]:
            raise RuntimeError("database is locked")
        return real_receive(**kwargs)

    monkeypatch.setattr(imap, "receive_email", database_down)
    failed = poll_mailbox(mailbox)
    assert (failed.stored, failed.errors) == (1, 1)
    mailbox.refresh_from_db()
    assert mailbox.last_error == "Could not store the message with UID 2: database is locked"
    assert mailbox.failing_since is not None
    assert mailbox.last_uid == 1
    monkeypatch.setattr(imap, "receive_email", real_receive)
    monkeypatch.setattr(imap, "store_imap_messages", real_store)

    result = poll_mailbox(mailbox)

    assert (result.stored, result.errors) == (1, 0)
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.last_error, mailbox.failing_since) == (2, "", None)
    assert Conversation.objects.count() == 2


def test_a_renumbered_folder_is_read_again_without_duplicates(
    brand, support_address, imap_server, system
):
    with imap_server.client() as client:
        client.create_folder("Soporte")
    mailbox = add_imap_mailbox(
        brand=brand,
        host=imap_server.host,
        port=imap_server.port,
        security="none",
        username=imap_server.username,
        password=imap_server.password,
        folder="Soporte",
        actor=system,
    )
    for n in (1, 2):
        imap_server.append(mail(n), folder="Soporte")
    poll_mailbox(mailbox)
    mailbox.refresh_from_db()
    before = mailbox.uidvalidity
    # The server loses its index: the folder comes back with the same mail under a new numbering.
    with imap_server.client() as client:
        client.delete_folder("Soporte")
        client.create_folder("Soporte")
    for n in (1, 2, 3):
        imap_server.append(mail(n), folder="Soporte")

    result = poll_mailbox(mailbox)

    assert result.renumbered
    assert (result.fetched, result.stored, result.duplicates) == (3, 1, 2)
    assert InboundMessage.objects.count() == Conversation.objects.count() == 3
    mailbox.refresh_from_db()
    assert mailbox.uidvalidity != before
    assert mailbox.last_uid == 3
    assert "renumbered" in mailbox.last_note
    assert BrandEvent.objects.filter(type="email.imap_folder_renumbered").count() == 1


def test_a_message_too_large_is_skipped_with_a_note_and_the_rest_is_read(
    mailbox, imap_server, settings
):
    settings.ATIENDE_MAX_MESSAGE_BYTES = 2000
    imap_server.append(mail(1))
    imap_server.append(mail(2, body="x" * 3000))
    imap_server.append(mail(3))

    result = poll_mailbox(mailbox)

    assert (result.fetched, result.stored, result.skipped, result.errors) == (2, 2, 1, 0)
    assert sorted(Conversation.objects.values_list("subject", flat=True)) == [
        "Pedido 1",
        "Pedido 3",
    ]
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3
    assert mailbox.last_note.startswith("The message with UID 2 was not read: it is 3.")
    assert mailbox.last_error == ""
    assert poll_mailbox(mailbox).skipped == 0


def test_a_wrong_password_is_recorded_in_words_and_never_raised_from_the_task(
    mailbox, imap_server, system
):
    update_imap_mailbox(mailbox=mailbox, password="not-the-password", actor=system)

    poll_imap_mailboxes.call_local()
    poll_imap_mailboxes.call_local()

    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith(
        f"The mail server {imap_server.host}:{imap_server.port} refused the user name or password "
        f"of {imap_server.username}:"
    )
    assert "not-the-password" not in mailbox.last_error
    assert mailbox.failing_since is not None
    assert mailbox.last_polled_at is None
    assert BrandEvent.objects.filter(type="email.imap_mailbox_failing").count() == 1

    imap_server.append(mail(1))
    update_imap_mailbox(mailbox=mailbox, password=imap_server.password, actor=system)
    poll_imap_mailboxes.call_local()

    mailbox.refresh_from_db()
    assert (mailbox.last_error, mailbox.failing_since) == ("", None)
    assert Conversation.objects.count() == 1
    assert BrandEvent.objects.filter(type="email.imap_mailbox_recovered").count() == 1


def test_an_unreachable_server_is_recorded_in_words_and_the_other_mailboxes_are_read(
    mailbox, imap_server, brand, system
):
    port = free_port()
    unreachable = add_imap_mailbox(
        brand=brand,
        host="127.0.0.1",
        port=port,
        security="none",
        username="nadie",
        password="x",
        actor=system,
    )
    imap_server.append(mail(1))

    poll_imap_mailboxes.call_local()

    unreachable.refresh_from_db()
    assert unreachable.last_error.startswith(
        f"Could not reach the mail server 127.0.0.1:{port}: [Errno 111] Connection refused"
    )
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ("starttls", "did not accept a secure connection (STARTTLS): "),
        ("ssl", "Could not reach the mail server"),
    ],
)
def test_a_server_without_the_chosen_security_is_refused_in_words(
    mailbox, imap_server, system, security, expected
):
    mailbox = update_imap_mailbox(mailbox=mailbox, security=security, actor=system)
    imap_server.append(mail(1))

    result = poll_mailbox(mailbox)

    assert result.errors == 1
    mailbox.refresh_from_db()
    assert expected in mailbox.last_error
    assert not InboundMessage.objects.exists()


def test_a_mailbox_held_by_another_poller_is_left_alone_until_the_hold_lapses(
    mailbox, imap_server, system
):
    imap_server.append(mail(1))
    now = timezone.now()
    assert claim_imap_mailbox(mailbox=mailbox, until=now + timedelta(minutes=5), actor=system)
    assert not claim_imap_mailbox(mailbox=mailbox, until=now + timedelta(minutes=5), actor=system)

    assert poll_mailbox(mailbox).busy
    assert not InboundMessage.objects.exists()

    # The holder crashed long ago: its hold is in the past.
    hold_imap_mailbox(mailbox=mailbox, until=now - timedelta(seconds=1), actor=system)
    result = poll_mailbox(mailbox)
    assert (result.busy, result.stored) == (False, 1)


def test_the_password_is_never_logged(mailbox, imap_server, caplog, system):
    imap_server.append(mail(1))
    with caplog.at_level(logging.DEBUG):
        wrong = update_imap_mailbox(mailbox=mailbox, password="wrong-secret-1", actor=system)
        assert poll_mailbox(wrong).errors == 1
        right = update_imap_mailbox(mailbox=mailbox, password=imap_server.password, actor=system)
        assert poll_mailbox(right).stored == 1
    assert "refused the user name or password" in caplog.text
    assert "wrong-secret-1" not in caplog.text
    assert imap_server.password not in caplog.text


def test_poll_mail_once_prints_a_summary(mailbox, imap_server):
    imap_server.append(mail(1))
    imap_server.append(mail(2))
    out = io.StringIO()

    call_command("poll_mail", "--once", stdout=out)

    assert out.getvalue().splitlines() == [
        f"{mailbox}: 2 new, 0 duplicates, 0 skipped as too large",
        "Read 1 mailbox: 2 new, 0 duplicates, 0 skipped, 0 failed.",
    ]
    assert Conversation.objects.count() == 2


def test_the_watcher_reads_mail_as_it_arrives_with_idle(mailbox, imap_server):
    stop = threading.Event()
    reports = []

    def watch():
        try:
            # An interval far longer than the test: only IDLE can bring the message in time.
            imap.watch_mailboxes(
                stop=stop, interval=300, report=lambda box, result: reports.append(result)
            )
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert wait_until(lambda: len(reports) >= 1, 10)
        imap_server.append(mail(1))
        assert wait_until(InboundMessage.objects.exists, 5)
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()
    assert reports[0].stored == 0
    assert sum(result.stored for result in reports) == 1
    assert Conversation.objects.count() == 1
    mailbox.refresh_from_db()
    assert (mailbox.last_uid, mailbox.polling_until) == (1, None)


def test_poll_mail_keeps_reading_until_it_is_stopped(mailbox, imap_server):
    imap_server.append(mail(1))
    out = io.StringIO()

    call_command("poll_mail", "--interval", "300", "--stop-after", "3", stdout=out)

    assert out.getvalue().splitlines() == [
        "Reading mail every 300 s, or as it arrives where IDLE is offered. Ctrl-C to stop.",
        f"{mailbox}: 1 new, 0 duplicates, 0 skipped as too large",
        "Stopped.",
    ]
    assert Conversation.objects.count() == 1


def test_the_admin_adds_a_mailbox_through_the_action_never_shows_its_password_and_polls_it(
    client, brand, brand_admin, support_address, imap_server, outsider_admin
):
    client.login(username=brand_admin.email, password=PASSWORD)
    added = client.post(
        reverse("admin:email_channel_imapmailbox_add"),
        {
            "brand": brand.pk,
            "host": imap_server.host,
            "port": imap_server.port,
            "security": "none",
            "username": imap_server.username,
            "password": imap_server.password,
            "folder": "INBOX",
            "is_active": "on",
        },
    )
    assert added.status_code == 302
    mailbox = ImapMailbox.objects.get()
    assert mailbox.password == imap_server.password
    assert BrandEvent.objects.filter(type="email.imap_mailbox_added").exists()
    for url in (
        reverse("admin:email_channel_imapmailbox_add"),
        reverse("admin:email_channel_imapmailbox_changelist"),
        reverse("admin:email_channel_imapmailbox_change", args=[mailbox.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert imap_server.password not in page.content.decode()
    # Saving the form without typing a password keeps the stored one.
    client.post(
        reverse("admin:email_channel_imapmailbox_change", args=[mailbox.pk]),
        {
            "host": imap_server.host,
            "port": imap_server.port,
            "security": "none",
            "username": imap_server.username,
            "password": "",
            "folder": "INBOX",
            "is_active": "on",
        },
    )
    mailbox.refresh_from_db()
    assert mailbox.password == imap_server.password
    imap_server.append(mail(1))

    polled = client.post(
        reverse("admin:email_channel_imapmailbox_changelist"),
        {"action": "poll_now", "_selected_action": [mailbox.pk]},
    )

    assert polled.status_code == 302
    assert Conversation.objects.count() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 1
    client.logout()
    client.login(username=outsider_admin.email, password=PASSWORD)
    page = client.get(reverse("admin:email_channel_imapmailbox_changelist"))
    assert imap_server.username not in page.content.decode()
