"""End to end with a real worker process: a first response due in two business minutes is warned
and breached at its instants (within 2 s), and a reply before the deadline cancels both (SL4).

The conversations are created here; their checks are scheduled (huey eta) into the embedded task
queue of a temporary data folder, which a real ``atiende worker`` consumes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage

from atiende.conversations.actions import reply_to_conversation, start_conversation
from atiende.core.testing import child_environment
from atiende.sla.actions import save_calendar, save_policy
from atiende.sla.calendar import WEEKDAYS
from atiende.sla.models import PolicyScope, SlaEvent, SlaTimer
from atiende.sla.testing import scheduled_checks_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PRECISION = timedelta(seconds=2)


@pytest.fixture
def real_queue(tmp_path: Path) -> Any:
    """Tasks go to the embedded queue of ``tmp_path`` (what the worker reads), not run inline."""
    saved = HUEY.storage, HUEY._immediate
    HUEY.storage = SqliteStorage(HUEY.name, filename=str(tmp_path / "tasks.sqlite3"))
    HUEY._immediate = False
    try:
        yield tmp_path
    finally:
        HUEY.storage, HUEY._immediate = saved


def test_warnings_and_breaches_fire_at_their_instant_and_a_reply_cancels_them(
    brand: Any, customer: Any, agent: Any, system: Any, real_queue: Path
) -> None:
    always_open = save_calendar(
        brand=brand, actor=system, name="Siempre", time_zone="Europe/Madrid",
        weekly={day: [["00:00", "24:00"]] for day in WEEKDAYS},
    )  # fmt: skip
    save_policy(
        brand=brand, actor=system, name="Rápido", scope=PolicyScope.BRAND, calendar=always_open,
        warning_percent=95, targets=[{"metric": "first_response", "priority": "", "minutes": 2}],
    )  # fmt: skip
    # Started 110 s ago: the warning (95 % of 2 min) is due in 4 s, the deadline in 10 s.
    started = timezone.now() - timedelta(seconds=110)
    late, answered = (
        start_conversation(
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            subject=subject,
            body_text="Hola",
            created_at=started,
        )
        for subject in ("Sin respuesta", "Respondida")
    )
    late_timer = SlaTimer.objects.get(conversation=late, metric="first_response")
    assert late_timer.warned_at is None
    assert len(scheduled_checks_of(late_timer.pk)) == 2

    log_path = real_queue / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "atiende", "worker", "--no-periodic", "--threads", "2"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_environment(real_queue),
        )
        try:
            reply_to_conversation(conversation=answered, actor=agent, body_text="Ya lo miro")
            deadline = time.monotonic() + 30
            while not SlaEvent.objects.filter(timer=late_timer, type="sla.breached").exists():
                assert worker.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            time.sleep(1)  # anything the answered conversation would (wrongly) get
        finally:
            worker.terminate()
            worker.wait(timeout=20)

    late_timer.refresh_from_db()
    warning = SlaEvent.objects.get(timer=late_timer, type="sla.warning")
    breach = SlaEvent.objects.get(timer=late_timer, type="sla.breached")
    assert late_timer.warn_at is not None
    assert late_timer.due_at is not None
    assert timedelta(0) <= warning.created_at - late_timer.warn_at <= PRECISION
    assert timedelta(0) <= breach.created_at - late_timer.due_at <= PRECISION
    assert late_timer.breached_at == late_timer.due_at
    assert not SlaEvent.objects.filter(conversation=answered).exists()
    assert SlaTimer.objects.get(conversation=answered, metric="first_response").state == "met"
