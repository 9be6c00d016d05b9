"""Conversation.sla_due_at, which the inbox sorts by, follows the SLA timers in every change."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from atiende.conversations.actions import change_status, reply_to_conversation, start_conversation
from atiende.conversations.models import Conversation
from atiende.inbox.filters import InboxFilter
from atiende.inbox.queries import inbox_page
from atiende.inbox.tests.helpers import set_fields
from atiende.sla.actions import save_policy
from atiende.sla.models import PolicyScope, SlaTimer, TimerState

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(brand, system):
    return save_policy(
        brand=brand, actor=system, name="24x7", scope=PolicyScope.BRAND, pause_when_pending=True,
        targets=[
            {"metric": "first_response", "priority": "", "minutes": 60},
            {"metric": "next_response", "priority": "", "minutes": 120},
            {"metric": "resolution", "priority": "", "minutes": 24 * 60},
        ],
    )  # fmt: skip


def _due(conversation):
    return Conversation.objects.values_list("sla_due_at", flat=True).get(pk=conversation.pk)


def _earliest_running(conversation):
    running = SlaTimer.objects.filter(conversation=conversation, state=TimerState.RUNNING)
    return min((due for due in running.values_list("due_at", flat=True) if due), default=None)


def test_the_earliest_running_deadline_is_kept_on_the_conversation(
    brand, customer, system, agent, policy
):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="hola"
    )
    assert _due(conversation) == conversation.created_at + timedelta(minutes=60)
    assert _due(conversation) == _earliest_running(conversation)

    # Answered: the first response is met; resolution is what is due now.
    reply_to_conversation(conversation=conversation, actor=agent, body_text="Lo miro")
    assert _due(conversation) == conversation.created_at + timedelta(hours=24)

    # Waiting on the customer pauses every clock: nothing is due.
    change_status(conversation=conversation, status="pending", actor=agent)
    assert _due(conversation) is None
    change_status(conversation=conversation, status="open", actor=agent)
    assert _due(conversation) == _earliest_running(conversation) is not None

    change_status(conversation=conversation, status="solved", actor=agent)
    assert _due(conversation) is None


def test_the_inbox_sorts_by_the_kept_deadline(brand, customer, system, agent, policy):
    older = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        body_text="antes",
        created_at=timezone.now() - timedelta(minutes=30),
    )
    newer = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="después"
    )
    page = inbox_page(agent, "all", InboxFilter())
    assert [row.conversation.pk for row in page.rows] == [older.pk, newer.pk]
    reply_to_conversation(conversation=older, actor=agent, body_text="Respondido")
    page = inbox_page(agent, "all", InboxFilter())
    assert [row.conversation.pk for row in page.rows] == [newer.pk, older.pk]


def test_the_data_migration_fills_existing_conversations(brand, customer, system, policy):
    conversation = start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="hola"
    )
    expected = _due(conversation)
    set_fields([conversation], sla_due_at=None)
    migration = importlib.import_module("atiende.conversations.migrations.0005_fill_sla_due_at")
    state = MigrationExecutor(connection).loader.project_state(
        ("conversations", "0005_fill_sla_due_at")
    )
    migration.fill_sla_due_at(state.apps, None)
    assert _due(conversation) == expected is not None
    migration.forget_sla_due_at(state.apps, None)
    assert _due(conversation) is None
