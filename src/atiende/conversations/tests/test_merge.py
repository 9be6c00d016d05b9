"""Merging and splitting conversations (CV5): messages move, nothing is lost, a merge undoes exactly."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from atiende.conversations import actions
from atiende.conversations.actions import MergeNotAllowed
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import Attachment, Conversation, ConversationEvent, Message
from atiende.sla.models import SlaTimer, TimerState
from atiende.sla.testing import around_the_clock_policy

FIELDS = (
    "status",
    "solved_at",
    "closed_at",
    "merged_into_id",
    "last_message_at",
    "last_message_preview",
    "subject",
    "customer_id",
)


def _state(conversation: Conversation) -> dict:
    conversation.refresh_from_db()
    return {
        **{field: getattr(conversation, field) for field in FIELDS},
        "messages": list(
            Message.objects.filter(conversation=conversation)
            .order_by("id")
            .values_list("id", "moved_from_id")
        ),
        "tags": sorted(conversation.tags.values_list("name", flat=True)),
    }


@pytest.fixture
def duplicate(brand, customer, system):
    """The same customer writing again about the same order, by chat."""
    return actions.start_conversation(
        brand=brand,
        customer=customer,
        channel="chat",
        actor=system,
        subject="Pedido 1001",
        body_text="¿Dónde está mi pedido 1001?",
        attachments=[IncomingAttachment("ticket.txt", b"pedido 1001")],
    )


def test_merge_moves_every_message_and_leaves_the_source_as_a_closed_pointer(
    conversation, duplicate, agent
):
    actions.set_conversation_tags(conversation=duplicate, tags=["envios"], actor=agent)
    note = actions.add_internal_note(conversation=duplicate, actor=agent, body_text="Duplicado")
    moved_ids = set(Message.objects.filter(conversation=duplicate).values_list("id", flat=True))

    survivor = actions.merge_conversations(source=duplicate, target=conversation, actor=agent)

    assert survivor == conversation
    assert (
        set(
            Message.objects.filter(conversation=conversation, moved_from=duplicate).values_list(
                "id", flat=True
            )
        )
        == moved_ids
    )
    assert note.pk in moved_ids
    assert not Message.objects.filter(conversation=duplicate).exists()
    attachment = Attachment.objects.get(filename="ticket.txt")
    assert attachment.message.conversation_id == conversation.pk
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into_id) == ("closed", conversation.pk)
    assert duplicate.closed_at is not None
    conversation.refresh_from_db()
    # The chat message was the latest public one; the note is internal and never a preview.
    assert conversation.last_message_preview == "¿Dónde está mi pedido 1001?"
    assert list(conversation.tags.values_list("name", flat=True)) == ["envios"]
    merged = conversation.events.get(type=ConversationEventType.MERGED)
    assert merged.payload["source_number"] == duplicate.number
    assert set(merged.payload["messages"]) == moved_ids
    away = duplicate.events.get(type=ConversationEventType.MERGED_AWAY)
    assert away.payload["status"] == ["new", "closed"]


def test_merge_then_undo_leaves_both_conversations_as_they_were(
    conversation, duplicate, agent, system
):
    actions.reply_to_conversation(conversation=duplicate, actor=agent, body_text="Lo miramos")
    actions.change_status(conversation=duplicate, status="solved", actor=agent)
    actions.set_conversation_tags(conversation=duplicate, tags=["envios", "vip"], actor=agent)
    actions.set_conversation_tags(conversation=conversation, tags=["vip"], actor=agent)
    before = {"target": _state(conversation), "source": _state(duplicate)}

    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    assert _state(conversation) != before["target"]
    restored = actions.undo_merge(source=duplicate, actor=agent)

    assert restored == duplicate
    assert {"target": _state(conversation), "source": _state(duplicate)} == before
    assert before["source"]["status"] == "solved"
    assert [event.type for event in duplicate.events.order_by("id")][-2:] == [
        ConversationEventType.MERGED_AWAY,
        ConversationEventType.MERGE_UNDONE,
    ]
    assert conversation.events.order_by("-id").first().type == ConversationEventType.MERGE_UNDONE


def test_undo_returns_messages_an_earlier_merge_brought_with_their_own_origin(
    conversation, duplicate, brand, customer, agent, system
):
    """A into B, then B into C: undoing B→C, then A→B, brings everything home."""
    third = actions.start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Tercera vez"
    )
    states = {c.pk: _state(c) for c in (conversation, duplicate, third)}
    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    actions.merge_conversations(source=conversation, target=third, actor=agent)
    assert Message.objects.filter(conversation=third).count() == 3

    with pytest.raises(MergeNotAllowed) as refused:
        actions.undo_merge(source=duplicate, actor=agent)
    assert refused.value.code == "target_merged"
    actions.undo_merge(source=conversation, actor=agent)
    actions.undo_merge(source=duplicate, actor=agent)

    assert {c.pk: _state(c) for c in (conversation, duplicate, third)} == states


def test_a_message_split_off_after_a_merge_stays_where_it_went(conversation, duplicate, agent):
    actions.reply_to_conversation(conversation=conversation, actor=agent, body_text="Respuesta")
    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    chat_message = Message.objects.get(channel="chat")
    split_off = actions.split_conversation(
        conversation=conversation, message_ids=[chat_message.pk], actor=agent
    )
    actions.undo_merge(source=duplicate, actor=agent)
    chat_message.refresh_from_db()
    assert chat_message.conversation_id == split_off.pk
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


@pytest.mark.parametrize(
    ("make_pair", "code"),
    [
        (lambda c, d, o: (c, c), "merge_into_itself"),
        (lambda c, d, o: (c, o), "wrong_brand"),
    ],
)
def test_merge_refuses_itself_and_other_brands(
    conversation, duplicate, other_conversation, agent, make_pair, code
):
    source, target = make_pair(conversation, duplicate, other_conversation)
    with pytest.raises(ValidationError) as refused:
        actions.merge_conversations(source=source, target=target, actor=agent)
    assert refused.value.code == code
    assert not ConversationEvent.objects.filter(type__startswith="conversation.merge").exists()


def test_merge_refuses_twice_and_into_a_merged_or_closed_conversation(
    conversation, duplicate, brand, customer, agent, system
):
    third = actions.start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Otra"
    )
    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    with pytest.raises(MergeNotAllowed) as twice:
        actions.merge_conversations(source=duplicate, target=third, actor=agent)
    assert twice.value.code == "already_merged"
    with pytest.raises(MergeNotAllowed) as into_pointer:
        actions.merge_conversations(source=third, target=duplicate, actor=agent)
    assert into_pointer.value.code == "target_merged"
    actions.change_status(conversation=third, status="solved", actor=agent)
    actions.change_status(conversation=third, status="closed", actor=agent)
    with pytest.raises(MergeNotAllowed) as into_closed:
        actions.merge_conversations(source=conversation, target=third, actor=agent)
    assert into_closed.value.code == "target_closed"
    with pytest.raises(MergeNotAllowed) as not_merged:
        actions.undo_merge(source=third, actor=agent)
    assert not_merged.value.code == "not_merged"


def test_client_viewer_and_outsider_cannot_merge_or_split(
    conversation, duplicate, client_viewer, outsider
):
    for person in (client_viewer, outsider):
        with pytest.raises(PermissionDenied):
            actions.merge_conversations(source=duplicate, target=conversation, actor=person)
        with pytest.raises(PermissionDenied):
            actions.split_conversation(
                conversation=conversation,
                message_ids=[conversation.messages.get().pk],
                actor=person,
            )
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


def test_split_starts_a_new_numbered_conversation_with_the_chosen_messages(
    conversation, agent, team, system
):
    actions.assign_conversation(conversation=conversation, actor=agent, assignee=agent, team=team)
    reply = actions.reply_to_conversation(conversation=conversation, actor=agent, body_text="Visto")
    later = actions.receive_customer_message(
        conversation=conversation,
        channel="chat",
        actor=system,
        body_text="Otra cosa: quiero devolver unas zapatillas",
    )
    split_off = actions.split_conversation(
        conversation=conversation, message_ids=[later.pk], actor=agent, subject="Devolución"
    )

    assert split_off.reference == "SOL-2"
    assert (split_off.customer_id, split_off.channel, split_off.subject) == (
        conversation.customer_id,
        "chat",
        "Devolución",
    )
    assert (split_off.assignee_id, split_off.team_id, split_off.status) == (
        agent.pk,
        team.pk,
        "new",
    )
    assert list(split_off.messages.values_list("id", "moved_from_id")) == [
        (later.pk, conversation.pk)
    ]
    assert split_off.last_message_preview == "Otra cosa: quiero devolver unas zapatillas"
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Visto"
    assert conversation.last_message_at == reply.created_at
    created = split_off.events.get()
    assert (created.type, created.payload["split_from"]) == (
        "conversation.created",
        conversation.pk,
    )
    split = conversation.events.order_by("-id").first()
    assert (split.type, split.payload["messages"]) == ("conversation.split", [later.pk])


def test_split_keeps_the_original_subject_unless_another_is_given(conversation, agent):
    reply = actions.reply_to_conversation(conversation=conversation, actor=agent, body_text="Hola")
    split_off = actions.split_conversation(
        conversation=conversation, message_ids=[reply.pk], actor=agent
    )
    assert split_off.subject == conversation.subject
    assert split_off.status == "open"


@pytest.mark.parametrize(
    ("choose", "code"),
    [
        (lambda first, other: [], "no_messages"),
        (lambda first, other: [first.pk, other.pk], "message_not_in_conversation"),
        (lambda first, other: [first.pk], "split_all"),
    ],
)
def test_split_refuses_nothing_everything_and_foreign_messages(
    conversation, other_conversation, agent, superuser, choose, code
):
    first = conversation.messages.get()
    other = other_conversation.messages.get()
    with pytest.raises(ValidationError) as refused:
        actions.split_conversation(
            conversation=conversation, message_ids=choose(first, other), actor=superuser
        )
    assert refused.value.code == code
    assert Conversation.objects.count() == 2


def test_a_merged_away_conversation_cannot_be_split(conversation, duplicate, agent):
    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    with pytest.raises(MergeNotAllowed):
        actions.split_conversation(
            conversation=duplicate, message_ids=[conversation.messages.first().pk], actor=agent
        )


def _running(conversation: Conversation) -> list[str]:
    return sorted(
        SlaTimer.objects.filter(conversation=conversation, state=TimerState.RUNNING).values_list(
            "metric", flat=True
        )
    )


def test_deadlines_follow_the_messages_through_merge_undo_and_split(brand, customer, agent, system):
    around_the_clock_policy(brand, system, first_response=60)
    target = actions.start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Hola"
    )
    actions.reply_to_conversation(conversation=target, actor=agent, body_text="Dígame")
    source = actions.start_conversation(
        brand=brand, customer=customer, channel="chat", actor=system, body_text="¿Y mi pedido?"
    )
    assert (_running(target), _running(source)) == ([], ["first_response"])

    actions.merge_conversations(source=source, target=target, actor=agent)
    source.refresh_from_db()
    assert (_running(source), source.sla_due_at) == ([], None)

    actions.undo_merge(source=source, actor=agent)
    source.refresh_from_db()
    assert _running(source) == ["first_response"]
    assert source.sla_due_at is not None

    greeting = target.messages.order_by("id")[0]
    split_off = actions.split_conversation(
        conversation=target, message_ids=[greeting.pk], actor=agent
    )
    # Its customer message is no longer answered in the conversation it now belongs to.
    assert _running(split_off) == ["first_response"]


def test_a_customer_reply_to_a_merged_conversation_reaches_the_survivor(
    conversation, duplicate, brand, customer, agent, system
):
    third = actions.start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, body_text="Tercera"
    )
    actions.merge_conversations(source=duplicate, target=conversation, actor=agent)
    actions.merge_conversations(source=conversation, target=third, actor=agent)
    message = actions.receive_customer_message(
        conversation=duplicate, channel="chat", actor=system, body_text="¿Alguna novedad?"
    )
    assert message.conversation_id == third.pk
    assert Conversation.objects.count() == 3  # no follow-up of the closed pointer
