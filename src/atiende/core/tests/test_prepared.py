"""Reads compiled once (core/prepared.py): the same rows as the queryset they are written as."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any
from unittest import mock

import pytest
from django.db.models import Count
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from atiende.conversations.models import Conversation, Message
from atiende.core.prepared import PreparedRead

pytestmark = pytest.mark.django_db


def conversations_of(conversation_id: int, brand_ids: list[int]) -> Any:
    return (
        Conversation.objects.filter(pk=conversation_id, brand_id__in=brand_ids)
        .order_by()
        .values_list("id", "brand__slug", "subject", "created_at", "customer__crn")
    )


def test_rows_are_the_querysets_rows_with_its_conversions(
    conversation: Any, other_conversation: Any, brand: Any, other_brand: Any
) -> None:
    read = PreparedRead(conversations_of, conversation_id=int, brand_ids=list)

    for conversation_id in (conversation.pk, other_conversation.pk):
        for brand_ids in ([brand.pk], [other_brand.pk], [brand.pk, other_brand.pk]):
            expected = list(conversations_of(conversation_id, brand_ids))
            assert read.rows(conversation_id=conversation_id, brand_ids=brand_ids) == expected

    (row,) = read.rows(conversation_id=conversation.pk, brand_ids=[brand.pk])
    assert row[3] == conversation.created_at  # an aware datetime, converted as the ORM does


def test_each_shape_is_compiled_once(conversation: Any, brand: Any, other_brand: Any) -> None:
    read = PreparedRead(conversations_of, conversation_id=int, brand_ids=list)

    with mock.patch.object(
        SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
    ) as compile_sql:
        for _ in range(3):
            read.rows(conversation_id=conversation.pk, brand_ids=[brand.pk])
        assert compile_sql.call_count == 1
        # A list of another length is another statement.
        for _ in range(3):
            read.rows(conversation_id=conversation.pk, brand_ids=[brand.pk, other_brand.pk])
        assert compile_sql.call_count == 2


def test_lists_are_padded_to_a_power_of_two_and_give_the_same_rows(
    conversation: Any, other_conversation: Any, brand: Any, other_brand: Any
) -> None:
    """A list's length is part of the statement: lists are padded (with their last value) so
    that a read asked about 3, 4, 5... values compiles a few statements, not one per length."""
    read = PreparedRead(conversations_of, conversation_id=int, brand_ids=list)
    unknown = [10**9 + n for n in range(7)]
    # (conversation, brand ids, the queryset's rows), read before compilations are counted
    asked = [(conversation.pk, [*unknown[: count - 1], brand.pk]) for count in (3, 4)] + [
        (other_conversation.pk, [other_brand.pk, *unknown[: count - 1]]) for count in (5, 7, 8)
    ]
    expected = [list(conversations_of(pk, brand_ids)) for pk, brand_ids in asked]
    assert all(len(rows) == 1 for rows in expected)

    with mock.patch.object(
        SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
    ) as compile_sql:
        got = [read.rows(conversation_id=pk, brand_ids=brand_ids) for pk, brand_ids in asked]
        # 3 and 4 values padded to 4, then 5, 7 and 8 to 8.
        assert compile_sql.call_count == 2
    assert got == expected


def test_padding_repeats_the_last_value_up_to_a_limit() -> None:
    from atiende.core.prepared import _PADDED_UP_TO, _padded

    assert _padded([]) == []
    assert _padded([5]) == [5]
    assert _padded(["a", "b", "c"]) == ["a", "b", "c", "c"]
    assert _padded(range(9)) == [*range(9), *[8] * 7]
    assert len(_padded(range(_PADDED_UP_TO))) == _PADDED_UP_TO
    assert len(_padded(range(_PADDED_UP_TO + 1))) == _PADDED_UP_TO + 1


def test_text_parameters(brand: Any, other_brand: Any) -> None:
    from atiende.brands.models import Brand

    read = PreparedRead(
        lambda slug: Brand.objects.filter(slug=slug).values_list("id", "name"), slug=str
    )

    assert read.rows(slug=brand.slug) == [(brand.pk, brand.name)]
    assert read.rows(slug=other_brand.slug) == [(other_brand.pk, other_brand.name)]
    assert read.rows(slug="no-such-brand") == []


def test_lists_of_texts(brand: Any, other_brand: Any) -> None:
    from atiende.brands.models import Brand

    read = PreparedRead(
        lambda slugs: Brand.objects.filter(slug__in=slugs).order_by("slug").values_list("slug"),
        slugs=list[str],
    )

    both = sorted([brand.slug, other_brand.slug])
    assert read.rows(slugs=[brand.slug]) == [(brand.slug,)]
    assert read.rows(slugs=[other_brand.slug, "no-such-brand", brand.slug]) == [
        (slug,) for slug in both
    ]
    assert read.rows(slugs=["no-such-brand", "nor-this-one"]) == []


def messages_since(brand_id: int, since: Any) -> Any:
    return (
        Message.objects.filter(brand_id=brand_id, created_at__gte=since)
        .order_by()
        .values_list("conversation_id")
        .annotate(count=Count("pk"))
    )


def test_time_parameters_are_passed_as_the_field_passes_them(conversation: Any, brand: Any) -> None:
    read = PreparedRead(messages_since, brand_id=int, since=datetime.datetime)
    first = conversation.messages.get().created_at
    madrid = zoneinfo.ZoneInfo("Europe/Madrid")

    for since in (
        first,
        first + datetime.timedelta(microseconds=1),
        first - datetime.timedelta(microseconds=1),
        first.astimezone(madrid),  # the same moment in another zone
        (first + datetime.timedelta(microseconds=1)).astimezone(madrid),
        datetime.datetime(1901, 2, 3, 4, 5, 6, 700_000, tzinfo=datetime.UTC),  # the stand-in
    ):
        expected = list(messages_since(brand.pk, since))
        assert read.rows(brand_id=brand.pk, since=since) == expected
    assert read.rows(brand_id=brand.pk, since=first) == [(conversation.pk, 1)]
    assert read.rows(brand_id=brand.pk, since=first + datetime.timedelta(microseconds=1)) == []


def test_a_naive_time_is_refused(brand: Any) -> None:
    read = PreparedRead(messages_since, brand_id=int, since=datetime.datetime)

    with pytest.raises(ValueError, match="aware"):
        read.rows(brand_id=brand.pk, since=datetime.datetime(2026, 1, 1))


def test_a_read_whose_parameter_the_orm_rewrites_is_refused(brand: Any) -> None:
    from atiende.brands.models import Brand

    # A containment lookup wraps the value in wildcards: the statement's parameter is not the
    # value given, so it cannot be substituted later.
    read = PreparedRead(
        lambda text: Brand.objects.filter(name__icontains=text).values_list("id"), text=str
    )

    with pytest.raises(ValueError, match="not preparable"):
        read.rows(text="acme")


def test_wrong_parameters_are_refused() -> None:
    with pytest.raises(TypeError):
        PreparedRead(conversations_of, conversation_id=float)
    read = PreparedRead(conversations_of, conversation_id=int, brand_ids=list)
    with pytest.raises(TypeError):
        read.rows(conversation_id=1)


def test_postgresql_keeps_the_statement_prepared(conversation: Any, brand: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's")
    read = PreparedRead(conversations_of, conversation_id=int, brand_ids=list)

    with CaptureQueriesContext(connection) as captured:
        for _ in range(8):
            assert read.rows(conversation_id=conversation.pk, brand_ids=[brand.pk])

    # Recorded like every other statement, with its values, prepared or not.
    assert len(captured.captured_queries) == 8
    assert all(f'"id" = {conversation.pk}' in query["sql"] for query in captured.captured_queries)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%conversations_conversation%brands_brand%"],
        )
        assert cursor.fetchone()[0] >= 1
