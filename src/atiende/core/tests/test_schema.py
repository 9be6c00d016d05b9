"""Indexes a foreign key no longer has of its own: dropped in place, made again when reversed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# (column, table): single-column indexes that composite ones leading with the column replace.
DROPPED = [
    ("conversations_conversation", "brand_id"),
    ("conversations_conversation", "assignee_id"),
    ("conversations_conversation", "team_id"),
    ("conversations_message", "conversation_id"),
    ("conversations_conversationevent", "conversation_id"),
    ("customers_customer", "brand_id"),
    ("customers_customeridentity", "brand_id"),
    ("pipeline_inboundmessage", "brand_id"),
]


def _indexes_on(table: str) -> dict[str, list[str]]:
    """Each index of ``table``, unique ones included (not the primary key), and its columns."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: info["columns"]
        for name, info in found.items()
        if (info["index"] or info["unique"]) and not info["primary_key"] and not info["foreign_key"]
    }


def _own_index(table: str, column: str) -> list[str]:
    return [name for name, columns in _indexes_on(table).items() if columns == [column]]


def _led_by(table: str, column: str) -> list[str]:
    return [
        name
        for name, columns in _indexes_on(table).items()
        if len(columns) > 1 and columns[0] == column
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column"), DROPPED)
def test_a_foreign_key_led_composite_index_stands_in_for_its_own(table: str, column: str) -> None:
    assert _own_index(table, column) == []
    assert _led_by(table, column)


@pytest.mark.django_db(transaction=True)
def test_the_dropped_index_is_made_again_when_the_migration_is_reversed() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("pipeline", "0001_inbound_messages_and_chains")])
    try:
        assert len(_own_index("pipeline_inboundmessage", "brand_id")) == 1
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("pipeline"))
    assert _own_index("pipeline_inboundmessage", "brand_id") == []


# (table, column, index): nullable keys empty in most rows, indexed only where set.
WHERE_SET = [
    ("conversations_conversation", "category_id", "conversation_category_set"),
    ("conversations_conversation", "follow_up_of_id", "conversation_follow_up_of_set"),
    ("conversations_conversation", "merged_into_id", "conversation_merged_into_set"),
    ("conversations_message", "author_user_id", "message_author_user_set"),
    ("conversations_message", "moved_from_id", "message_moved_from_set"),
    ("customers_customer", "organization_id", "customer_organization_set"),
    ("customers_customer", "merged_into_id", "customer_merged_into_set"),
]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return " | ".join(row[-1] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")  # (empty tables: it would win)
        cursor.execute(f"EXPLAIN {sql}")
        return " | ".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column", "index"), WHERE_SET)
def test_a_key_empty_in_most_rows_is_indexed_where_set_and_found_by_it(
    table: str, column: str, index: str
) -> None:
    assert _own_index(table, column) == [index]
    # Lookups by a value, as Django's deletion rules and the reverse relations make them.
    for condition in (f'"{column}" = 7', f'"{column}" IN (7, 8)'):
        plan = _plan(f'SELECT "id" FROM "{table}" WHERE {condition}')  # noqa: S608 (test's own)
        assert index in plan, plan
