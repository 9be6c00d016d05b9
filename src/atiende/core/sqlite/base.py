"""Django's SQLite backend; the conversion of a statement's placeholders is remembered, and a
transaction's written rows are counted (``DatabaseWrapper.rows_written``, for the optimistic
batches of ``core.batching``).

Django writes ``%s`` placeholders and its SQLite cursor rewrites them to SQLite's ``?`` with a
regular expression on every execution. The project runs the same few hundred statements over and
over (those compiled once, in ``core.prepared`` and ``core.actions``, and the ORM's, which come out
the same for the same query): the rewriting was 5 % of the inbound chain's time
(``bench/ingest.py``, sampled with py-spy), more than some of its stages. The result of a rewrite
depends on the statement alone, so it is kept, for up to ``_REMEMBERED`` statements per process.

"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db.backends.sqlite3 import base

_REMEMBERED = 4096


@lru_cache(maxsize=_REMEMBERED)
def qmark_style(statement: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", statement).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Any = None) -> str:
        if param_names is None:
            return qmark_style(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: Any = None) -> Any:
        return self.connection.cursor(factory=SQLiteCursorWrapper)

    def rows_written(self) -> int | None:
        """Rows inserted, updated or deleted on this connection since it opened, as SQLite counts
        them (what triggers wrote included), while a transaction is open; None outside one
        (SQLite also rolls a transaction back on its own after some errors: a full disk, an I/O
        error). An optimistic batch tells by it whether a failed item wrote anything
        (atiende.core.batching)."""
        if self.connection is None or not self.connection.in_transaction:
            return None
        return int(self.connection.total_changes)
