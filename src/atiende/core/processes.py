"""What a process that works through stored work sets up before it starts: the worker,
``import-mail`` and ``process-inbound`` (not the web server, whose processes set up their own:
``config/served.py``).

- SQLite's temporary files, savepoints' statement journals among them, kept in memory
  (``core/sqlite/base.py``): a batch of inbound mail takes a savepoint per message.
- What the process loaded frozen out of the garbage collector's reach (``core/collector.py``).
"""

from __future__ import annotations

from atiende.core.collector import freeze_loaded_objects
from atiende.core.sqlite.base import keep_temporary_files_in_memory


def prepare_working_process() -> None:
    keep_temporary_files_in_memory()
    freeze_loaded_objects()
