"""The checks of the warnings and deadlines that fall within the same second are one task, run at
the latest of them; a check that comes before its timer is due, or after it moved, reads and does
nothing."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from atiende.conversations.actions import start_conversation
from atiende.sla.actions import check_due_timers
from atiende.sla.models import SlaTimer
from atiende.sla.tasks import schedule_checks_of
from atiende.sla.testing import around_the_clock_policy, scheduled_checks_of


@pytest.fixture
def first_response_in_an_hour(brand, system):
    return around_the_clock_policy(brand, system, first_response=60)


def first_response_timer(brand, customer, system, **kwargs):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="x",
        body_text="hola", **kwargs,
    )  # fmt: skip
    return SlaTimer.objects.get(conversation=conversation, metric="first_response")


def test_timers_due_within_the_same_second_share_one_check(
    brand, customer, system, first_response_in_an_hour
):
    timers = [first_response_timer(brand, customer, system) for _ in range(4)]
    second = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    for each, offset in zip(timers, (0.1, 0.5, 0.9, 1.2), strict=True):
        SlaTimer.objects.filter(pk=each.pk).update(
            warn_at=None, due_at=second + timedelta(seconds=offset)
        )
    schedule_checks_of([each.pk for each in timers])
    # (The checks scheduled when the conversations started, an hour from now, stay queued.)
    checks = [
        [task for task in scheduled_checks_of(each.pk) if task.eta.replace(tzinfo=UTC) >= second]
        for each in timers
    ]
    assert [len(tasks) for tasks in checks] == [1, 1, 1, 1]
    shared, last = checks[0][0], checks[3][0]
    assert checks[1][0].id == checks[2][0].id == shared.id != last.id
    # At the latest of the three deadlines, never before any of them.
    assert shared.eta.replace(tzinfo=UTC) == second + timedelta(seconds=0.9)
    assert shared.args == ([each.pk for each in timers[:3]],)
    assert last.eta.replace(tzinfo=UTC) == second + timedelta(seconds=1.2)


def test_a_check_before_its_timer_is_due_reads_and_changes_nothing(
    brand, customer, system, first_response_in_an_hour
):
    timer = first_response_timer(brand, customer, system)
    with CaptureQueriesContext(connection) as queries:
        assert check_due_timers([timer.pk]) == 0
    assert queries.captured_queries
    assert all(query["sql"].startswith("SELECT") for query in queries.captured_queries)
    assert SlaTimer.objects.get(pk=timer.pk).breached_at is None


def test_a_due_timer_not_yet_checked_is_checked(brand, customer, system, first_response_in_an_hour):
    created = timezone.now() - timedelta(minutes=90)
    timer = first_response_timer(brand, customer, system, created_at=created)
    # As if the breach had not been recorded when the conversation was written.
    SlaTimer.objects.filter(pk=timer.pk).update(breached_at=None)
    assert check_due_timers([timer.pk]) == 1
    assert SlaTimer.objects.get(pk=timer.pk).breached_at == created + timedelta(minutes=60)
