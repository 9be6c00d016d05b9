"""Indexes a foreign key no longer has of its own: dropped in place, made again when reversed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from atiende.core.testing import query_plan

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


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column", "index"), WHERE_SET)
def test_a_key_empty_in_most_rows_is_indexed_where_set_and_found_by_it(
    table: str, column: str, index: str
) -> None:
    assert _own_index(table, column) == [index]
    # Lookups by a value, as Django's deletion rules and the reverse relations make them.
    for condition in (f'"{column}" = 7', f'"{column}" IN (7, 8)'):
        plan = query_plan(f'SELECT "id" FROM "{table}" WHERE {condition}')  # noqa: S608 (test's own)
        assert index in plan, plan


@pytest.mark.django_db
def test_a_new_unassigned_conversation_is_written_to_15_of_the_tables_30_indexes(
    conversation,
) -> None:
    """What bench/README and the changelog say: a conversation arriving unassigned, without a
    team or category, enters 15 indexes (SQLite: each index tried for its row, partial ones by
    their condition). Before 9ba339c the table had 33 and such a row entered every one."""
    if connection.vendor != "sqlite":
        pytest.skip("read from SQLite's schema")
    assert conversation.assignee_id is None
    assert conversation.team_id is None
    table = "conversations_conversation"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table]
        )
        indexes = cursor.fetchall()
        entered = 0
        for _name, sql in indexes:
            # (An automatic index, for a unique constraint, has no SQL and takes every row.)
            condition = sql.partition(" WHERE ")[2] if sql else ""
            cursor.execute(
                f'SELECT COUNT(*) FROM "{table}" WHERE id = %s AND ({condition or "1"})',  # noqa: S608
                [conversation.pk],
            )
            entered += cursor.fetchone()[0]
    assert (len(indexes), entered) == (30, 15)
