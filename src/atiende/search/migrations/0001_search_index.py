"""The search index: full-text tables kept beside the rows they index, one per kind of document.

No Django model: the tables are written with SQL by the search listeners, and their shape differs
by database. SQLite gets FTS5 tables whose rowid is the conversation's or message's id and whose
tokenizer folds diacritics; PostgreSQL gets plain tables with a ``tsvector`` (Spanish and English
stems of the text with its diacritics folded by ``atiende_search_fold``) under a GIN index.
"""

from django.db import DatabaseError, migrations, transaction

SQLITE_TOKENIZER = "tokenize = 'unicode61 remove_diacritics 2'"

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE search_conversation USING fts5("
    f"subject, reference, customer, brand_id UNINDEXED, {SQLITE_TOKENIZER})",
    "CREATE VIRTUAL TABLE search_message USING fts5("
    f"body, brand_id UNINDEXED, conversation_id UNINDEXED, direction UNINDEXED, {SQLITE_TOKENIZER})",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS search_message",
    "DROP TABLE IF EXISTS search_conversation",
]

# Folding diacritics: the unaccent extension where it can be created (it is in PostgreSQL's
# contrib, and fast), else translate(), which needs no extension but is several times slower.
# Declared IMMUTABLE either way, so the stored text and the typed words fold identically.
ACCENTED = "áàâäãåāéèêëēíìîïīóòôöõøōúùûüūñçýÿ"
PLAIN = "aaaaaaaeeeeeiiiiiooooooouuuuuncyy"
FOLD_WITH_TRANSLATE = f"translate(lower($1), '{ACCENTED}', '{PLAIN}')"
FOLD_FUNCTION = (
    "CREATE OR REPLACE FUNCTION atiende_search_fold(text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT {expression} $$"
)

POSTGRES_FORWARD = [
    """CREATE TABLE search_conversation (
        conversation_id bigint PRIMARY KEY,
        brand_id bigint NOT NULL,
        subject text NOT NULL,
        reference text NOT NULL,
        customer text NOT NULL,
        document tsvector NOT NULL
    )""",
    "CREATE INDEX search_conversation_document ON search_conversation USING gin (document)",
    """CREATE TABLE search_message (
        message_id bigint PRIMARY KEY,
        brand_id bigint NOT NULL,
        conversation_id bigint NOT NULL,
        direction varchar(16) NOT NULL,
        body text NOT NULL,
        document tsvector NOT NULL
    )""",
    "CREATE INDEX search_message_document ON search_message USING gin (document)",
    "CREATE INDEX search_message_conversation ON search_message (conversation_id)",
]
POSTGRES_BACKWARD = [
    "DROP TABLE IF EXISTS search_message",
    "DROP TABLE IF EXISTS search_conversation",
    "DROP FUNCTION IF EXISTS atiende_search_fold(text)",
]


FORWARD = {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}
BACKWARD = {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}


def _unaccent_schema(schema_editor):
    """The schema of the unaccent extension, created if it can be; None if it cannot."""
    connection = schema_editor.connection
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    except DatabaseError:
        pass
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _fold_function(schema_editor):
    schema = _unaccent_schema(schema_editor)
    if schema is None:
        return FOLD_FUNCTION.format(expression=FOLD_WITH_TRANSLATE)
    unaccent = f"{schema}.unaccent('{schema}.unaccent'::regdictionary, $1)"
    return FOLD_FUNCTION.format(expression=f"lower({unaccent})")


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql" and statements_by_vendor is FORWARD:
            schema_editor.execute(_fold_function(schema_editor))
        for statement in statements_by_vendor.get(vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_conversations_messages_events"),
        ("customers", "0001_customers_identities_orders"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
