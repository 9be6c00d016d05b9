"""Processing stored messages in batches: one transaction per batch, each failing message undone
alone (by a savepoint of its own where one is needed), each message's outcome the same as when
processed on its own."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from atiende.channels.registry import ChannelKind, register
from atiende.core import batching
from atiende.core.actors import system_actor
from atiende.customers.actions import create_customer
from atiende.customers.models import Customer
from atiende.pipeline import actions, chain
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus

CHANNEL = "batch-test"


def read(context: chain.InboundContext) -> None:
    # Before anything is written:
    if context.raw.startswith(b"REFUSE"):
        raise ValidationError("The message has no text.")
    if context.raw.startswith(b"DOWN"):
        raise RuntimeError("the language service is down")
    context.set(text=context.raw.decode())


def remember_customer(context: chain.InboundContext) -> None:
    context.set(
        customer=create_customer(
            brand=context.brand, actor=system_actor("tests"), name=context.text
        )
    )


def deliver(context: chain.InboundContext) -> None:
    if context.text.startswith("FAIL"):
        raise RuntimeError("the database of orders is down")
    if context.text.startswith("BAD"):
        raise ValidationError("The message is 40 MB; at most 25 MB are accepted.")
    context.conclude(InboundOutcome.CREATED)


register(ChannelKind(CHANNEL, "Batch test", "api"))
for stage in (
    chain.Stage("batch_read", read, frozenset({"raw"}), frozenset({"text"}), frozenset({CHANNEL})),
    chain.Stage("batch_customer", remember_customer, frozenset({"text"}), frozenset({"customer"}), frozenset({CHANNEL})),
    chain.Stage("batch_deliver", deliver, frozenset({"customer"}), frozenset(), frozenset({CHANNEL})),
):  # fmt: skip
    chain.register_stage(stage)
chain.set_default_order(CHANNEL, ["batch_read", "batch_customer", "batch_deliver"])


def store(brand: Any, *texts: str) -> list[int]:
    return [
        actions.receive_inbound(
            brand=brand,
            channel=CHANNEL,
            raw=text.encode(),
            dedupe_key=text,
            actor=system_actor("tests"),
            process=False,
        ).inbound.pk
        for text in texts
    ]


def statuses() -> dict[str, tuple[str, str]]:
    return {
        bytes(row.raw).decode(): (row.status, row.outcome)
        for row in InboundMessage.objects.filter(channel=CHANNEL)
    }


def test_a_batch_processes_every_stored_message_and_times_each(brand):
    ids = store(brand, "Ana", "Berta", "Carmen")
    processed = actions.process_inbound_batch(ids, batch_size=2)
    assert [row.pk for row in processed] == sorted(ids)
    assert set(statuses().values()) == {(InboundStatus.DONE, InboundOutcome.CREATED)}
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ana", "Berta", "Carmen"]
    for row in InboundMessage.objects.filter(pk__in=ids):
        assert set(row.stage_timings) == {"batch_read", "batch_customer", "batch_deliver"}
        assert row.processed_at is not None


def test_a_failing_message_rolls_back_only_itself_and_needs_attention(brand):
    ids = store(brand, "Ana", "FAIL Berta", "Carmen", "BAD Dora")
    actions.process_inbound_batch(ids)
    assert statuses() == {
        "Ana": (InboundStatus.DONE, InboundOutcome.CREATED),
        "FAIL Berta": (InboundStatus.NEEDS_ATTENTION, ""),
        "Carmen": (InboundStatus.DONE, InboundOutcome.CREATED),
        "BAD Dora": (InboundStatus.DONE, InboundOutcome.REJECTED),
    }
    # The customers the failing messages' earlier stage made were rolled back with them.
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ana", "Carmen"]
    failed = InboundMessage.objects.get(pk=ids[1])
    assert failed.attempts == 1
    assert failed.error == "batch_deliver: the database of orders is down"
    assert failed.next_attempt_at is not None
    rejected = InboundMessage.objects.get(pk=ids[3])
    assert rejected.error == "batch_deliver: The message is 40 MB; at most 25 MB are accepted."


def savepoints_and_runs(caplog: Any, ids: list[int]) -> tuple[int, int]:
    """Process ``ids`` as one batch: the savepoints it took, and how often it ran."""
    with (
        caplog.at_level(logging.INFO, logger="atiende.pipeline.actions"),
        CaptureQueriesContext(connection) as queries,
    ):
        actions.process_inbound_batch(ids)
    savepoints = sum(query["sql"].startswith("SAVEPOINT") for query in queries.captured_queries)
    again = sum("runs again" in record.getMessage() for record in caplog.records)
    return savepoints, 1 + again


@pytest.mark.django_db(transaction=True)  # (the batch's transaction is its own)
def test_a_message_refused_before_it_wrote_anything_costs_its_batch_nothing(brand, caplog):
    """On SQLite the batch's messages take no savepoints: the refused one wrote nothing, so there
    is nothing to undo (the one savepoint is the recording of its failure, an action of its own).
    PostgreSQL keeps a savepoint per message."""
    ids = store(brand, "Ana", "REFUSE Berta", "Carmen")
    savepoints, runs = savepoints_and_runs(caplog, ids)
    assert statuses() == {
        "Ana": (InboundStatus.DONE, InboundOutcome.CREATED),
        "REFUSE Berta": (InboundStatus.DONE, InboundOutcome.REJECTED),
        "Carmen": (InboundStatus.DONE, InboundOutcome.CREATED),
    }
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ana", "Carmen"]
    assert InboundMessage.objects.get(pk=ids[1]).error == "batch_read: The message has no text."
    assert (savepoints, runs) == ((1, 1) if connection.vendor == "sqlite" else (4, 1))


@pytest.mark.django_db(transaction=True)  # (the batch's transaction is its own)
def test_a_message_failing_after_it_wrote_runs_its_batch_again_with_a_savepoint(brand, caplog):
    """Berta's customer was written before her message failed: on SQLite the batch, run without
    savepoints, is rolled back whole and run again with one for her message alone (and one to
    record its failure); the outcome is the same as one message at a time."""
    ids = store(brand, "Ana", "FAIL Berta", "Carmen")
    savepoints, runs = savepoints_and_runs(caplog, ids)
    assert statuses() == {
        "Ana": (InboundStatus.DONE, InboundOutcome.CREATED),
        "FAIL Berta": (InboundStatus.NEEDS_ATTENTION, ""),
        "Carmen": (InboundStatus.DONE, InboundOutcome.CREATED),
    }
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ana", "Carmen"]
    assert InboundMessage.objects.get(pk=ids[1]).attempts == 1
    assert (savepoints, runs) == ((2, 2) if connection.vendor == "sqlite" else (4, 1))


@pytest.mark.django_db(transaction=True)
def test_a_failure_is_logged_once_even_when_its_batch_runs_again(brand, caplog):
    ids = store(brand, "DOWN Ana", "FAIL Berta")
    with caplog.at_level(logging.INFO, logger="atiende.pipeline.actions"):
        actions.process_inbound_batch(ids)
    failures = [record for record in caplog.records if "failed in stage" in record.getMessage()]
    assert [record.getMessage() for record in failures] == [
        f"inbound message {ids[0]} failed in stage batch_read",
        f"inbound message {ids[1]} failed in stage batch_deliver",
    ]
    # With the traceback of what was raised.
    assert "the language service is down" in caplog.text
    assert all(record.exc_info for record in failures)
    assert InboundMessage.objects.get(pk=ids[0]).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_many_messages_failing_after_writing_ends_with_a_savepoint_each(brand, caplog):
    """Each run asks for a savepoint for one more failing message; after three, every message
    takes one (a run repeats the messages before its failure)."""
    ids = store(brand, "FAIL Ana", "Berta", "FAIL Carmen", "FAIL Dora", "FAIL Eva")
    _savepoints, runs = savepoints_and_runs(caplog, ids)
    assert statuses() == {
        "FAIL Ana": (InboundStatus.NEEDS_ATTENTION, ""),
        "Berta": (InboundStatus.DONE, InboundOutcome.CREATED),
        "FAIL Carmen": (InboundStatus.NEEDS_ATTENTION, ""),
        "FAIL Dora": (InboundStatus.NEEDS_ATTENTION, ""),
        "FAIL Eva": (InboundStatus.NEEDS_ATTENTION, ""),
    }
    assert list(Customer.objects.values_list("name", flat=True)) == ["Berta"]
    assert runs == (4 if connection.vendor == "sqlite" else 1)


def test_messages_already_done_are_left_as_they_are(brand):
    (first,) = store(brand, "Ana")
    done = actions.process_inbound(first)
    (second,) = store(brand, "Berta")
    processed = actions.process_inbound_batch([first, second])
    assert [row.pk for row in processed] == [second]
    again = InboundMessage.objects.get(pk=first)
    assert again.processed_at == done.processed_at
    assert Customer.objects.filter(name="Ana").count() == 1


def test_a_batch_reads_the_chain_configuration_once_and_locks_its_rows_once(brand):
    ids = store(brand, "Ana", "Berta", "Carmen", "Dora")
    with CaptureQueriesContext(connection) as queries:
        actions.process_inbound_batch(ids)
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum("pipeline_servicechain" in sql for sql in statements) == 1
    assert (
        sum(sql.startswith("SELECT") and "pipeline_inboundmessage" in sql for sql in statements)
        == 1
    )


def test_a_batch_reads_each_brand_once_and_locks_only_its_inbound_rows(brand, other_brand):
    ids = [*store(brand, "Ana", "Berta"), *store(other_brand, "Octavio", "Olga")]
    with CaptureQueriesContext(connection) as queries:
        processed = actions.process_inbound_batch(ids)
    statements = [query["sql"] for query in queries.captured_queries]
    inbound_reads = [
        sql for sql in statements if sql.startswith("SELECT") and "pipeline_inboundmessage" in sql
    ]
    # The rows alone: on PostgreSQL a join would lock the brands' rows too (FOR UPDATE).
    assert len(inbound_reads) == 1
    assert "brands_brand" not in inbound_reads[0]
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in inbound_reads[0]
    brand_reads = [sql for sql in statements if 'FROM "brands_brand"' in sql]
    assert len(brand_reads) == 1, brand_reads
    by_brand = {row.brand_id: [item.brand for item in processed if item.brand_id == row.brand_id]
                for row in processed}  # fmt: skip
    assert {pk: [copy.name for copy in copies] for pk, copies in by_brand.items()} == {
        brand.pk: [brand.name, brand.name],
        other_brand.pk: [other_brand.name, other_brand.name],
    }
    assert all(copies[0] is copies[1] for copies in by_brand.values())


def test_a_batchs_processed_rows_are_marked_done_by_one_statement_at_its_end(brand):
    ids = store(brand, "Ana", "FAIL Berta", "Carmen", "Dora")
    with CaptureQueriesContext(connection) as queries:
        actions.process_inbound_batch(ids)
    updates = [
        query["sql"]
        for query in queries.captured_queries
        if 'UPDATE "pipeline_inboundmessage"' in query["sql"]
    ]
    # One for the three done (Django logs it as "3 times: UPDATE ..."), one for the failure,
    # recorded on its own.
    assert len(updates) == 2
    assert updates[-1].startswith("3 times: UPDATE")
    assert statuses()["Dora"] == (InboundStatus.DONE, InboundOutcome.CREATED)
    dora = InboundMessage.objects.get(pk=ids[3])
    assert dora.error == ""
    assert dora.next_attempt_at is None
    assert dora.processed_at is not None
    assert set(dora.stage_timings) == {"batch_read", "batch_customer", "batch_deliver"}


def test_when_marking_a_batch_done_fails_its_messages_are_processed_one_by_one(brand, monkeypatch):
    # The effects and the "done" commit together: the customers the batch made went with it,
    # and processing the messages again one by one makes each once.
    mark_done = actions._mark_done

    def failing_for_a_batch(rows: Any) -> None:
        if len(rows) > 1:
            raise RuntimeError("disk full")
        mark_done(rows)

    monkeypatch.setattr(actions, "_mark_done", failing_for_a_batch)
    ids = store(brand, "Ana", "Berta")
    processed = actions.process_inbound_batch(ids)
    assert [row.pk for row in processed] == sorted(ids)
    assert set(statuses().values()) == {(InboundStatus.DONE, InboundOutcome.CREATED)}
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ana", "Berta"]


def test_a_messages_task_takes_the_waiting_ones_along_but_not_a_scheduled_retry(brand):
    ids = store(brand, "FAIL Ana", "Berta", "Carmen", "Dora")
    actions.process_inbound(ids[0])  # needs attention; its retry is scheduled for later
    processed = actions.process_inbound_and_waiting(ids[2])
    assert [row.pk for row in processed] == ids[1:]
    assert statuses() == {
        "FAIL Ana": (InboundStatus.NEEDS_ATTENTION, ""),
        "Berta": (InboundStatus.DONE, InboundOutcome.CREATED),
        "Carmen": (InboundStatus.DONE, InboundOutcome.CREATED),
        "Dora": (InboundStatus.DONE, InboundOutcome.CREATED),
    }
    # Their own tasks, when their turn comes, find them done and change nothing.
    assert actions.process_inbound_and_waiting(ids[1]) == []
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Berta", "Carmen", "Dora"]
    assert InboundMessage.objects.get(pk=ids[0]).attempts == 1


def test_stored_messages_queued_as_batches_are_processed_after_commit(
    brand, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ids = store(brand, "Ana", "Berta")
        actions.queue_inbound_batch(ids)
        assert set(statuses().values()) == {(InboundStatus.RECEIVED, "")}
    assert set(statuses().values()) == {(InboundStatus.DONE, InboundOutcome.CREATED)}


def test_the_command_processes_every_waiting_message_in_batches(brand, capsys):
    store(brand, "Ana", "Berta", "Carmen")
    call_command("process_inbound", "--batch-size", "2")
    assert "Processed 3 inbound messages." in capsys.readouterr().out
    assert set(statuses().values()) == {(InboundStatus.DONE, InboundOutcome.CREATED)}
    call_command("process_inbound")
    assert "Processed 0 inbound messages." in capsys.readouterr().out


def test_the_command_can_leave_messages_younger_than_a_given_age(brand, capsys):
    store(brand, "Ana")
    call_command("process_inbound", "--waiting", "60")
    assert "Processed 0 inbound messages." in capsys.readouterr().out
    assert set(statuses().values()) == {(InboundStatus.RECEIVED, "")}


def test_a_brand_whose_stored_chain_no_longer_validates_fails_alone(brand, other_brand):
    from atiende.pipeline.models import ServiceChain

    # Written past the action that validates it: a stage that has since been removed.
    ServiceChain.objects.create(brand=other_brand, channel=CHANNEL, stages=["batch_removed"])
    mine = store(brand, "Ana", "Carmen")
    (theirs,) = store(other_brand, "Octavio")
    actions.process_inbound_batch([*mine, theirs])
    assert statuses() == {
        "Ana": (InboundStatus.DONE, InboundOutcome.CREATED),
        "Carmen": (InboundStatus.DONE, InboundOutcome.CREATED),
        "Octavio": (InboundStatus.DONE, InboundOutcome.REJECTED),
    }
    assert "batch_removed" in InboundMessage.objects.get(pk=theirs).error


def test_a_channel_prepares_its_batch_once_before_the_first_message(brand, monkeypatch):
    seen: list[list[int]] = []

    def prepare(rows: Any) -> None:
        seen.append([row.pk for row in rows])
        batching.batch_memo(("names", CHANNEL), lambda: {bytes(row.raw).decode() for row in rows})

    read_names: list[bool] = []

    def deliver_knowing(context: chain.InboundContext) -> None:
        names: set[str] = batching.batch_memo(("names", CHANNEL), set)
        read_names.append(context.text in names)
        context.conclude(InboundOutcome.CREATED)

    monkeypatch.setitem(chain._batch_preparers, CHANNEL, prepare)
    monkeypatch.setitem(
        chain._stages,
        "batch_deliver",
        dataclasses.replace(chain.stage("batch_deliver"), run=deliver_knowing),
    )
    ids = store(brand, "Ana", "Berta", "Carmen")
    actions.process_inbound_batch(ids, batch_size=2)
    assert seen == [sorted(ids)[:2], sorted(ids)[2:]]
    assert read_names == [True, True, True]


def test_a_failing_preparer_costs_speed_only(brand, monkeypatch):
    def broken(rows: Any) -> None:
        # A failed statement: on PostgreSQL it must not abort the batch's transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setitem(chain._batch_preparers, CHANNEL, broken)
    ids = store(brand, "Ana", "Berta")
    actions.process_inbound_batch(ids)
    assert set(statuses().values()) == {(InboundStatus.DONE, InboundOutcome.CREATED)}
