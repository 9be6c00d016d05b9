"""The service chain: order enforced, raw stored first, one transaction per message, failures
visible and retried, replays possible, every stage timed."""

from datetime import timedelta

import pytest
from conftest import PASSWORD
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from atiende.channels.registry import ChannelKind, register
from atiende.customers.actions import create_customer
from atiende.customers.models import Customer
from atiende.pipeline import actions, chain
from atiende.pipeline.models import InboundMessage, InboundOutcome, InboundStatus, ServiceChain
from atiende.pipeline.queries import stage_latency_for

CHANNEL = "pipeline-test"
behaviour: dict[str, object] = {}


def read(context: chain.InboundContext) -> None:
    text = context.raw.decode()
    if text.startswith("AUTO"):
        context.finish(InboundOutcome.AUTO_REPLY, "automatic")
        return
    context.set(text=text)


def remember_customer(context: chain.InboundContext) -> None:
    context.set(
        customer=create_customer(
            brand=context.brand, actor=context.inbound_actor, name=context.text
        )
    )


def deliver(context: chain.InboundContext) -> None:
    failure = behaviour.get("fail")
    if isinstance(failure, BaseException):
        raise failure
    context.conclude(InboundOutcome.CREATED)


def after(context: chain.InboundContext) -> None:
    context.set(after_ran=True)
    behaviour["after_ran"] = True


def _with_actor(stage_function):
    def run(context: chain.InboundContext) -> None:
        from atiende.core.actors import system_actor

        context.set(inbound_actor=system_actor("tests"))
        stage_function(context)

    return run


register(ChannelKind(CHANNEL, "Pipeline test", "api"))
for stage in (
    chain.Stage("read", _with_actor(read), frozenset({"raw"}), frozenset({"text", "inbound_actor"}), frozenset({CHANNEL})),
    chain.Stage("remember_customer", remember_customer, frozenset({"text", "inbound_actor"}), frozenset({"customer"}), frozenset({CHANNEL})),
    chain.Stage("deliver", deliver, frozenset({"customer"}), frozenset(), frozenset({CHANNEL})),
    chain.Stage("after", after, frozenset({"customer"}), frozenset({"after_ran"}), frozenset({CHANNEL})),
):  # fmt: skip
    chain.register_stage(stage)
chain.set_default_order(CHANNEL, ["read", "remember_customer", "deliver", "after"])


@pytest.fixture(autouse=True)
def _reset_behaviour():
    behaviour.clear()
    yield
    behaviour.clear()


def receive(brand, system, raw=b"Ana", key="k1"):
    return actions.receive_inbound(
        brand=brand, channel=CHANNEL, raw=raw, dedupe_key=key, actor=system, process=False
    )


def test_an_order_that_breaks_a_dependency_is_refused():
    with pytest.raises(chain.ChainError, match=r"remember_customer.*needs inbound_actor, text"):
        chain.validate(CHANNEL, ["remember_customer", "read"])
    with pytest.raises(chain.ChainError, match="appears twice"):
        chain.validate(CHANNEL, ["read", "read"])
    with pytest.raises(chain.ChainError, match="no stage called"):
        chain.validate(CHANNEL, ["read", "teleport"])
    with pytest.raises(chain.ChainError, match="does not apply"):
        chain.validate("chat", ["read"])
    assert [stage.name for stage in chain.validate(CHANNEL, ["read", "remember_customer", "deliver"])] == [
        "read", "remember_customer", "deliver",
    ]  # fmt: skip


def test_brands_configure_their_order_and_a_broken_one_is_refused(brand, brand_admin, agent):
    with pytest.raises(ValidationError, match="needs"):
        actions.configure_service_chain(
            brand=brand, channel=CHANNEL, stages=["deliver", "read"], actor=brand_admin
        )
    with pytest.raises(PermissionDenied):
        actions.configure_service_chain(brand=brand, channel=CHANNEL, stages=["read"], actor=agent)
    actions.configure_service_chain(
        brand=brand,
        channel=CHANNEL,
        stages=["read", "remember_customer", "deliver"],
        actor=brand_admin,
    )
    assert [stage.name for stage in actions.stages_for(brand, CHANNEL)] == [
        "read",
        "remember_customer",
        "deliver",
    ]


def test_the_raw_message_is_stored_once_however_often_it_is_delivered(brand, system):
    first = receive(brand, system)
    second = receive(brand, system, raw=b"Ana (again)")
    assert first.created
    assert not second.created
    assert second.inbound.pk == first.inbound.pk
    assert InboundMessage.objects.count() == 1
    assert bytes(first.inbound.raw) == b"Ana"
    assert first.inbound.status == InboundStatus.RECEIVED


def test_one_message_is_stored_by_one_insert_in_one_action(brand, system):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as statements:
        assert receive(brand, system).created
    verbs = [query["sql"].split()[0] for query in statements.captured_queries]
    # (The test's own transaction makes the action's a savepoint: one, not one per layer.)
    assert verbs == ["SAVEPOINT", "INSERT", "RELEASE"]


def test_many_messages_are_stored_together_each_once(
    brand, other_brand, system, outsider, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    earlier = receive(brand, system, raw=b"Earlier", key="k-old")

    def arrival(target, key, raw):
        return actions.Arrival(brand=target, channel=CHANNEL, raw=raw, dedupe_key=key, source="t")

    arrivals = [
        arrival(brand, "k-new", b"Ana"),
        arrival(brand, "k-old", b"Earlier, again"),
        arrival(other_brand, "k-new", b"Same key, other brand"),
        arrival(brand, "k-new", b"Ana, twice in the batch"),
        arrival(brand, "k-other", b"Bea"),
    ]
    with CaptureQueriesContext(connection) as statements:
        receipts = actions.receive_inbound_many(arrivals=arrivals, actor=system, process=False)
    assert [receipt.created for receipt in receipts] == [True, False, True, False, True]
    assert receipts[1].inbound.pk == earlier.inbound.pk
    assert receipts[3].inbound.pk == receipts[0].inbound.pk
    assert receipts[2].inbound.brand == other_brand
    assert [bytes(receipt.inbound.raw) for receipt in receipts] == [
        b"Ana", b"Earlier", b"Same key, other brand", b"Ana", b"Bea",
    ]  # fmt: skip
    assert InboundMessage.objects.count() == 4
    # One INSERT for all the rows, one SELECT for the ones already there (one brand).
    verbs = [query["sql"].split()[0] for query in statements.captured_queries]
    assert [verb for verb in verbs if verb in ("INSERT", "SELECT")] == ["INSERT", "SELECT"]

    # Queued after commit: the new ones together (huey runs the task inline in tests).
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = actions.receive_inbound_many(
            arrivals=[arrival(brand, "k-a", b"Carla"), arrival(brand, "k-b", b"Dora")], actor=system
        )
    assert len(callbacks) == 1
    for receipt in queued:
        receipt.inbound.refresh_from_db()
        assert receipt.inbound.outcome == InboundOutcome.CREATED

    # An actor of another brand stores nothing for this one.
    with pytest.raises(PermissionDenied):
        actions.receive_inbound_many(
            arrivals=[arrival(other_brand, "k-x", b"ok"), arrival(brand, "k-y", b"not yours")],
            actor=outsider,
            process=False,
        )
    assert not InboundMessage.objects.filter(dedupe_key__in=["k-x", "k-y"]).exists()


def test_processing_runs_every_stage_in_order_and_times_each(brand, system):
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    assert (inbound.status, inbound.outcome) == (InboundStatus.DONE, InboundOutcome.CREATED)
    assert list(inbound.stage_timings) == ["read", "remember_customer", "deliver", "after"]
    assert all(value >= 0 for value in inbound.stage_timings.values())
    assert behaviour["after_ran"]
    assert Customer.objects.get().name == "Ana"


def test_processing_one_message_locks_its_row_not_its_brands(brand, system):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    inbound_id = receive(brand, system).inbound.pk
    with CaptureQueriesContext(connection) as queries:
        actions.process_inbound(inbound_id)
    (read,) = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and 'FROM "pipeline_inboundmessage"' in query["sql"]
    ]
    if connection.vendor == "postgresql":
        assert read.endswith('FOR UPDATE OF "pipeline_inboundmessage"')


def test_a_finished_message_stops_the_chain(brand, system):
    inbound = actions.process_inbound(
        receive(brand, system, raw=b"AUTO reply", key="auto").inbound.pk
    )
    assert inbound.outcome == InboundOutcome.AUTO_REPLY
    assert inbound.notes == "automatic"
    assert list(inbound.stage_timings) == ["read"]
    assert not Customer.objects.exists()


def test_a_failing_stage_leaves_nothing_half_done_and_needs_attention(brand, system):
    behaviour["fail"] = RuntimeError("the database of orders is down")
    before = timezone.now()
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    assert inbound.status == InboundStatus.NEEDS_ATTENTION
    assert inbound.error == "deliver: the database of orders is down"
    assert inbound.attempts == 1
    assert inbound.next_attempt_at is not None
    assert inbound.next_attempt_at >= before + timedelta(seconds=30)
    # The customer made by an earlier stage was rolled back with the failure.
    assert not Customer.objects.exists()


def test_retries_back_off_and_stop_for_an_administrator(brand, system):
    behaviour["fail"] = RuntimeError("still down")
    inbound = receive(brand, system).inbound
    waits = []
    for _attempt in range(len(actions.RETRY_DELAYS) + 1):
        inbound = actions.process_inbound(inbound.pk)
        if inbound.next_attempt_at is not None:
            waits.append(inbound.next_attempt_at - timezone.now())
    assert waits == sorted(waits)
    assert inbound.attempts == len(actions.RETRY_DELAYS) + 1
    assert inbound.next_attempt_at is None
    assert inbound.status == InboundStatus.NEEDS_ATTENTION


def test_invalid_input_is_rejected_at_once_with_the_reason(brand, system):
    behaviour["fail"] = ValidationError("The message is 40 MB; at most 25 MB are accepted.")
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    assert (inbound.status, inbound.outcome) == (InboundStatus.DONE, InboundOutcome.REJECTED)
    assert inbound.error == "deliver: The message is 40 MB; at most 25 MB are accepted."
    assert inbound.next_attempt_at is None


def test_a_replayed_message_is_processed_once_the_cause_is_fixed(
    brand, system, brand_admin, django_capture_on_commit_callbacks
):
    behaviour["fail"] = RuntimeError("down")
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    behaviour.clear()
    with django_capture_on_commit_callbacks(execute=True):  # huey runs the task inline in tests
        actions.replay_inbound(inbound=inbound, actor=brand_admin)
    inbound.refresh_from_db()
    assert (inbound.status, inbound.outcome) == (InboundStatus.DONE, InboundOutcome.CREATED)
    assert Customer.objects.count() == 1


def test_processing_a_done_message_again_changes_nothing(brand, system):
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    again = actions.process_inbound(inbound.pk)
    assert again.processed_at == inbound.processed_at
    assert Customer.objects.count() == 1


def test_the_sweeper_picks_up_lost_and_due_messages(brand, system):
    from atiende.core.actions import action

    lost = receive(brand, system, key="lost").inbound

    @action
    def age(pk: int) -> None:
        InboundMessage.objects.filter(pk=pk).update(
            received_at=timezone.now() - timedelta(minutes=5)
        )

    age(lost.pk)
    fresh = receive(brand, system, raw=b"Berta", key="fresh").inbound
    assert actions.process_due_inbound() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == InboundStatus.DONE
    assert fresh.status == InboundStatus.RECEIVED


def test_stage_latency_is_summarised_per_stage(brand, system, brand_admin, outsider_admin):
    for index in range(5):
        actions.process_inbound(
            receive(brand, system, raw=f"C{index}".encode(), key=f"k{index}").inbound.pk
        )
    latencies = {latency.stage: latency for latency in stage_latency_for(brand_admin)}
    assert set(latencies) == {"read", "remember_customer", "deliver", "after"}
    assert all(latency.runs == 5 and sum(latency.histogram) == 5 for latency in latencies.values())
    assert stage_latency_for(outsider_admin) == []


def test_admins_see_the_latency_page_and_their_brands_messages_only(
    client, brand, system, brand_admin, outsider_admin
):
    actions.process_inbound(receive(brand, system).inbound.pk)
    client.login(username=brand_admin.email, password=PASSWORD)
    page = client.get(reverse("admin:pipeline_inboundmessage_latency"))
    assert page.status_code == 200
    assert b"remember_customer" in page.content
    assert (
        client.get(reverse("admin:pipeline_inboundmessage_changelist")).context["cl"].result_count
        == 1
    )
    client.logout()
    client.login(username=outsider_admin.email, password=PASSWORD)
    assert (
        client.get(reverse("admin:pipeline_inboundmessage_changelist")).context["cl"].result_count
        == 0
    )


def test_admin_replay_action_queues_failed_messages(
    client, brand, system, brand_admin, django_capture_on_commit_callbacks
):
    behaviour["fail"] = RuntimeError("down")
    inbound = actions.process_inbound(receive(brand, system).inbound.pk)
    behaviour.clear()
    client.login(username=brand_admin.email, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:pipeline_inboundmessage_changelist"),
            {"action": "replay", "_selected_action": [inbound.pk]},
        )
    assert response.status_code == 302
    inbound.refresh_from_db()
    assert inbound.outcome == InboundOutcome.CREATED


def test_service_chain_admin_refuses_a_broken_order(client, brand, brand_admin):
    client.login(username=brand_admin.email, password=PASSWORD)
    response = client.post(
        reverse("admin:pipeline_servicechain_add"),
        {
            "brand": brand.pk,
            "channel": CHANNEL,
            "stages": "deliver\nread",
            "acknowledgement_text": "",
        },
    )
    assert response.status_code == 200
    assert b"which no earlier stage provides" in response.content
    assert not ServiceChain.objects.exists()
