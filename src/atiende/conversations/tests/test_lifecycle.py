"""Every allowed and every forbidden status transition, in the rule and through the action."""

import itertools

import pytest

from atiende.conversations import lifecycle
from atiende.conversations.actions import change_status, receive_customer_message
from atiende.conversations.lifecycle import Status
from atiende.conversations.models import Conversation, ConversationStatus

ALLOWED = {
    ("new", "open"), ("new", "pending"), ("new", "on_hold"), ("new", "solved"),
    ("open", "pending"), ("open", "on_hold"), ("open", "solved"),
    ("pending", "open"), ("pending", "on_hold"), ("pending", "solved"),
    ("on_hold", "open"), ("on_hold", "pending"), ("on_hold", "solved"),
    ("solved", "open"), ("solved", "closed"),
}  # fmt: skip
ALL_PAIRS = list(itertools.product([status.value for status in Status], repeat=2))

# The path from "new" to reach each status through allowed steps.
PATH_TO = {
    "new": [],
    "open": ["open"],
    "pending": ["pending"],
    "on_hold": ["on_hold"],
    "solved": ["solved"],
    "closed": ["solved", "closed"],
}


def test_model_choices_and_lifecycle_statuses_are_the_same_set():
    assert set(ConversationStatus.values) == {status.value for status in Status}


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_transition_rule(current, target):
    assert lifecycle.can_transition(current, target) == ((current, target) in ALLOWED)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_change_status_action_enforces_the_rule(conversation, agent, current, target):
    for step in PATH_TO[current]:
        conversation = change_status(conversation=conversation, status=step, actor=agent)
    events_before = conversation.events.count()
    if (current, target) in ALLOWED:
        changed = change_status(conversation=conversation, status=target, actor=agent)
        assert Conversation.objects.get(pk=conversation.pk).status == target == changed.status
        assert conversation.events.count() == events_before + 1
    else:
        with pytest.raises(lifecycle.TransitionNotAllowed):
            change_status(conversation=conversation, status=target, actor=agent)
        assert Conversation.objects.get(pk=conversation.pk).status == current
        assert conversation.events.count() == events_before


def test_solving_records_the_time_and_reopening_clears_it(conversation, agent):
    solved = change_status(conversation=conversation, status="solved", actor=agent)
    assert solved.solved_at is not None
    reopened = change_status(conversation=conversation, status="open", actor=agent)
    assert reopened.solved_at is None


def test_customer_reply_reopens_solved_conversation(conversation, agent, system):
    change_status(conversation=conversation, status="solved", actor=agent)
    message = receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Sigue sin llegar"
    )
    conversation.refresh_from_db()
    assert message.conversation_id == conversation.pk
    assert conversation.status == "open"
    assert conversation.solved_at is None
    event = conversation.events.last()
    assert event.type == "message.received"
    assert event.payload["changes"] == {"status": ["solved", "open"]}


@pytest.mark.parametrize("waiting", ["pending", "on_hold"])
def test_customer_reply_to_a_waiting_conversation_puts_it_back_in_front_of_an_agent(
    conversation, agent, system, waiting
):
    change_status(conversation=conversation, status=waiting, actor=agent)
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Aquí tienen los datos"
    )
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_customer_reply_leaves_new_and_open_as_they_are(conversation, agent, system):
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="¿Hola?"
    )
    conversation.refresh_from_db()
    assert conversation.status == "new"


def test_message_to_closed_conversation_starts_linked_follow_up(conversation, agent, system):
    change_status(conversation=conversation, status="solved", actor=agent)
    change_status(conversation=conversation, status="closed", actor=agent)
    message = receive_customer_message(
        conversation=conversation, channel="chat", actor=system, body_text="Otra cosa"
    )
    conversation.refresh_from_db()
    follow_up = message.conversation
    assert conversation.status == "closed"
    assert follow_up.pk != conversation.pk
    assert follow_up.follow_up_of_id == conversation.pk
    assert follow_up.status == "new"
    assert follow_up.customer_id == conversation.customer_id
    assert follow_up.subject == conversation.subject
    assert follow_up.number == conversation.number + 1
    assert follow_up.events.get().payload["follow_up_of"] == conversation.pk
    assert conversation.messages.count() == 1


def test_agent_reply_moves_a_new_conversation_to_open_but_keeps_a_chosen_status():
    assert lifecycle.status_after_agent_reply("new") is Status.OPEN
    assert lifecycle.status_after_agent_reply("new", "pending") is Status.PENDING
    assert lifecycle.status_after_agent_reply("pending") is Status.PENDING
    with pytest.raises(lifecycle.TransitionNotAllowed):
        lifecycle.status_after_agent_reply("closed")
    with pytest.raises(lifecycle.TransitionNotAllowed):
        lifecycle.status_after_agent_reply("open", "closed")
