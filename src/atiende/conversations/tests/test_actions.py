"""Every conversation action writes exactly one event; nothing writes conversations outside actions."""

import hashlib
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from atiende.conversations import actions
from atiende.conversations.actions import ImportedConversation, ImportedMessage
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.models import (
    Attachment,
    Category,
    Conversation,
    ConversationEvent,
    ConversationTag,
    Message,
    Tag,
)
from atiende.core.actions import WriteOutsideAction
from atiende.core.events import AppendOnlyViolation


def _run_start(ctx):
    return actions.start_conversation(
        brand=ctx["brand"],
        customer=ctx["customer"],
        channel="phone",
        actor=ctx["agent"],
        body_text="Llamada: no tiene señal",
    )


def _run_import(ctx):
    now = timezone.now()
    return actions.import_conversations(
        brand=ctx["brand"],
        actor=ctx["system"],
        conversations=[
            ImportedConversation(
                customer=ctx["customer"],
                channel="email",
                subject="Histórico",
                status="closed",
                tags=["historico"],
                messages=[
                    ImportedMessage(
                        direction="inbound",
                        channel="email",
                        created_at=now - timedelta(days=3),
                        body_text="Hola",
                    ),
                    ImportedMessage(
                        direction="outbound",
                        channel="email",
                        created_at=now - timedelta(days=2),
                        body_text="Resuelto",
                        author_user=ctx["agent"],
                    ),
                ],
            )
        ],
    )


ACTION_RUNS = {
    "start_conversation": _run_start,
    "start_conversation_with_message": lambda ctx: actions.start_conversation_with_message(
        brand=ctx["brand"],
        customer=ctx["customer"],
        channel="phone",
        actor=ctx["agent"],
        body_text="Llamada: sigue sin señal",
    ),
    "receive_customer_message": lambda ctx: actions.receive_customer_message(
        conversation=ctx["conversation"],
        channel="email",
        actor=ctx["system"],
        body_text="Más datos",
    ),
    "reply_to_conversation": lambda ctx: actions.reply_to_conversation(
        conversation=ctx["conversation"], actor=ctx["agent"], body_text="Lo revisamos ahora mismo."
    ),
    "add_internal_note": lambda ctx: actions.add_internal_note(
        conversation=ctx["conversation"], actor=ctx["agent"], body_text="Llamar al transportista"
    ),
    "change_status": lambda ctx: actions.change_status(
        conversation=ctx["conversation"], status="pending", actor=ctx["agent"]
    ),
    "change_priority": lambda ctx: actions.change_priority(
        conversation=ctx["conversation"], priority="high", actor=ctx["agent"]
    ),
    "assign_conversation": lambda ctx: actions.assign_conversation(
        conversation=ctx["conversation"],
        assignee=ctx["agent"],
        team=ctx["team"],
        actor=ctx["agent"],
    ),
    "categorize_conversation": lambda ctx: actions.categorize_conversation(
        conversation=ctx["conversation"],
        category=Category.objects.create(brand=ctx["brand"], name="Envíos"),
        actor=ctx["agent"],
    ),
    "set_conversation_tags": lambda ctx: actions.set_conversation_tags(
        conversation=ctx["conversation"], tags=["retraso", "VIP"], actor=ctx["agent"]
    ),
    "import_conversations": _run_import,
    "record_delivery": lambda ctx: actions.record_delivery(
        message=ctx["reply"],
        state="sent",
        detail="250 2.0.0 Ok: queued",
        actor=ctx["system"],
    ),
    "merge_conversations": lambda ctx: actions.merge_conversations(
        source=ctx["second"], target=ctx["conversation"], actor=ctx["agent"]
    ),
    "undo_merge": lambda ctx: actions.undo_merge(source=ctx["second"], actor=ctx["agent"]),
    "split_conversation": lambda ctx: actions.split_conversation(
        conversation=ctx["conversation"], message_ids=[ctx["reply"].pk], actor=ctx["agent"]
    ),
}


def _second_conversation(ctx):
    ctx["second"] = actions.start_conversation(
        brand=ctx["brand"],
        customer=ctx["customer"],
        channel="chat",
        actor=ctx["system"],
        body_text="Otra consulta del mismo pedido",
    )


def _merged_second_conversation(ctx):
    _second_conversation(ctx)
    actions.merge_conversations(
        source=ctx["second"], target=ctx["conversation"], actor=ctx["agent"]
    )


# What an action needs beyond ctx, prepared before its events are counted.
SETUPS = {
    "merge_conversations": _second_conversation,
    "undo_merge": _merged_second_conversation,
}
# Actions that change two conversations write one event on each.
CONVERSATIONS_CHANGED = {"merge_conversations": 2, "undo_merge": 2, "split_conversation": 2}


def test_every_conversation_action_is_covered_here():
    declared = {name for name, value in vars(actions).items() if getattr(value, "is_action", False)}
    assert declared == set(ACTION_RUNS)


@pytest.fixture
def ctx(brand, customer, conversation, agent, team, system):
    reply = actions.reply_to_conversation(conversation=conversation, actor=agent, body_text="Hola")
    return {
        "brand": brand,
        "customer": customer,
        "conversation": conversation,
        "agent": agent,
        "team": team,
        "system": system,
        "reply": reply,
    }


def _events_per_conversation():
    return Counter(ConversationEvent.objects.values_list("conversation_id", flat=True))


@pytest.mark.parametrize("name", sorted(ACTION_RUNS))
def test_every_action_writes_exactly_one_event_per_conversation_it_changes(ctx, name):
    if name in SETUPS:
        SETUPS[name](ctx)
    before = _events_per_conversation()
    ACTION_RUNS[name](ctx)
    written = _events_per_conversation() - before
    assert set(written.values()) == {1}
    assert len(written) == CONVERSATIONS_CHANGED.get(name, 1)


def test_events_name_the_acting_person_or_the_system(ctx):
    actions.reply_to_conversation(
        conversation=ctx["conversation"], actor=ctx["agent"], body_text="Hola"
    )
    actions.receive_customer_message(
        conversation=ctx["conversation"], channel="email", actor=ctx["system"], body_text="Gracias"
    )
    reply, received = ConversationEvent.objects.order_by("-id")[:2][::-1]
    assert (reply.actor, reply.actor_label) == (ctx["agent"], "")
    assert (received.actor, received.actor_label) == (None, "tests")


def test_conversation_save_outside_an_action_is_refused(conversation):
    conversation.subject = "cambiado a escondidas"
    with pytest.raises(WriteOutsideAction):
        conversation.save()
    with pytest.raises(WriteOutsideAction):
        Conversation.objects.filter(pk=conversation.pk).update(status="solved")
    with pytest.raises(WriteOutsideAction):
        Message.objects.filter(conversation=conversation).delete()
    with pytest.raises(WriteOutsideAction):
        conversation.delete()
    conversation.refresh_from_db()
    assert conversation.status == "new"
    assert conversation.subject == "Mi pedido no ha llegado"


def test_tags_cannot_be_attached_outside_an_action(conversation, brand):
    tag = Tag.objects.create(brand=brand, name="escondida")
    with pytest.raises(WriteOutsideAction):
        conversation.tags.add(tag)
    with pytest.raises(WriteOutsideAction):
        ConversationTag.objects.create(conversation=conversation, tag=tag)


def test_events_are_append_only(conversation):
    event = conversation.events.get()
    event.type = "forged"
    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    with pytest.raises(AppendOnlyViolation):
        ConversationEvent.objects.filter(pk=event.pk).update(type="forged")
    with pytest.raises(AppendOnlyViolation):
        ConversationEvent.objects.all().delete()
    with pytest.raises(WriteOutsideAction):
        ConversationEvent.objects.create(
            brand=conversation.brand, conversation=conversation, type="forged"
        )


def test_conversation_numbers_are_per_brand_and_sequential(ctx, other_conversation):
    second = _run_start(ctx)
    assert [ctx["conversation"].reference, second.reference, other_conversation.reference] == [
        "SOL-1",
        "SOL-2",
        "TEL-1",
    ]


def test_an_action_that_fails_half_way_leaves_nothing_behind(ctx):
    # The attachment check runs after the conversation row is created: the whole action rolls back.
    too_big = IncomingAttachment("grande.bin", b"x" * 10)
    conversations_before = Conversation.objects.count()
    from django.test import override_settings

    with override_settings(ATIENDE_MAX_ATTACHMENT_BYTES=5), pytest.raises(ValidationError):
        actions.start_conversation(
            brand=ctx["brand"],
            customer=ctx["customer"],
            channel="email",
            actor=ctx["agent"],
            body_text="x",
            attachments=[too_big],
        )
    assert Conversation.objects.count() == conversations_before


def test_attachment_over_the_size_limit_is_a_clear_error_and_nothing_is_written(ctx, settings):
    settings.ATIENDE_MAX_ATTACHMENT_BYTES = 1024
    messages_before = Message.objects.count()
    events_before = ctx["conversation"].events.count()
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        actions.receive_customer_message(
            conversation=ctx["conversation"],
            channel="email",
            actor=ctx["system"],
            body_text="Adjunto la factura",
            attachments=[
                IncomingAttachment("factura.pdf", b"%PDF-1.4" + b"0" * 2048, "application/pdf")
            ],
        )
    assert raised.value.code == "attachment_too_large"
    assert "factura.pdf" in raised.value.messages[0]
    assert (
        raised.value.messages[0]
        == "factura.pdf is 2.0\xa0KB; attachments may be at most 1.0\xa0KB."
    )
    assert Message.objects.count() == messages_before
    assert not Attachment.objects.exists()
    assert ctx["conversation"].events.count() == events_before


def test_attachments_are_stored_named_safely_and_typed_by_their_bytes(ctx):
    message = actions.receive_customer_message(
        conversation=ctx["conversation"],
        channel="email",
        actor=ctx["system"],
        attachments=[
            IncomingAttachment("../../etc/passwd", b"root:x:0:0", "application/octet-stream"),
            IncomingAttachment("foto.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/pdf"),
            IncomingAttachment("notas.txt", "café y señal".encode(), "text/plain"),
        ],
    )
    stored = list(message.attachments.order_by("id"))
    assert [a.filename for a in stored] == ["passwd", "foto.pdf", "notas.txt"]
    assert [a.content_type for a in stored] == ["text/plain", "image/png", "text/plain"]
    assert stored[1].declared_content_type == "application/pdf"
    assert stored[2].file.read() == "café y señal".encode()
    assert ctx["conversation"].brand_id == stored[0].brand_id
    ctx["conversation"].refresh_from_db()
    assert ctx["conversation"].last_message_preview == "passwd"


def test_an_empty_message_is_refused(ctx):
    with pytest.raises(ValidationError, match="needs some text"):
        actions.reply_to_conversation(
            conversation=ctx["conversation"], actor=ctx["agent"], body_text="   "
        )


def test_an_empty_first_message_is_refused_before_anything_is_written(ctx):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with (
        CaptureQueriesContext(connection) as statements,
        pytest.raises(ValidationError, match="needs some text"),
    ):
        actions.start_conversation_with_message(
            brand=ctx["conversation"].brand,
            customer=ctx["conversation"].customer,
            channel="email",
            actor=ctx["system"],
            subject="Vacío",
            body_html="<p> </p>",
        )
    verbs = {query["sql"].split()[0] for query in statements.captured_queries}
    # No number taken, no row written (what a savepoint would have had to undo).
    assert verbs <= {"SAVEPOINT", "RELEASE", "ROLLBACK", "SELECT"}


def test_hostile_html_is_sanitised_before_it_is_stored(ctx):
    message = actions.receive_customer_message(
        conversation=ctx["conversation"],
        channel="email",
        actor=ctx["system"],
        body_html='<p onclick="steal()">Hola<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a></p>',
    )
    assert "script" not in message.body_html
    assert "onerror" not in message.body_html
    assert "onclick" not in message.body_html
    assert "javascript:" not in message.body_html
    assert message.body_text.startswith("Hola")


def test_reply_on_a_channel_that_cannot_send_is_refused(ctx):
    with pytest.raises(ValidationError, match="cannot be sent"):
        actions.reply_to_conversation(
            conversation=ctx["conversation"], actor=ctx["agent"], body_text="x", channel="phone"
        )


def test_reply_on_an_address_channel_needs_the_customers_address(ctx, system):
    # The channel says which identity a reply goes to; a customer without one is refused here,
    # in the action, so the web page and the API say the same thing.
    from atiende.customers.actions import create_customer

    caller = create_customer(brand=ctx["brand"], actor=system, name="Pablo Teléfono")
    case = actions.start_conversation(
        brand=ctx["brand"], customer=caller, channel="phone", actor=system, body_text="Llamada"
    )
    with pytest.raises(ValidationError) as refused:
        actions.reply_to_conversation(
            conversation=case, actor=ctx["agent"], body_text="x", channel="email"
        )
    assert refused.value.code == "no_address_on_channel"
    assert not case.messages.filter(direction="outbound").exists()


def test_reply_on_another_channel_continues_the_same_case(ctx):
    # CV4: a phone case continued by email keeps its history.
    phone_case = _run_start(ctx)
    reply = actions.reply_to_conversation(
        conversation=phone_case,
        actor=ctx["agent"],
        body_text="Le escribo por correo",
        channel="email",
    )
    assert reply.conversation_id == phone_case.pk
    assert list(phone_case.messages.values_list("channel", flat=True)) == ["phone", "email"]


def test_unknown_channel_is_refused(ctx):
    with pytest.raises(ValidationError, match="is not a channel"):
        actions.receive_customer_message(
            conversation=ctx["conversation"], channel="pigeon", actor=ctx["system"], body_text="x"
        )


def test_assignee_must_be_able_to_work_in_the_brand(ctx, outsider, client_viewer):
    for person in (outsider, client_viewer):
        with pytest.raises(ValidationError, match="cannot work"):
            actions.assign_conversation(
                conversation=ctx["conversation"], assignee=person, actor=ctx["agent"]
            )


def test_client_viewer_and_outsider_cannot_change_a_conversation(ctx, client_viewer, outsider):
    for person in (client_viewer, outsider):
        with pytest.raises(PermissionDenied):
            actions.reply_to_conversation(
                conversation=ctx["conversation"], actor=person, body_text="x"
            )
        with pytest.raises(PermissionDenied):
            actions.change_status(conversation=ctx["conversation"], status="solved", actor=person)


def test_customer_of_another_brand_cannot_start_a_conversation_here(ctx, other_customer):
    with pytest.raises(ValidationError, match="another brand"):
        actions.start_conversation(
            brand=ctx["brand"],
            customer=other_customer,
            channel="email",
            actor=ctx["system"],
            body_text="x",
        )


def test_tags_are_normalised_and_replaced(ctx):
    actions.set_conversation_tags(
        conversation=ctx["conversation"], tags=["Retraso", " vip ", "retraso"], actor=ctx["agent"]
    )
    assert sorted(ctx["conversation"].tags.values_list("name", flat=True)) == ["retraso", "vip"]
    actions.set_conversation_tags(
        conversation=ctx["conversation"], tags=["vip", "reembolso"], actor=ctx["agent"]
    )
    assert sorted(ctx["conversation"].tags.values_list("name", flat=True)) == ["reembolso", "vip"]
    assert ctx["conversation"].events.last().payload["changes"]["tags"] == [
        ["retraso", "vip"],
        ["reembolso", "vip"],
    ]


def test_tags_added_with_keep_join_those_read_under_the_lock(ctx):
    conversation = ctx["conversation"]
    actions.set_conversation_tags(conversation=conversation, tags=["vip"], actor=ctx["agent"])
    # What it has is read by the action itself, under its lock, not passed in by the caller.
    stale = type(conversation).objects.get(pk=conversation.pk)
    actions.set_conversation_tags(
        conversation=stale, tags=["retraso"], actor=ctx["agent"], keep=True
    )
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["retraso", "vip"]
    assert conversation.events.last().payload["changes"]["tags"] == [["vip"], ["retraso", "vip"]]


def test_import_keeps_history_times_and_numbers(ctx):
    (imported,) = _run_import(ctx)
    assert imported.reference == "SOL-2"
    assert imported.status == "closed"
    assert imported.messages.count() == 2
    assert imported.last_message_preview == "Resuelto"
    assert imported.created_at < imported.last_message_at < timezone.now()
    assert list(imported.tags.values_list("name", flat=True)) == ["historico"]


def test_real_time_notice_is_sent_only_after_commit(ctx, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        actions.change_priority(
            conversation=ctx["conversation"], priority="urgent", actor=ctx["agent"]
        )
    assert len(callbacks) == 1


def test_import_refuses_an_assignee_or_team_from_outside_the_brand(
    ctx, outsider, other_brand, system
):
    from atiende.accounts.actions import create_team

    foreign_team = create_team(brand=other_brand, name="Ajeno", actor=system)
    message = ImportedMessage(
        direction="inbound", channel="email", created_at=timezone.now(), body_text="x"
    )
    for wrong in ({"assignee": outsider}, {"team": foreign_team}):
        item = ImportedConversation(
            customer=ctx["customer"], channel="email", subject="x", messages=[message], **wrong
        )
        with pytest.raises(ValidationError):
            actions.import_conversations(brand=ctx["brand"], conversations=[item], actor=system)
    assert Conversation.objects.count() == 1


def test_a_new_conversation_is_numbered_in_turn_and_previews_its_first_message(ctx):
    by_text, first = actions.start_conversation_with_message(
        brand=ctx["brand"],
        customer=ctx["customer"],
        channel="email",
        actor=ctx["system"],
        body_html="<p>Hola, <b>¿dónde</b> está mi pedido?</p>",
    )
    by_file = actions.start_conversation(
        brand=ctx["brand"],
        customer=ctx["customer"],
        channel="email",
        actor=ctx["system"],
        attachments=[IncomingAttachment("../factura.pdf", b"%PDF-1.4", "application/pdf")],
    )
    assert first.conversation_id == by_text.pk
    assert list(by_text.messages.all()) == [first]
    assert by_file.number == by_text.number + 1 == ctx["conversation"].number + 2
    by_text.refresh_from_db()
    by_file.refresh_from_db()
    assert by_text.last_message_preview == "Hola, ¿dónde está mi pedido?"
    assert by_file.last_message_preview == "factura.pdf"
    assert by_text.updated_at == by_text.last_message_at == first.created_at


def test_a_change_rereads_the_conversation_with_its_brand_locking_only_its_row(
    conversation, system
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        locked = actions._locked(conversation)
        assert locked.brand.number_prefix == conversation.brand.number_prefix
    # One statement: the brand came with the conversation.
    (read,) = [query["sql"] for query in queries.captured_queries]
    assert locked == conversation
    assert (locked.status, locked.customer_id, locked.updated_at) == (
        conversation.status,
        conversation.customer_id,
        conversation.updated_at,
    )
    if connection.features.has_select_for_update_of:
        # PostgreSQL: the conversation's row alone; locking the brand's too would queue every
        # change to any conversation of the brand behind one another.
        assert read.endswith('FOR UPDATE OF "conversations_conversation"')
    with pytest.raises(Conversation.DoesNotExist):
        actions._locked(Conversation(pk=conversation.pk + 1000))


def test_a_new_conversations_html_is_sanitised_once_for_its_preview_and_its_message(
    brand, customer, system, monkeypatch
):
    sanitised: list[str] = []
    sanitize = actions.sanitize_html

    def counting_sanitize(html: str) -> str:
        sanitised.append(html)
        return sanitize(html)

    monkeypatch.setattr(actions, "sanitize_html", counting_sanitize)
    html = '<p onclick="steal()">Mi pedido <b>no llega</b></p><script>alert(1)</script>'
    conversation, message = actions.start_conversation_with_message(
        brand=brand, customer=customer, channel="email", actor=system, body_html=html
    )
    assert sanitised == [html]
    assert "script" not in message.body_html
    assert "onclick" not in message.body_html
    assert message.body_text == "Mi pedido no llega"
    assert conversation.last_message_preview == "Mi pedido no llega"


def test_the_same_bytes_attached_again_share_one_stored_file(ctx, settings):
    """A file is content-addressed: the same bytes sent again (a signature's logo, a document
    forwarded) are stored once and named by every attachment that holds them."""
    logo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

    def receive(name: str) -> Attachment:
        message = actions.receive_customer_message(
            conversation=ctx["conversation"],
            channel="email",
            actor=ctx["system"],
            body_text="Adjunto el logo.",
            attachments=[IncomingAttachment(name, logo, "image/png")],
        )
        return message.attachments.get()

    first, second = receive("logo.png"), receive("firma.png")
    assert first.file.name == second.file.name
    assert [first.filename, second.filename] == ["logo.png", "firma.png"]
    stored = [path for path in (settings.MEDIA_ROOT / "attachments").rglob("*") if path.is_file()]
    assert len(stored) == 1
    with second.file.open("rb") as handle:
        assert handle.read() == logo


def test_a_cut_short_file_at_the_content_address_is_not_taken(ctx, settings):
    """A file whose writing was cut short (a crash) holds fewer bytes: a new attachment with
    those bytes gets a complete file of its own."""
    content = b"%PDF-1.4\n" + b"0123456789" * 300
    digest = hashlib.sha256(content).hexdigest()
    name = f"attachments/{ctx['conversation'].brand_id}/{digest[:2]}/{digest}"
    (settings.MEDIA_ROOT / name).parent.mkdir(parents=True)
    (settings.MEDIA_ROOT / name).write_bytes(content[:1000])
    message = actions.receive_customer_message(
        conversation=ctx["conversation"],
        channel="email",
        actor=ctx["system"],
        body_text="La factura.",
        attachments=[IncomingAttachment("factura.pdf", content, "application/pdf")],
    )
    attachment = message.attachments.get()
    assert attachment.file.name != name
    with attachment.file.open("rb") as handle:
        assert handle.read() == content
