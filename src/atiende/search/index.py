# ruff: noqa: S608  (the SQL built here joins fixed fragments and %s placeholders; every value
# typed by a person or stored from a customer travels as a parameter)
"""Writing and reading the search index tables (created by migration 0001, no Django model).

Each document is one row keyed by what it indexes: a conversation (its subject, its reference,
and its customer's name, CRN, email addresses and phone numbers) or a message (its own text, never
the history it quoted). Rows are rewritten with set-based SQL (``DELETE`` then ``INSERT ...
SELECT``) from the tables they mirror, so indexing one conversation, one customer's conversations
or a million conversations is the same statement with a different ``WHERE``.

SQLite uses FTS5 (rowid = the indexed row's id; diacritics folded by the tokenizer); PostgreSQL a
``tsvector`` of the Spanish and English stems of the folded text (``atiende_search_fold``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from atiende.search.parsing import fts5_match

# A message longer than this is indexed by its beginning: a pasted log must not bloat the index.
MAX_BODY = 20_000

_CONVERSATION_SOURCE = """
    SELECT c.id AS id, c.brand_id AS brand_id, c.subject AS subject,
           b.number_prefix || '-' || c.number AS reference,
           cu.name || ' ' || cu.crn || ' ' || substr(cu.crn, 1, 3) || '-' || substr(cu.crn, 4)
             || ' ' || coalesce((SELECT {aggregate} FROM customers_customeridentity i
                                 WHERE i.customer_id = cu.id), '') AS customer{config}
    FROM conversations_conversation c
    JOIN brands_brand b ON b.id = c.brand_id
    JOIN customers_customer cu ON cu.id = c.customer_id
    WHERE {where}
"""
_MESSAGE_SOURCE = """
    SELECT m.id AS id, m.brand_id AS brand_id, m.conversation_id AS conversation_id,
           m.direction AS direction, substr(m.body_text, 1, {max_body}) AS body{config}
    FROM conversations_message m{join}
    WHERE {where}
"""
# PostgreSQL stems a document once, in its conversation's language (parsing it twice, in both
# languages, doubled the time to index); a search asks for both stems of each word instead.
_POSTGRES_CONFIG = (
    ", CASE WHEN c.language LIKE 'en%%' THEN 'english' ELSE 'spanish' END::regconfig AS config"
)


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _identities_sql() -> str:
    # Addresses are indexed whole and cut at "@" and ".", so "carmen" and "example" find them.
    if _vendor() == "postgresql":
        return "string_agg(i.value || ' ' || translate(i.value, '@.', '  '), ' ')"
    return "group_concat(i.value || ' ' || replace(replace(i.value, '@', ' '), '.', ' '), ' ')"


def _write_conversations(where: str, params: Sequence[Any]) -> None:
    postgres = _vendor() == "postgresql"
    source = _CONVERSATION_SOURCE.format(
        aggregate=_identities_sql(), config=_POSTGRES_CONFIG if postgres else "", where=where
    )
    key = "conversation_id" if postgres else "rowid"
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM search_conversation WHERE {key} IN "
            f"(SELECT c.id FROM conversations_conversation c WHERE {where})",
            params,
        )
        if postgres:
            cursor.execute(
                "INSERT INTO search_conversation "
                "(conversation_id, brand_id, subject, reference, customer, document) "
                "SELECT id, brand_id, subject, reference, customer, "
                "setweight(to_tsvector(config, atiende_search_fold(subject || ' ' || reference)), 'A')"
                " || setweight(to_tsvector(config, atiende_search_fold(customer)), 'B') "
                f"FROM ({source}) d",
                params,
            )
        else:
            cursor.execute(
                "INSERT INTO search_conversation (rowid, subject, reference, customer, brand_id) "
                f"SELECT id, subject, reference, customer, brand_id FROM ({source})",
                params,
            )


def _write_messages(where: str, params: Sequence[Any]) -> None:
    postgres = _vendor() == "postgresql"
    source = _MESSAGE_SOURCE.format(
        max_body=MAX_BODY,
        config=_POSTGRES_CONFIG if postgres else "",
        join=" JOIN conversations_conversation c ON c.id = m.conversation_id" if postgres else "",
        where=where,
    )
    key = "message_id" if postgres else "rowid"
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM search_message WHERE {key} IN "
            f"(SELECT m.id FROM conversations_message m WHERE {where})",
            params,
        )
        if postgres:
            cursor.execute(
                "INSERT INTO search_message "
                "(message_id, brand_id, conversation_id, direction, body, document) "
                "SELECT id, brand_id, conversation_id, direction, body, "
                f"to_tsvector(config, atiende_search_fold(body)) FROM ({source}) d",
                params,
            )
        else:
            cursor.execute(
                "INSERT INTO search_message (rowid, body, brand_id, conversation_id, direction) "
                f"SELECT id, body, brand_id, conversation_id, direction FROM ({source})",
                params,
            )


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


# Ids per statement: well under SQLite's limit on bound parameters, whatever an import holds.
_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def index_conversations(conversation_ids: Iterable[int]) -> None:
    """(Re)index these conversations and every message they hold now."""
    for ids in _chunks(conversation_ids):
        _write_conversations(f"c.id IN ({_placeholders(ids)})", ids)
        _write_messages(f"m.conversation_id IN ({_placeholders(ids)})", ids)


def index_messages(message_ids: Iterable[int]) -> None:
    """(Re)index these messages, under the conversation each belongs to now."""
    for ids in _chunks(message_ids):
        _write_messages(f"m.id IN ({_placeholders(ids)})", ids)


def index_conversations_of_customers(customer_ids: Iterable[int]) -> None:
    """Rewrite the documents of these customers' conversations (a name or an address changed)."""
    for ids in _chunks(customer_ids):
        _write_conversations(f"c.customer_id IN ({_placeholders(ids)})", ids)


def index_range(first_id: int, last_id: int, *, brand_id: int | None = None) -> None:
    """(Re)index conversations with ``first_id <= id <= last_id`` and their messages."""
    brand_condition = " AND {alias}.brand_id = %s" if brand_id is not None else ""
    params: list[Any] = [first_id, last_id, *([brand_id] if brand_id is not None else [])]
    _write_conversations("c.id BETWEEN %s AND %s" + brand_condition.format(alias="c"), params)
    _write_messages(
        "m.conversation_id BETWEEN %s AND %s" + brand_condition.format(alias="m"),
        params,
    )


def optimize() -> None:
    """Merge the index's segments after a bulk rebuild (SQLite) or refresh statistics."""
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            # A bulk load leaves rows in the GIN indexes' pending lists, which every search
            # would otherwise read through until autovacuum gets to them.
            cursor.execute("SELECT gin_clean_pending_list('search_message_document'::regclass)")
            cursor.execute(
                "SELECT gin_clean_pending_list('search_conversation_document'::regclass)"
            )
            cursor.execute("ANALYZE search_conversation")
            cursor.execute("ANALYZE search_message")
        else:
            cursor.execute(
                "INSERT INTO search_conversation(search_conversation) VALUES('optimize')"
            )
            cursor.execute("INSERT INTO search_message(search_message) VALUES('optimize')")


def is_empty() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM search_conversation LIMIT 1")
        return cursor.fetchone() is None


# Reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where a search may look. ``None`` for a set means every brand."""

    brand_ids: set[int] | None
    # Brands where customer fields (name, CRN, addresses) may be matched.
    customer_brand_ids: set[int] | None
    # Brands where internal notes may be matched.
    note_brand_ids: set[int] | None
    statuses: tuple[str, ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class Candidate:
    conversation_id: int
    # The matched message, or None for the conversation's own document.
    message_id: int | None
    score: float


def _in(column: str, values: set[int] | None, params: list[Any]) -> str:
    if values is None:
        return "1 = 1"
    if not values:
        return "1 = 0"
    ordered = sorted(values)
    params.extend(ordered)
    return f"{column} IN ({_placeholders(ordered)})"


def _conversation_filters(scope: Scope, params: list[Any], alias: str = "c") -> str:
    conditions = []
    if scope.statuses:
        params.extend(scope.statuses)
        conditions.append(f"{alias}.status IN ({_placeholders(scope.statuses)})")
    if scope.channel:
        params.append(scope.channel)
        conditions.append(f"{alias}.channel = %s")
    return " AND ".join(conditions)


@dataclass(frozen=True)
class TextQuery:
    """The words to match, ready for the database: on PostgreSQL a ``tsquery`` literal."""

    terms: tuple[str, ...]
    tsquery: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.terms or (_vendor() == "postgresql" and not self.tsquery)


def text_query(terms: Sequence[str]) -> TextQuery:
    """On PostgreSQL each word becomes "its Spanish stem or its English stem" (one query).

    A word that is a stop word in either language is left out: a document stemmed in the other
    language has dropped it ("de" is Spanish for "of"), so requiring it would miss documents.
    The stems come back from PostgreSQL as tsquery text and are joined here, so the planner
    gets a constant and can weigh how common each word is.
    """
    terms = tuple(terms)
    if _vendor() != "postgresql" or not terms:
        return TextQuery(terms)
    params: list[Any] = []
    columns = []
    for term in terms:
        params += [term, term]
        columns.append(
            "plainto_tsquery('spanish', atiende_search_fold(%s))::text,"
            " plainto_tsquery('english', atiende_search_fold(%s))::text"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        stems = cursor.fetchone()
    parts = [
        f"({spanish} | {english})"
        for spanish, english in zip(stems[::2], stems[1::2], strict=True)
        if spanish and english
    ]
    return TextQuery(terms, " & ".join(parts))


# With a filter on the conversation (status, channel), at most this many of the newest matches
# are looked at: the work stays bounded for a common word, and recent cases — those a status
# filter usually asks for — come first.
FILTERED_SCAN = 5_000
# PostgreSQL: how many of the newest documents are walked in key order first, and counted to
# choose how to read the older ones (``_postgres_newest``).
RECENT_WINDOW = 20_000


@dataclass(frozen=True)
class _Table:
    name: str
    # SQLite: the FTS5 table's rowid; PostgreSQL: the key column.
    sqlite_conversation: str
    postgres_key: str
    postgres_conversation: str
    # bm25 column weights: the subject and reference weigh more than the customer's details.
    bm25: str


_CONVERSATIONS = _Table(
    "search_conversation", "rowid", "conversation_id", "conversation_id", "10.0, 10.0, 4.0"
)
_MESSAGES = _Table("search_message", "conversation_id", "message_id", "conversation_id", "1.0")


def _postgres_newest(
    table: _Table, source: str, select: str, condition: str, params: list[Any], limit: int
) -> tuple[str, list[Any]]:
    """PostgreSQL: the newest ``limit`` matching documents, read in two steps.

    One plan for every word does not work: walking the key backwards and testing each document
    is fast for a common word (found in the first few thousand) and reads the whole table for a
    rare one (1.8 s on three million messages), while the GIN index is fast for a rare word and
    fetches every match of a common one. So the newest RECENT_WINDOW documents are walked by key
    first, counting matches; the older ones are then walked on by key when the matches were
    dense enough to find the rest soon, or looked up through the GIN index ("key + 0" keeps the
    planner off the key's order) when walking on would read more than the index would fetch.
    UNION ALL under a LIMIT runs the second branch only when the first came back short.
    """
    key = f"s.{table.postgres_key}"
    with connection.cursor() as cursor:
        # The newest key minus the window: one index lookup. Keys have gaps (deleted or merged
        # documents), so the window holds at most RECENT_WINDOW documents; any floor is correct.
        cursor.execute(f"SELECT COALESCE(MAX({table.postgres_key}), 0) FROM {table.name}")
        floor = max(0, cursor.fetchone()[0] - RECENT_WINDOW)
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {condition} AND {key} > %s"
            f" LIMIT %s) recent",
            [*params, floor, limit],
        )
        found = cursor.fetchone()[0]
    walk_on = found >= limit
    if 0 < found < limit:
        # Estimated documents read to find the rest by walking on, against matches among the
        # older documents (about ``floor`` of them) that the GIN index would fetch.
        walk_on = (limit - found) * RECENT_WINDOW / found <= found * floor / RECENT_WINDOW
    older_order = f"{key} DESC" if walk_on else f"{key} + 0 DESC"
    sql = (
        f"({select} FROM {source} WHERE {condition} AND {key} > %s ORDER BY {key} DESC LIMIT %s)"
        f" UNION ALL ({select} FROM {source} WHERE {condition} AND {key} <= %s"
        f" ORDER BY {older_order} LIMIT %s) LIMIT %s"
    )
    return sql, [*params, floor, limit, *params, floor, limit, limit]


def _candidates(
    table: _Table, query: TextQuery, scope: Scope, *, limit: int, subject_only: bool = False
) -> list[tuple[int, int, float]]:
    """(document id, conversation id, score) of the newest ``limit`` documents matching every
    term in ``scope``: walking the index newest first stops early however common a word is."""
    if query.is_empty:
        return []
    postgres = _vendor() == "postgresql"
    params: list[Any] = []
    key = f"s.{table.postgres_key}" if postgres else f"{table.name}.rowid"
    alias = "s" if postgres else table.name
    if postgres:
        params.append(query.tsquery)
        where = ["s.document @@ %s::tsquery"]
        if subject_only:
            # The GIN index finds the documents; this keeps those matched in the subject or
            # reference (weight A), not only in the customer's details.
            params.append(query.tsquery)
            where.append("ts_filter(s.document, '{a}') @@ %s::tsquery")
        source = f"{table.name} s"
        conversation = f"s.{table.postgres_conversation}"
    else:
        match = fts5_match(query.terms)
        if subject_only:
            match = "{subject reference} : (" + match + ")"
        params.append(match)
        where = [f"{table.name} MATCH %s"]
        source = table.name
        conversation = f"{table.name}.{table.sqlite_conversation}"
    where.append(_in(f"{alias}.brand_id", scope.brand_ids, params))
    if table is _MESSAGES and scope.note_brand_ids is not None:
        allowed = _in(f"{alias}.brand_id", scope.note_brand_ids, params)
        where.append(f"({alias}.direction <> 'internal' OR {allowed})")
    filters = _conversation_filters(scope, [])
    # PostgreSQL ranks after the filter and the limit (ts_rank reads each whole tsvector); FTS5
    # can only rank inside the MATCH query.
    inner_score = "s.document" if postgres else f"-bm25({table.name}, {table.bm25})"
    select = (
        f"SELECT {key} AS document_id, {conversation} AS conversation_id, {inner_score} AS score"
    )
    condition = " AND ".join(where)
    inner_limit = FILTERED_SCAN if filters else limit
    if postgres:
        inner, params = _postgres_newest(table, source, select, condition, params, inner_limit)
    else:
        inner = f"{select} FROM {source} WHERE {condition} ORDER BY {key} DESC LIMIT %s"
        params.append(inner_limit)
    # Placeholders are filled in the order they appear: the outer score's come first.
    score_params: list[Any] = []
    score = "d.score"
    if postgres:
        score_params.append(query.tsquery)
        score = "ts_rank(d.score, %s::tsquery)"
    outer_where = ""
    if filters:
        outer_where = " WHERE " + _conversation_filters(scope, params)
    sql = (
        f"SELECT d.document_id, d.conversation_id, {score} FROM ({inner}) d"
        + (" JOIN conversations_conversation c ON c.id = d.conversation_id" if filters else "")
        + outer_where
        + " ORDER BY d.document_id DESC LIMIT %s"
    )
    params = [*score_params, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], float(row[2])) for row in cursor.fetchall()]


def conversation_candidates(
    query: TextQuery, scope: Scope, *, limit: int, customer_fields: bool = True
) -> list[Candidate]:
    """Conversations whose own document matches every term (the newest ``limit``), scored."""
    rows = _candidates(_CONVERSATIONS, query, scope, limit=limit, subject_only=not customer_fields)
    return [Candidate(conversation_id, None, score) for _, conversation_id, score in rows]


def message_candidates(query: TextQuery, scope: Scope, *, limit: int) -> list[Candidate]:
    """Messages matching every term (the newest ``limit``), scored, with their conversation."""
    rows = _candidates(_MESSAGES, query, scope, limit=limit)
    return [
        Candidate(conversation_id, message_id, score) for message_id, conversation_id, score in rows
    ]


@dataclass(frozen=True)
class ConversationText:
    subject: str
    reference: str
    customer: str


def conversation_texts(conversation_ids: Sequence[int]) -> dict[int, ConversationText]:
    if not conversation_ids:
        return {}
    key = "conversation_id" if _vendor() == "postgresql" else "rowid"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key}, subject, reference, customer FROM search_conversation"
            f" WHERE {key} IN ({_placeholders(conversation_ids)})",
            list(conversation_ids),
        )
        return {row[0]: ConversationText(*row[1:]) for row in cursor.fetchall()}


def message_texts(message_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """{message id: (direction, text)} as indexed."""
    if not message_ids:
        return {}
    key = "message_id" if _vendor() == "postgresql" else "rowid"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key}, direction, body FROM search_message"
            f" WHERE {key} IN ({_placeholders(message_ids)})",
            list(message_ids),
        )
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
