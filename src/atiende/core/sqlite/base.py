"""Django's SQLite backend; the conversion of a statement's placeholders is remembered, a
transaction's written rows are counted (``DatabaseWrapper.rows_written``, for the optimistic
batches of ``core.batching``), and a working process's connections are set up for work.

Django writes ``%s`` placeholders and its SQLite cursor rewrites them to SQLite's ``?`` with a
regular expression on every execution. The project runs the same few hundred statements over and
over (those compiled once, in ``core.prepared`` and ``core.actions``, and the ORM's, which come out
the same for the same query): the rewriting was 5 % of the inbound chain's time
(``bench/ingest.py``, sampled with py-spy), more than some of its stages. The result of a rewrite
depends on the statement alone, so it is kept, for up to ``_REMEMBERED`` statements per process.

**A working process's connections** (:func:`set_up_for_work`: the worker, import-mail,
process-inbound; ``core/processes.py``) keep SQLite's temporary files in memory and a larger
page cache. A statement that writes a row's foreign key (marking a batch of inbound rows done)
keeps the original of every page it changes in a statement journal, which SQLite moves to a
temporary file past 64 KiB and then keeps on disk for the rest of the transaction; and the
default page cache (2 MB) holds less than a batch goes through, so pages were read again from
the operating system. With both settings, storing and processing the ingest bench's mail
makes fourteen fewer writes per message and nearly three quarters fewer reads, and the kernel's
time while processing fell by about two fifths (``strace -c`` and ``bench/ingest.py``:
bench/README.md, "Working processes' SQLite connections"). The web processes keep the
defaults: there the temporary files are the sorts and temporary tables of large queries (an
export), which must not grow in memory, and each of their threads has a connection, whose
caches would add up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connections
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


# Set by set_up_for_work(): for every connection this process opens from then on.
_set_up_for_work = False
# 32 MiB of page cache (a negative cache_size is in KiB).
_WORKING_PRAGMAS = ("PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -32768")


def set_up_for_work() -> None:
    """From now on, this process's SQLite connections keep temporary files in memory and a page
    cache of 32 MiB; the open ones too, unless inside a transaction (where SQLite refuses to
    change temp_store once the connection has temporary tables; they take it when they next
    connect). Nothing on other databases."""
    global _set_up_for_work
    _set_up_for_work = True
    for wrapper in connections.all(initialized_only=True):
        if (
            isinstance(wrapper, DatabaseWrapper)
            and wrapper.connection is not None
            and not wrapper.in_atomic_block
        ):
            _apply_working_pragmas(wrapper.connection)


def _apply_working_pragmas(connection: Any) -> None:
    for pragma in _WORKING_PRAGMAS:
        connection.execute(pragma)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if _set_up_for_work:
            _apply_working_pragmas(connection)
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
