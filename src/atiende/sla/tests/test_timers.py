"""SLA timers follow the conversation's facts: started, paused, met, warned and breached once,
escalated as the policy says, recomputed when the policy changes (SL2, SL4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from atiende.conversations.actions import (
    change_priority,
    change_status,
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.sla.actions import check_timer, save_calendar, save_policy, sweep_due_timers
from atiende.sla.models import PolicyScope, SlaEvent, SlaTimer, TimerState
from atiende.sla.testing import scheduled_checks_of
from atiende.sla.timers import Cycle, derive_cycles

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_cycles_follow_messages_and_statuses():
    messages = [
        ("inbound", "customer", at(0)),
        ("outbound", "system", at(1)),  # an automatic acknowledgement is not a response
        ("outbound", "agent", at(30)),
        ("inbound", "customer", at(40)),
        ("inbound", "customer", at(45)),  # still the same wait
        ("outbound", "agent", at(50)),
        ("inbound", "customer", at(200)),
    ]
    statuses = [(at(0), "new"), (at(30), "open"), (at(60), "solved"), (at(200), "open")]
    cycles = derive_cycles(at(0), messages, statuses)
    assert cycles == [
        Cycle("first_response", 0, at(0), met_at=at(30)),
        Cycle("next_response", 0, at(40), met_at=at(50)),
        Cycle("next_response", 1, at(200)),
        Cycle("resolution", 0, at(0), met_at=at(60)),
        Cycle("resolution", 1, at(200)),
    ]


def test_solving_before_any_reply_stops_the_first_response():
    statuses = [(at(0), "new"), (at(5), "solved")]
    cycles = derive_cycles(at(0), [("inbound", "customer", at(0))], statuses)
    assert cycles[0] == Cycle("first_response", 0, at(0), stopped_at=at(5))


@pytest.fixture
def around_the_clock(brand, system):
    return save_policy(
        brand=brand, actor=system, name="24x7", scope=PolicyScope.BRAND,
        targets=[
            {"metric": "first_response", "priority": "", "minutes": 60},
            {"metric": "first_response", "priority": "urgent", "minutes": 15},
            {"metric": "next_response", "priority": "", "minutes": 120},
            {"metric": "resolution", "priority": "", "minutes": 24 * 60},
        ],
    )  # fmt: skip


def checks_at(timer):
    """When the checks queued for ``timer`` run (the queue keeps naive UTC times)."""
    return [task.eta.replace(tzinfo=UTC) for task in scheduled_checks_of(timer.pk)]


def timer(conversation, metric, cycle=0):
    return SlaTimer.objects.get(conversation=conversation, metric=metric, cycle=cycle)


def test_a_new_conversation_runs_its_clocks_and_a_reply_meets_the_first(
    brand, customer, system, agent, around_the_clock
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    first = timer(conversation, "first_response")
    assert first.state == TimerState.RUNNING
    assert first.due_at == conversation.created_at + timedelta(minutes=60)
    assert first.warn_at == conversation.created_at + timedelta(minutes=45)
    assert first.explanation == "First response 1 h from “24x7” (corporate)"
    assert timer(conversation, "resolution").due_at == conversation.created_at + timedelta(hours=24)
    reply_to_conversation(conversation=conversation, actor=agent, body_text="Lo miramos")
    first.refresh_from_db()
    assert first.state == TimerState.MET
    assert first.breached_at is None
    receive_customer_message(
        conversation=conversation, actor=system, channel="email", body_text="¿Y?"
    )
    waiting = timer(conversation, "next_response")
    assert waiting.state == TimerState.RUNNING
    assert waiting.target_minutes == 120


def test_pending_pauses_and_priority_moves_the_deadline(
    brand, customer, system, agent, around_the_clock
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    change_status(conversation=conversation, status="pending", actor=agent)
    assert timer(conversation, "resolution").state == TimerState.PAUSED
    assert timer(conversation, "resolution").due_at is None
    change_status(conversation=conversation, status="open", actor=agent)
    resolution = timer(conversation, "resolution")
    assert resolution.state == TimerState.RUNNING
    assert resolution.due_at > conversation.created_at + timedelta(hours=24)  # the pause added back
    change_priority(conversation=conversation, priority="urgent", actor=agent)
    first = timer(conversation, "first_response")
    assert first.target_minutes == 15
    # Fifteen minutes from the start, plus the moment it spent pending.
    assert (
        timedelta(minutes=15)
        < first.due_at - conversation.created_at
        < timedelta(minutes=15, seconds=5)
    )


def test_a_late_conversation_is_breached_once_and_escalated_once_after_commit(
    brand, customer, system, team, around_the_clock, django_capture_on_commit_callbacks
):
    save_policy(
        brand=brand,
        actor=system,
        policy=around_the_clock,
        breach_raises_priority=True,
        breach_team=team,
    )
    created = timezone.now() - timedelta(minutes=90)
    with django_capture_on_commit_callbacks(execute=True):
        conversation = start_conversation(
            brand=brand, customer=customer, channel="email", actor=system, subject="x",
            body_text="hola", created_at=created,
        )  # fmt: skip
    first = timer(conversation, "first_response")
    assert first.breached_at == created + timedelta(minutes=60)
    assert first.warned_at == created + timedelta(minutes=45)
    # The escalation ran after the commit (a task): one priority step up, handed to the team.
    conversation.refresh_from_db()
    assert conversation.priority == "high"
    assert conversation.team == team
    # Checks, sweeps and escalations that come again change nothing.
    from atiende.sla.actions import escalate_breach

    with django_capture_on_commit_callbacks(execute=True):
        check_timer(first.pk)
        sweep_due_timers()
        escalate_breach(first.pk)
    conversation.refresh_from_db()
    assert conversation.priority == "high"
    events = SlaEvent.objects.filter(timer=first)
    assert sorted(events.values_list("type", flat=True)) == [
        "sla.breached",
        "sla.escalated",
        "sla.warning",
    ]


def test_timers_roll_back_with_the_change_that_caused_them(
    brand, customer, system, around_the_clock
):
    from django.db import transaction

    class Abandoned(Exception):
        pass

    try:
        with transaction.atomic():
            start_conversation(
                brand=brand, customer=customer, channel="email", actor=system, subject="x",
                body_text="hola", created_at=timezone.now() - timedelta(minutes=90),
            )  # fmt: skip
            assert SlaEvent.objects.exists()
            raise Abandoned
    except Abandoned:
        pass
    assert not SlaTimer.objects.exists()
    assert not SlaEvent.objects.exists()


def test_a_reply_before_the_deadline_means_no_breach_ever(
    brand, customer, system, agent, around_the_clock
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    reply_to_conversation(conversation=conversation, actor=agent, body_text="Hola")
    first = timer(conversation, "first_response")
    check_timer(first.pk)
    first.refresh_from_db()
    assert first.state == TimerState.MET
    assert first.breached_at is None
    assert not SlaEvent.objects.filter(timer=first).exists()


def test_business_hours_set_the_deadline(brand, customer, system):
    office = save_calendar(
        brand=brand, actor=system, name="Oficina", time_zone="Europe/Madrid",
        weekly={day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    )  # fmt: skip
    save_policy(
        brand=brand, actor=system, name="Oficina", scope=PolicyScope.BRAND, calendar=office,
        targets=[{"metric": "first_response", "priority": "", "minutes": 120}],
    )  # fmt: skip
    friday_evening = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 18:00 in Madrid: closed
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola",
        created_at=friday_evening,
    )  # fmt: skip
    # Opens Monday 09:00 Madrid (08:00 UTC): two business hours later.
    assert timer(conversation, "first_response").due_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_a_policy_change_recomputes_open_conversations(
    brand, customer, system, around_the_clock, django_capture_on_commit_callbacks
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    with django_capture_on_commit_callbacks(execute=True):
        save_policy(
            brand=brand, actor=system, policy=around_the_clock,
            targets=[{"metric": "first_response", "priority": "", "minutes": 30}],
        )  # fmt: skip
    first = timer(conversation, "first_response")
    assert first.due_at == conversation.created_at + timedelta(minutes=30)
    # Resolution has no target any more: its clock stops.
    assert timer(conversation, "resolution").state == TimerState.STOPPED


def test_checks_are_scheduled_for_the_warning_and_the_deadline_and_replaced(
    brand, customer, system, agent, around_the_clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        conversation = start_conversation(
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            subject="x",
            body_text="hola",
        )
    first = timer(conversation, "first_response")
    assert checks_at(first) == [first.warn_at, first.due_at]
    with django_capture_on_commit_callbacks(execute=True):
        change_priority(conversation=conversation, priority="urgent", actor=agent)
    first.refresh_from_db()
    assert first.due_at == conversation.created_at + timedelta(minutes=15)
    # The new instants have their checks; the old ones stay queued and will find nothing due.
    etas = checks_at(first)
    assert first.warn_at in etas
    assert first.due_at in etas
    assert len(etas) == 4


def test_no_policy_no_timers(brand, customer, system):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x", body_text="hola"
    )
    assert not SlaTimer.objects.filter(conversation=conversation).exists()


def test_recomputing_a_brand_reads_its_policies_once(brand, customer, system, around_the_clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from atiende.sla.actions import recompute_brand_timers

    for number in range(4):
        start_conversation(
            brand=brand, customer=customer, channel="email", actor=system, subject=f"x{number}",
            body_text="hola",
        )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        assert recompute_brand_timers(brand.pk) == 4
    policy_reads = [query for query in queries if 'FROM "sla_policy"' in query["sql"]]
    assert len(policy_reads) == 1
