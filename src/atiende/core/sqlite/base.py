"""Django's SQLite backend; the conversion of a statement's placeholders is remembered, a
working process may keep SQLite's temporary files in memory, and a transaction's written rows are
counted (``DatabaseWrapper.rows_written``, for the optimistic batches of ``core.batching``).

Django writes ``%s`` placeholders and its SQLite cursor rewrites them to SQLite's ``?`` with a
regular expression on every execution. The project runs the same few hundred statements over and
over (those compiled once, in ``core.prepared`` and ``core.actions``, and the ORM's, which come out
the same for the same query): the rewriting was 5 % of the inbound chain's time
(``bench/ingest.py``, sampled with py-spy), more than some of its stages. The result of a rewrite
depends on the statement alone, so it is kept, for up to ``_REMEMBERED`` statements per process.

**Temporary files in memory, in the processes that work through stored work**
(:func:`keep_temporary_files_in_memory`: the worker, import-mail, process-inbound). A savepoint
keeps the original of every page its statements change in a statement journal, which SQLite
moves to a temporary file past 64 KiB; a batch of inbound mail takes a savepoint per message
and each message changes a few dozen pages, so processing wrote to that file about 80 times a
message (strace), and the kernel's time while processing fell by about 60 % without it
(bench/README.md). In memory the journal lasts as long as the savepoint and is as large as what
one message changes. The web processes keep the default: there the temporary files are the
sorts and temporary tables of large queries (an export), which must not grow in memory.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.backends.sqlite3 import base

_REMEMBERED = 4096


@lru_cache(maxsize=_REMEMBERED)
def _qmark_style(statement: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", statement).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Any = None) -> str:
        if param_names is None:
            return _qmark_style(query)
        return super().convert_query(query, param_names=param_names)


# Set by keep_temporary_files_in_memory(): for every connection this process opens from then on.
_temporary_files_in_memory = False
_TEMPORARY_FILES_IN_MEMORY = "PRAGMA temp_store = MEMORY"


def keep_temporary_files_in_memory() -> None:
    """From now on, this process's SQLite connections keep temporary files (savepoints'
    statement journals among them) in memory; the open ones too, unless inside a transaction
    (where SQLite refuses the change once the connection has temporary tables; those take it
    when they next connect). Nothing on other databases."""
    global _temporary_files_in_memory
    _temporary_files_in_memory = True
    for wrapper in connections.all(initialized_only=True):
        if (
            isinstance(wrapper, DatabaseWrapper)
            and wrapper.connection is not None
            and not wrapper.in_atomic_block
        ):
            wrapper.connection.execute(_TEMPORARY_FILES_IN_MEMORY)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if _temporary_files_in_memory:
            connection.execute(_TEMPORARY_FILES_IN_MEMORY)
        return connection

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
