"""Searching: what is found, by whom, how it is ranked and shown, and that it stays current."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atiende.accounts.permissions import forget_brand_roles
from atiende.conversations.actions import (
    ImportedConversation,
    ImportedMessage,
    add_internal_note,
    import_conversations,
    receive_customer_message,
    reply_to_conversation,
    start_conversation,
)
from atiende.customers.actions import IdentityInput, add_customer_identity, update_customer
from atiende.search.queries import InvalidCursor, search_for


def found(user: Any, text: str, **filters: Any) -> list[int]:
    return [hit.conversation.pk for hit in search_for(user, text, **filters).hits]


def _start(brand: Any, customer: Any, system: Any, subject: str, body: str, **extra: Any) -> Any:
    return start_conversation(
        brand=brand,
        customer=customer,
        channel=extra.pop("channel", "email"),
        actor=system,
        subject=subject,
        body_text=body,
        **extra,
    )


def test_diacritics_are_folded_both_ways(
    agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    accented = _start(brand, customer, system, "Consulta", "Necesito información del envío")
    plain = _start(brand, customer, system, "Otra", "Quiero mas informacion sobre la devolucion")
    assert found(agent, "informacion envio") == [accented.pk]
    # A stop word of either language ("del") is no reason to miss the document.
    assert found(agent, "información del envío") == [accented.pk]
    assert found(agent, "DEVOLUCIÓN") == [plain.pk]
    assert sorted(found(agent, "Información")) == sorted([accented.pk, plain.pk])


def test_a_subject_match_ranks_above_a_body_match(
    agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    in_subject = _start(brand, customer, system, "Factura duplicada", "Me cobraron dos veces")
    in_body = _start(brand, customer, system, "Consulta", "Sobre la factura del mes pasado")
    assert found(agent, "factura") == [in_subject.pk, in_body.pk]
    hits = search_for(agent, "factura").hits
    assert [hit.kind for hit in hits] == ["subject", "message"]


def test_snippets_escape_customer_text_and_mark_only_the_matches(
    agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    _start(brand, customer, system, "x", '<script>alert("devolución")</script> & <b>devolución</b>')
    (hit,) = search_for(agent, "devolucion").hits
    assert "<script>" not in hit.snippet
    assert "<b>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>devolución</mark>" in hit.snippet
    assert hit.snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_people_of_another_brand_find_nothing_of_ours(
    agent: Any, outsider: Any, outsider_admin: Any, conversation: Any, other_conversation: Any
) -> None:
    for word in ("pedido", "lunes", "Carmen", "carmen@example.com", conversation.customer.crn):
        assert found(outsider, word) == []
        assert found(outsider_admin, word) == []
    assert found(outsider, "portabilidad") == [other_conversation.pk]
    assert found(agent, "portabilidad") == []
    assert found(agent, "Octavio") == []


def test_internal_notes_are_found_only_by_those_who_may_read_notes(
    agent: Any, client_viewer: Any, conversation: Any
) -> None:
    add_internal_note(conversation=conversation, actor=agent, body_text="Cliente conflictivo")
    (hit,) = search_for(agent, "conflictivo").hits
    assert (hit.conversation.pk, hit.kind) == (conversation.pk, "note")
    assert found(client_viewer, "conflictivo") == []
    assert found(client_viewer, "lunes") == [conversation.pk]


def test_a_new_message_or_reply_is_found_right_after_the_action(
    agent: Any, conversation: Any, system: Any
) -> None:
    assert found(agent, "reembolso") == []
    receive_customer_message(
        conversation=conversation, channel="email", actor=system, body_text="Quiero un reembolso"
    )
    assert found(agent, "reembolso") == [conversation.pk]
    reply_to_conversation(conversation=conversation, actor=agent, body_text="Tramitamos el abono")
    assert found(agent, "abono") == [conversation.pk]


def test_quoted_history_is_not_indexed(agent: Any, conversation: Any, system: Any) -> None:
    receive_customer_message(
        conversation=conversation,
        channel="email",
        actor=system,
        body_text="Gracias",
        quoted_text="El martes escribió: palabraantigua",
    )
    assert found(agent, "gracias") == [conversation.pk]
    assert found(agent, "palabraantigua") == []


def test_a_renamed_customer_is_found_by_the_new_name_and_new_address(
    agent: Any, customer: Any, conversation: Any, system: Any
) -> None:
    update_customer(customer=customer, actor=system, name="Carmela Nueva")
    add_customer_identity(
        customer=customer, identity=IdentityInput("email", "carmela@nuevo.es"), actor=system
    )
    assert found(agent, "Carmela") == [conversation.pk]
    assert found(agent, "Cliente") == []  # the old surname
    assert found(agent, "nuevo") == [conversation.pk]


def test_merged_and_split_messages_are_found_under_their_new_conversation(
    agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    from atiende.conversations import actions

    if not hasattr(actions, "merge_conversations") or not hasattr(actions, "split_conversation"):
        pytest.skip("merge_conversations/split_conversation (CV5) are not in this checkout yet")
    source = _start(brand, customer, system, "Primera", "Mensaje con zarzamora")
    target = _start(brand, customer, system, "Segunda", "Mensaje con frambuesa")
    actions.merge_conversations(source=source, target=target, actor=agent)
    assert found(agent, "zarzamora") == [target.pk]
    message = target.messages.get(body_text__contains="zarzamora")
    split = actions.split_conversation(conversation=target, message_ids=[message.pk], actor=agent)
    assert found(agent, "zarzamora") == [split.pk]
    assert found(agent, "frambuesa") == [target.pk]


def test_a_merged_customers_conversations_follow_it(
    agent: Any, brand: Any, customer: Any, conversation: Any, system: Any
) -> None:
    from atiende.customers import actions as customer_actions
    from atiende.customers.actions import create_customer

    if not hasattr(customer_actions, "merge_customers"):
        pytest.skip("merge_customers (CR) is not in this checkout yet")
    duplicate = create_customer(brand=brand, actor=system, name="Carmen Duplicada")
    moved = _start(brand, duplicate, system, "Otra consulta", "Sobre mi tarjeta regalo")
    customer_actions.merge_customers(source=duplicate, target=customer, actor=agent)
    # The moved conversation's document now names the customer it belongs to.
    assert sorted(found(agent, "Carmen Cliente")) == sorted([moved.pk, conversation.pk])
    assert found(agent, "Duplicada") == []
    assert sorted(found(agent, duplicate.crn)) == sorted([moved.pk, conversation.pk])


def test_imported_conversations_are_indexed_in_chunks(
    agent: Any, brand: Any, customer: Any, system: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("atiende.search.index._CHUNK", 2)
    now = timezone.now()
    imported = import_conversations(
        brand=brand,
        actor=system,
        conversations=[
            ImportedConversation(
                customer=customer,
                channel="email",
                subject=f"Garantía de la lavadora {n}",
                messages=[
                    ImportedMessage("inbound", "email", now - timedelta(days=2), f"Ruido {n}"),
                    ImportedMessage("internal", "internal", now - timedelta(days=1), "Revisar"),
                ],
            )
            for n in range(5)
        ],
    )
    assert sorted(found(agent, "garantia lavadora")) == sorted(c.pk for c in imported)
    assert found(agent, "ruido 4") == [imported[4].pk]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        '"',
        '"unterminated',
        "*",
        "pedido*",
        "-pedido",
        "pedido -lunes",
        "subject:pedido",
        "{subject reference}: x",
        "NEAR(pedido lunes)",
        "AND OR NOT",
        ")(",
        "^pedido",
        "pedido\x00lunes",
        "🙂 emoji",
        "日本語のテキスト",
        "' OR 1=1 --",
        "%_\\",
        "x" * 500,
        "pedido " * 60,
    ],
)
def test_hostile_or_odd_text_never_raises(agent: Any, conversation: Any, text: str) -> None:
    page = search_for(agent, text)
    assert isinstance(page.hits, list)


def test_operators_are_words_not_syntax(agent: Any, conversation: Any) -> None:
    assert found(agent, "-pedido") == [conversation.pk]
    assert found(agent, "subject:pedido") == []  # "subject" is a word that does not appear
    assert found(agent, '"pedido') == [conversation.pk]
    assert found(agent, "") == []


def test_a_crn_email_phone_or_reference_is_looked_up_exactly(
    agent: Any, customer: Any, conversation: Any, other_conversation: Any
) -> None:
    crn = customer.crn
    for text in (crn, crn.lower(), customer.crn_display, f" {crn[:3]} {crn[3:]} "):
        page = search_for(agent, text)
        assert [hit.conversation.pk for hit in page.hits] == [conversation.pk], text
        assert page.customers == [customer]
    assert found(agent, "CARMEN@example.com") == [conversation.pk]
    assert found(agent, "600 111 222") == [conversation.pk]
    assert found(agent, "+34600111222") == [conversation.pk]
    for text in (
        f"SOL-{conversation.number}",
        f"sol{conversation.number}",
        f"#{conversation.number}",
    ):
        (hit,) = search_for(agent, text).hits
        assert (hit.conversation.pk, hit.kind) == (conversation.pk, "reference")
    assert found(agent, f"TEL-{other_conversation.number}") == []
    assert found(agent, other_conversation.customer.crn) == []


def test_filters_narrow_like_the_inbox(
    agent: Any, supervisor: Any, brand: Any, customer: Any, system: Any, other_brand: Any
) -> None:
    by_email = _start(brand, customer, system, "Cambio de talla", "talla M")
    by_chat = _start(brand, customer, system, "Cambio de color", "talla L", channel="chat")
    assert found(agent, "talla", channel="chat") == [by_chat.pk]
    assert found(agent, "talla", status="new") == [by_email.pk, by_chat.pk]
    assert found(agent, "talla", status="solved") == []
    assert found(agent, "talla", brand_ids=[other_brand.pk]) == []
    assert found(agent, f"SOL-{by_email.number}", channel="chat") == []


def test_pages_follow_one_another_without_repeating(
    agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    created = {_start(brand, customer, system, f"Caso {n}", "paraguas roto").pk for n in range(5)}
    first = search_for(agent, "paraguas", limit=2)
    second = search_for(agent, "paraguas", limit=2, after=first.next_after)
    third = search_for(agent, "paraguas", limit=2, after=second.next_after)
    seen = [hit.conversation.pk for page in (first, second, third) for hit in page.hits]
    assert sorted(seen) == sorted(created)
    assert third.next_after is None
    assert first.total == 5
    with pytest.raises(InvalidCursor):
        search_for(agent, "paraguas", after="not-a-cursor")


def test_a_search_costs_the_same_queries_for_one_or_many_results(
    agent: Any, brand: Any, customer: Any, system: Any, django_assert_max_num_queries: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    def queries_for(text: str) -> int:
        forget_brand_roles(agent)  # every search pays for reading the roles
        with CaptureQueriesContext(connection) as captured:
            page = search_for(agent, text)
            for hit in page.hits:
                str(hit.conversation.reference), hit.conversation.customer.crn_display
                list(hit.conversation.tags.all())
        return len(captured)

    _start(brand, customer, system, "Uno", "sombrero")
    one = queries_for("sombrero")
    for n in range(6):
        _start(brand, customer, system, f"Más {n}", "sombrero azul")
    assert queries_for("sombrero") == one


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=250))
def test_any_text_at_all_searches_without_error(agent: Any, conversation: Any, text: str) -> None:
    page = search_for(agent, text, status="open", channel="email")
    assert all(hit.conversation.brand_id == conversation.brand_id for hit in page.hits)


@pytest.mark.parametrize("window", [1, 3, 100])
def test_old_and_new_matches_are_found_wherever_the_recent_window_ends(
    agent: Any, brand: Any, customer: Any, system: Any, monkeypatch: Any, window: int
) -> None:
    """PostgreSQL walks the newest documents by key, the older ones through the GIN index
    (``search.index.RECENT_WINDOW``); wherever the window ends, every match is found."""
    from atiende.search import index

    monkeypatch.setattr(index, "RECENT_WINDOW", window)
    old = [_start(brand, customer, system, f"Viejo {n}", "paraguas roto").pk for n in range(3)]
    for n in range(4):
        _start(brand, customer, system, f"Otro {n}", "nada que ver")
    new = _start(brand, customer, system, "Nuevo", "paraguas nuevo").pk
    assert sorted(found(agent, "paraguas")) == sorted([*old, new])
    assert sorted(found(agent, "paraguas", status=["new"])) == sorted([*old, new])
    assert found(agent, "paraguas", limit=1) != []
