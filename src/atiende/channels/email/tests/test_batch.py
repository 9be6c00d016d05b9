"""Mail processed in batches gives what it gives one message at a time, even when an earlier
message of the same batch creates what a later one looks up (its sender, the message it answers),
while the batch answers most lookups with a few set-based queries read before it began."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atiende.channels.email import stages
from atiende.channels.email.guard import RATE_LIMIT
from atiende.channels.email.intake import receive_email
from atiende.channels.email.models import EmailAddress
from atiende.conversations.actions import assign_conversation, change_status
from atiende.conversations.models import Message
from atiende.core import realtime
from atiende.core.actors import system_actor
from atiende.customers.models import Customer
from atiende.pipeline.actions import process_inbound, process_inbound_batch, receive_inbound
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus
from atiende.search.queries import search_for
from atiende.sla.testing import around_the_clock_policy, scheduled_checks_of


def mail(
    sender: str,
    message_id: str,
    *,
    subject: str = "Mi pedido no ha llegado",
    in_reply_to: str = "",
    body: str = "Hola, el pedido no ha llegado todavía.",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "soporte@tiendasol.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    message.set_content(body)
    return message.as_bytes()


def store(brand: Any, raws: list[bytes], source: str = "test") -> list[int]:
    return [
        receive_email(brand=brand, raw=raw, source=source, process=False).inbound.pk for raw in raws
    ]


def summary(ids: list[int]) -> list[tuple[str, str, int | None, int | None, int]]:
    """Each message's fate, with conversations and customers numbered in order of appearance,
    so two brands' results compare."""
    conversations: dict[int, int] = {}
    customers: dict[int, int] = {}
    rows = InboundMessage.objects.filter(pk__in=ids).select_related("conversation").order_by("pk")
    result = []
    for row in rows:
        conversation = row.conversation
        number = customer = None
        count = 0
        if conversation is not None:
            number = conversations.setdefault(conversation.pk, len(conversations))
            customer = customers.setdefault(conversation.customer_id, len(customers))
            count = Message.objects.filter(conversation=conversation).count()
        result.append((row.status, row.outcome, number, customer, count))
    return result


def one_by_one_and_batched(
    brand: Any, other_brand: Any, raws: list[bytes], batch_size: int = 100
) -> tuple[list[Any], list[Any]]:
    """The same mail processed one message at a time in ``brand`` and in batches in
    ``other_brand`` (a Message-ID is unique per brand, so both can hold the same mail)."""
    alone = store(brand, raws)
    for inbound_id in alone:
        process_inbound(inbound_id)
    batched = store(other_brand, raws)
    process_inbound_batch(batched, batch_size=batch_size)
    return summary(alone), summary(batched)


def statements_starting(queries: CaptureQueriesContext, *prefixes: str) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith(prefixes)]


def statements_containing(queries: CaptureQueriesContext, *fragments: str) -> list[str]:
    """(An ``executemany`` is one entry, its SQL after "N times: ".)"""
    return [
        query["sql"]
        for query in queries.captured_queries
        if all(fragment in query["sql"] for fragment in fragments)
    ]


@pytest.fixture
def support_addresses(brand: Any, other_brand: Any) -> None:
    EmailAddress.objects.create(brand=brand, address="soporte@tiendasol.test", is_default=True)
    EmailAddress.objects.create(brand=other_brand, address="soporte@telco.test", is_default=True)


def test_a_reply_to_a_message_of_the_same_batch_joins_its_conversation(
    brand, other_brand, support_addresses
):
    raws = [
        mail("Ana <ana@example.com>", "a1@example.com"),
        mail("Ana <ana@example.com>", "a2@example.com", in_reply_to="a1@example.com"),
        mail("Berta <berta@example.com>", "b1@example.com", in_reply_to="a2@example.com"),
    ]
    alone, batched = one_by_one_and_batched(brand, other_brand, raws)
    assert batched == alone
    # Any sender who names a stored message joins its conversation (unguessable ids).
    assert [outcome for _status, outcome, *_rest in batched] == [
        InboundOutcome.CREATED,
        InboundOutcome.APPENDED,
        InboundOutcome.APPENDED,
    ]
    assert {number for _s, _o, number, _c, _n in batched} == {0}


def test_two_messages_from_one_new_sender_in_a_batch_make_one_customer(
    brand, other_brand, support_addresses
):
    raws = [
        mail("Carmen <carmen@example.com>", "c1@example.com"),
        mail("Carmen <carmen@example.com>", "c2@example.com", subject="Otra cosa"),
        mail("Dora <dora@example.com>", "d1@example.com"),
    ]
    alone, batched = one_by_one_and_batched(brand, other_brand, raws)
    assert batched == alone
    assert [customer for *_rest, customer, _n in batched] == [0, 0, 1]
    assert Customer.objects.filter(brand=other_brand).count() == 2


def test_the_same_message_id_twice_in_a_batch_is_stored_once(brand, support_addresses):
    raw = mail("Ana <ana@example.com>", "same@example.com")
    # Two deliveries the inbound key cannot tell apart (two mailboxes' own ids).
    ids = [
        receive_inbound(
            brand=brand,
            channel="email",
            raw=raw,
            dedupe_key=f"mailbox-{number}:1",
            actor=system_actor("channel:email"),
            process=False,
        ).inbound.pk
        for number in (1, 2)
    ]
    process_inbound_batch(ids)
    outcomes = [row.outcome for row in InboundMessage.objects.filter(pk__in=ids).order_by("pk")]
    assert outcomes == [InboundOutcome.CREATED, InboundOutcome.DUPLICATE]
    assert Message.objects.filter(external_id="same@example.com").count() == 1


def test_a_sender_writing_too_fast_is_stopped_at_the_same_message_in_a_batch(
    brand, other_brand, support_addresses
):
    before = [
        mail("Eva <eva@example.com>", f"e{number}@example.com", subject=f"Asunto {number}")
        for number in range(RATE_LIMIT - 2)
    ]
    # Known before the batch begins: the batch's prepared count is what decides.
    for target in (brand, other_brand):
        for inbound_id in store(target, before):
            process_inbound(inbound_id)
    burst = [
        mail("Eva <eva@example.com>", f"burst{number}@example.com", subject=f"Más {number}")
        for number in range(4)
    ]
    alone, batched = one_by_one_and_batched(brand, other_brand, burst)
    assert batched == alone
    assert [outcome for _status, outcome, *_rest in batched] == [
        InboundOutcome.CREATED,
        InboundOutcome.CREATED,
        InboundOutcome.AUTO_REPLY,
        InboundOutcome.AUTO_REPLY,
    ]


@pytest.fixture
def subject_falla_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a conversation whose subject is FALLA fails (in its message's savepoint)."""
    start = stages.conversation_actions.start_conversation_with_message

    def failing_once(**kwargs: Any) -> Any:
        if kwargs["subject"] == "FALLA":
            raise RuntimeError("the disk is full")
        return start(**kwargs)

    monkeypatch.setattr(
        stages.conversation_actions, "start_conversation_with_message", failing_once
    )


def test_a_message_rolled_back_in_a_batch_leaves_nothing_for_the_next_one_to_find(
    brand, support_addresses, subject_falla_fails
):
    ids = store(
        brand,
        [
            mail("Fina <fina@example.com>", "f1@example.com", subject="FALLA"),
            mail("Fina <fina@example.com>", "f2@example.com", in_reply_to="f1@example.com"),
        ],
    )
    process_inbound_batch(ids)
    first, second = InboundMessage.objects.filter(pk__in=ids).order_by("pk")
    assert first.status == InboundStatus.NEEDS_ATTENTION
    # The customer and message the first one made were rolled back: the reply starts anew.
    assert (second.status, second.outcome) == (InboundStatus.DONE, InboundOutcome.CREATED)
    assert Customer.objects.filter(brand=brand).count() == 1
    assert not Message.objects.filter(external_id="f1@example.com").exists()


def test_a_batchs_mail_is_indexed_for_search_together_when_it_ends(
    brand, support_addresses, agent, subject_falla_fails
):
    raws = [
        mail(f"cliente{n}@example.com", f"s{n}@example.com", body=f"Busco la palabra{n}")
        for n in range(4)
    ]
    raws.insert(2, mail("fina@example.com", "f@example.com", subject="FALLA", body="perdida"))
    ids = store(brand, raws)
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(ids)
    index_writes = statements_starting(queries, "INSERT INTO search_", "DELETE FROM search_")
    # The conversations' documents and their messages', each rewritten once for the batch
    # (one by one it was four statements per new conversation and one per new customer).
    assert len(index_writes) == 4
    rows = {row.pk: row for row in InboundMessage.objects.filter(pk__in=ids)}
    for n, inbound_id in enumerate([ids[0], ids[1], ids[3], ids[4]]):
        hits = search_for(agent, f"palabra{n}").hits
        assert [hit.conversation.pk for hit in hits] == [rows[inbound_id].conversation_id]
    # The message that rolled back left nothing to find.
    assert rows[ids[2]].status == InboundStatus.NEEDS_ATTENTION
    assert search_for(agent, "perdida").hits == []


def test_when_the_batchs_index_write_fails_each_message_shows_the_error_on_its_row(
    brand, support_addresses, monkeypatch
):
    # A fault in what a batch writes once at its end (here every search-index write) must not
    # leave its messages silently waiting: one by one, each fails on its own row, shown and
    # retried, and nothing of the failed batch is kept.
    from atiende.search import index

    def broken(ids: Any) -> None:
        raise RuntimeError("search index damaged")

    monkeypatch.setattr(index, "index_conversations", broken)
    ids = store(
        brand,
        [mail(f"cliente{n}@example.com", f"broken{n}@example.com") for n in range(3)],
    )
    process_inbound_batch(ids)
    for row in InboundMessage.objects.filter(pk__in=ids):
        assert row.status == InboundStatus.NEEDS_ATTENTION
        assert "search index damaged" in row.error
        assert row.next_attempt_at is not None
    assert not Customer.objects.filter(brand=brand).exists()
    assert not Message.objects.filter(brand=brand).exists()


def test_a_batchs_sla_checks_are_scheduled_together_once_it_has_committed(
    brand, support_addresses, system, django_capture_on_commit_callbacks
):
    from atiende.sla.models import SlaTimer

    around_the_clock_policy(brand, system, first_response=60)
    ids = store(brand, [mail(f"c{n}@example.com", f"sla{n}@example.com") for n in range(3)])
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        process_inbound_batch(ids)
    timers = SlaTimer.objects.filter(brand=brand, metric="first_response")
    # The warning's and the deadline's check, for each new conversation's timer...
    assert [len(scheduled_checks_of(timer.pk)) for timer in timers] == [2, 2, 2]
    # ...and nothing written back to the new timers to schedule them.
    assert not statements_containing(queries, 'UPDATE "sla_slatimer"')


def test_a_batchs_sla_timers_are_derived_together_when_it_ends(
    brand, other_brand, support_addresses, system, subject_falla_fails
):
    from atiende.conversations.models import Conversation
    from atiende.sla.models import SlaTimer, TimerState

    for each in (brand, other_brand):
        around_the_clock_policy(each, system, first_response=60, resolution=480)
    raws = [mail(f"c{n}@example.com", f"t{n}@example.com") for n in range(3)]
    raws.insert(1, mail("fina@example.com", "f@example.com", subject="FALLA"))
    # A second message to the first conversation, in the same batch: derived with both.
    raws.append(mail("c0@example.com", "t0b@example.com", in_reply_to="t0@example.com"))

    def timers_of(target: Any) -> list[tuple[int, str, int, str, timedelta | None]]:
        numbers = {
            pk: number
            for number, pk in enumerate(
                Conversation.objects.filter(brand=target)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        }
        return sorted(
            (numbers[timer.conversation_id], timer.metric, timer.cycle, timer.state,
             timer.due_at - timer.started_at if timer.due_at else None)
            for timer in SlaTimer.objects.filter(brand=target)
        )  # fmt: skip

    alone = store(brand, raws)
    for inbound_id in alone:
        process_inbound(inbound_id)
    batched = store(other_brand, raws)
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(batched)
    assert summary(alone) == summary(batched)
    assert timers_of(other_brand) == timers_of(brand)
    assert len(timers_of(other_brand)) == 6  # two for each of the three conversations
    assert all(state == TimerState.RUNNING for _, _, _, state, _ in timers_of(other_brand))
    # The timers of the batch's conversations read by one statement and written by one (one
    # by one, a read and two inserts per conversation, and a read per message).
    timer_statements = [
        query["sql"].split(" ", 1)[0]
        for query in queries.captured_queries
        if '"sla_slatimer"' in query["sql"].split(" WHERE ")[0]
    ]
    assert sorted(timer_statements) == ["INSERT", "SELECT"]
    # Their conversations' deadlines, copied for the inbox's SLA sort, by one statement too.
    deadline_writes = statements_containing(
        queries, 'UPDATE "conversations_conversation" SET "sla_due_at"'
    )
    assert len(deadline_writes) == 1
    for conversation in Conversation.objects.filter(brand=other_brand):
        first_response = SlaTimer.objects.get(conversation=conversation, metric="first_response")
        assert conversation.sla_due_at == first_response.due_at


def test_a_message_answering_an_older_one_is_threaded_from_what_the_batch_read(
    brand, other_brand, support_addresses
):
    first = mail("Gala <gala@example.com>", "g1@example.com")
    for target in (brand, other_brand):
        process_inbound(store(target, [first])[0])
    raws = [
        mail("Gala <gala@example.com>", "g2@example.com", in_reply_to="g1@example.com"),
        mail("Gala <gala@example.com>", "g3@example.com", in_reply_to="g2@example.com"),
        mail("Hugo <hugo@example.com>", "h1@example.com"),
    ]
    alone, batched = one_by_one_and_batched(brand, other_brand, raws)
    assert batched == alone
    assert [outcome for _status, outcome, *_rest in batched] == [
        InboundOutcome.APPENDED,
        InboundOutcome.APPENDED,
        InboundOutcome.CREATED,
    ]


def replies_stored_from_known_senders(brand: Any, senders: list[str]) -> list[int]:
    """Each sender's first mail processed (a customer and a conversation each), then a reply
    from each stored, not processed: their ids."""
    for sender in senders:
        process_inbound(store(brand, [mail(sender, f"first-{sender}")])[0])
    return store(
        brand,
        [mail(sender, f"reply-{sender}", in_reply_to=f"first-{sender}") for sender in senders],
    )


def test_a_batch_of_known_senders_looks_them_up_in_one_query(brand, support_addresses):
    senders = [f"cliente{number}@example.com" for number in range(5)]
    ids = replies_stored_from_known_senders(brand, senders)
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(ids)
    statements = [query["sql"] for query in queries.captured_queries]
    selects = [sql for sql in statements if sql.startswith("SELECT")]
    assert sum('FROM "customers_customeridentity"' in sql for sql in selects) == 1
    assert sum('FROM "email_channel_emailaddress"' in sql for sql in selects) == 1
    # Deduplication and threading: one read of the batch's Message-IDs.
    assert sum('"conversations_message"."external_id" IN' in sql for sql in selects) == 1
    assert {row.outcome for row in InboundMessage.objects.filter(pk__in=ids)} == {
        InboundOutcome.APPENDED
    }


def test_a_known_senders_customer_is_made_once_a_message_the_loop_guard_takes_its_id(
    brand, support_addresses, monkeypatch
):
    senders = [f"cliente{number}@example.com" for number in range(3)]
    ids = replies_stored_from_known_senders(brand, senders)
    made: list[int] = []
    make = Customer.from_db.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, db: str, field_names: Any, values: Any) -> Any:
        customer = make(cls, db, field_names, values)
        made.append(customer.pk)
        return customer

    monkeypatch.setattr(Customer, "from_db", classmethod(counted))

    process_inbound_batch(ids)

    expected = Customer.objects.filter(identities__value__in=senders).values_list("pk", flat=True)
    assert sorted(made) == sorted(expected)  # the identify stage's, one each
    assert {row.outcome for row in InboundMessage.objects.filter(pk__in=ids)} == {
        InboundOutcome.APPENDED
    }


def test_a_mail_from_our_own_address_is_a_loop_in_a_batch_too(brand, support_addresses):
    ids = store(
        brand,
        [
            mail("Soporte <SOPORTE@telco.test>", "loop@example.com"),
            mail("Ines <ines@example.com>", "i1@example.com"),
        ],
    )
    process_inbound_batch(ids)
    outcomes = [row.outcome for row in InboundMessage.objects.filter(pk__in=ids).order_by("pk")]
    assert outcomes == [InboundOutcome.AUTO_REPLY, InboundOutcome.CREATED]


@pytest.mark.parametrize("empty_body", ["", "   \n", "<p> </p>"], ids=["none", "blank", "html"])
def test_an_empty_mail_from_a_new_sender_is_refused_before_a_customer_is_made(
    brand, support_addresses, caplog, empty_body
):
    """Refused before anything is written for it: no customer, and its batch runs once (a
    message failing after writing makes the batch run again, atiende.core.batching)."""
    empty = mail("Nadia <nadia@example.com>", "n1@example.com", body=empty_body)
    if empty_body.startswith("<"):
        message = email.message_from_bytes(empty, policy=email.policy.default)
        message.set_content(empty_body, subtype="html")
        empty = message.as_bytes()
    ids = store(brand, [mail("Ines <ines@example.com>", "i1@example.com"), empty])
    with caplog.at_level(logging.INFO, logger="atiende.pipeline.actions"):
        process_inbound_batch(ids)
    rows = InboundMessage.objects.filter(pk__in=ids).order_by("pk")
    assert [row.outcome for row in rows] == [InboundOutcome.CREATED, InboundOutcome.REJECTED]
    assert rows[1].error == "identify_customer: A message needs some text or an attachment."
    assert list(Customer.objects.filter(brand=brand).values_list("name", flat=True)) == ["Ines"]
    assert not any("runs again" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_its_real_time_notices_together_after_commit(
    brand, support_addresses, monkeypatch
):
    sent: list[list[Any]] = []
    monkeypatch.setattr(realtime, "_send", lambda notices: sent.append(list(notices)))
    start = stages.conversation_actions.start_conversation_with_message

    def failing(**kwargs: Any) -> Any:
        if kwargs["subject"] == "FALLA":
            raise RuntimeError("the disk is full")
        return start(**kwargs)

    monkeypatch.setattr(stages.conversation_actions, "start_conversation_with_message", failing)
    ids = store(
        brand,
        [
            mail("Julia <julia@example.com>", "j1@example.com"),
            mail("Kike <kike@example.com>", "k1@example.com", subject="FALLA"),
            mail("Luis <luis@example.com>", "l1@example.com"),
        ],
    )
    process_inbound_batch(ids)
    # One hand-over for the batch; nothing for the message that rolled back.
    assert len(sent) == 1
    assert [kind for kind, _data, _groups in sent[0]] == ["conversation.created"] * 2
    assert all(groups == [f"brand.{brand.pk}"] for _kind, _data, groups in sent[0])


def test_mail_dated_long_ago_counts_for_the_rate_as_it_does_alone(
    brand, other_brand, support_addresses
):
    # Imported archives keep their Date: messages outside the window never count.
    old = format_datetime(timezone.now() - timedelta(days=1))
    raws = []
    for number in range(RATE_LIMIT + 2):
        raw = mail("Lola <lola@example.com>", f"old{number}@example.com", subject=f"A{number}")
        raws.append(raw.replace(b"Date: ", f"Date: {old}\nX-Old: ".encode(), 1))
    alone = store(brand, raws, source="import:archive.mbox")
    for inbound_id in alone:
        process_inbound(inbound_id)
    batched = store(other_brand, raws, source="import:archive.mbox")
    process_inbound_batch(batched)
    assert summary(batched) == summary(alone)
    assert {outcome for _status, outcome, *_rest in summary(batched)} == {InboundOutcome.CREATED}


def test_a_new_sender_writing_too_fast_within_one_batch_is_stopped_as_one_by_one(
    brand, other_brand, support_addresses
):
    raws = [
        mail("Nuria <nuria@example.com>", f"n{number}@example.com", subject=f"Asunto {number}")
        for number in range(RATE_LIMIT + 2)
    ]
    alone, batched = one_by_one_and_batched(brand, other_brand, raws)
    assert batched == alone
    outcomes = [outcome for _status, outcome, *_rest in batched]
    assert outcomes == [InboundOutcome.CREATED] * RATE_LIMIT + [InboundOutcome.AUTO_REPLY] * 2


def test_a_batch_in_a_brand_without_service_levels_reads_nothing_more_for_them(
    brand, support_addresses
):
    ids = store(brand, [mail(f"n{n}@example.com", f"n{n}@example.com") for n in range(3)])
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(ids)
    sla_reads = statements_containing(queries, 'FROM "sla_')
    conversation_reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and '"customers_organization"' in query["sql"]
    ]
    # The brand's policies, once for the batch; its conversations are not read again at the
    # batch's end to refresh timers it cannot have.
    assert len(sla_reads) == 1
    assert conversation_reads == []


def test_a_batchs_events_are_inserted_together_at_its_end_as_of_when_they_happened(
    brand, support_addresses, system, subject_falla_fails
):
    from atiende.conversations.models import ConversationEvent
    from atiende.customers.models import CustomerEvent
    from atiende.webhooks.actions import create_subscription
    from atiende.webhooks.models import WebhookDelivery

    create_subscription(
        brand=brand,
        url="http://127.0.0.1:9/hook",
        event_types=["conversation.created", "message.received", "customer.created"],
        actor=system,
    )
    raws = [mail(f"e{n}@example.com", f"e{n}@example.com") for n in range(3)]
    raws.insert(1, mail("fina@example.com", "f@example.com", subject="FALLA"))
    raws.append(mail("e0@example.com", "e0b@example.com", in_reply_to="e0@example.com"))
    ids = store(brand, raws)
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(ids)
    event_inserts = statements_starting(
        queries,
        'INSERT INTO "conversations_conversationevent"',
        'INSERT INTO "customers_customerevent"',
    )
    # One statement per kind of event for the whole batch (one by one: a statement per event).
    assert len(event_inserts) == 2
    rows = list(InboundMessage.objects.filter(pk__in=ids).order_by("pk"))
    assert [row.status for row in rows] == [
        InboundStatus.DONE, InboundStatus.NEEDS_ATTENTION, InboundStatus.DONE,
        InboundStatus.DONE, InboundStatus.DONE,
    ]  # fmt: skip
    # The message that rolled back left no event: three new customers, not four.
    customer_events = list(CustomerEvent.objects.filter(brand=brand, type="customer.created"))
    assert len(customer_events) == 3
    # Each event says when it happened, not when the batch inserted it: after its message was
    # written and before the next message of the batch was.
    messages = list(Message.objects.filter(brand=brand).order_by("pk"))
    events = list(ConversationEvent.objects.filter(brand=brand).order_by("pk"))
    assert [event.payload.get("message") for event in events] == [m.pk for m in messages]
    for event, message, following in zip(events, messages, [*messages[1:], None], strict=True):
        assert event.created_at >= message.created_at
        if following is not None:
            assert event.created_at <= following.created_at
    # Webhook deliveries name the rows by the ids they got at the batch's end.
    expected = {f"conversation_event:{event.pk}" for event in events} | {
        f"customer_event:{event.pk}" for event in customer_events
    }
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == expected


def test_a_reply_in_a_batch_takes_its_conversation_as_the_batch_read_it_on_sqlite(
    brand, agent, system, support_addresses
):
    """On SQLite the batch's transaction holds the write lock from its start, so the
    conversation the batch read is the row a locked re-read would find: it is not read again
    (PostgreSQL reads it again, under FOR UPDATE). What the replies change is the same either
    way, a second reply to the same conversation in the batch included."""
    first = store(brand, [mail("Inés <ines@example.com>", "i1@example.com")])
    process_inbound(first[0])
    conversation = InboundMessage.objects.get(pk=first[0]).conversation
    assert conversation is not None
    assign_conversation(conversation=conversation, assignee=agent, actor=system)
    change_status(conversation=conversation, status="solved", actor=system)
    raws = [
        mail("Inés <ines@example.com>", "i2@example.com", in_reply_to="i1@example.com",
             body="Sigue sin llegar."),
        mail("Inés <ines@example.com>", "i3@example.com", in_reply_to="i1@example.com",
             body="¿Alguna novedad?"),
    ]  # fmt: skip
    ids = store(brand, raws)
    with CaptureQueriesContext(connection) as queries:
        process_inbound_batch(ids)
    locked_reads = statements_containing(
        queries, 'FROM "conversations_conversation" INNER JOIN "brands_brand"'
    )
    # The first reply's copy is the batch's. The second reply's conversation was written by the
    # first, which the batch noted: it is read again under the lock, on both databases.
    assert len(locked_reads) == (1 if connection.vendor == "sqlite" else 2)
    conversation.refresh_from_db()
    assert conversation.status == "open"  # reopened by the first reply
    assert conversation.solved_at is None
    assert conversation.assignee_id == agent.pk  # what the batch did not change is kept
    assert conversation.last_message_preview == "¿Alguna novedad?"
    assert [row.outcome for row in InboundMessage.objects.filter(pk__in=ids)] == [
        InboundOutcome.APPENDED,
        InboundOutcome.APPENDED,
    ]
    assert conversation.messages.count() == 3


def test_a_reply_processed_on_its_own_is_read_again_under_a_lock(brand, support_addresses):
    """Outside a batch nothing notes what the chain's stages wrote, so the copy the thread
    stage read is not trusted: the conversation is read again under a lock."""
    first = store(brand, [mail("Inés <ines@example.com>", "i1@example.com")])
    process_inbound(first[0])
    reply = store(
        brand, [mail("Inés <ines@example.com>", "i2@example.com", in_reply_to="i1@example.com")]
    )
    with CaptureQueriesContext(connection) as queries:
        process_inbound(reply[0])
    locked_reads = statements_containing(
        queries, 'FROM "conversations_conversation" INNER JOIN "brands_brand"'
    )
    assert len(locked_reads) == 1
    assert InboundMessage.objects.get(pk=reply[0]).outcome == InboundOutcome.APPENDED


def test_the_batch_reads_are_compiled_for_a_few_list_lengths_and_find_what_they_ask(
    brand: Any, support_addresses: None
) -> None:
    """Each batch asks about a different number of Message-IDs and senders; the prepared reads
    pad their lists to powers of two (core.prepared), so they compile a handful of statements,
    not one per batch, and still find every stored message and known sender."""
    from atiende.channels.email import batch_lookups

    first = store(
        brand, [mail(f"cliente{n}@example.com", f"first-{n}@example.com") for n in range(3)]
    )
    process_inbound_batch(first)
    later = store(
        brand,
        [
            mail(
                f"cliente{n}@example.com",
                f"reply-{n}@example.com",
                in_reply_to=f"first-{n}@example.com",
            )
            for n in range(3)
        ]
        + [mail(f"nuevo{n}@example.com", f"new-{n}@example.com") for n in range(9)]
        + [mail("soporte@tiendasol.test", "own@example.com")],
    )
    process_inbound_batch(later)

    outcomes = [row[1] for row in summary(first + later)]
    # (mail from our own address is a loop: the guard stops it)
    assert outcomes == ["created"] * 3 + ["appended"] * 3 + ["created"] * 9 + ["auto_reply"]
    # The three replies' customers were found, not made again.
    assert Customer.objects.filter(brand=brand).count() == 12
    reads = (
        batch_lookups._STORED_IDS,
        batch_lookups._OWN_ADDRESSES,
        batch_lookups._IDENTITIES,
        batch_lookups._RECENT_COUNTS,
    )
    lengths = {shape[-1] for read in reads for shape in read._compiled}
    assert lengths
    assert all(length & (length - 1) == 0 for length in lengths)
