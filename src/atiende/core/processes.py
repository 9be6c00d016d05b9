"""What a long-running process sets up once it has loaded what it keeps for its life.

**What it loaded, out of the garbage collector's reach** (:func:`freeze_loaded_objects`: the web
server's processes, ``config/served.py``, the worker, ``import-mail`` and ``process-inbound``).
A full collection walks every object the process holds, with the GIL held, and whatever the
process is doing waits. A server
or a worker loads Django, the apps and their modules once (the web server also the URLconf and
the API's schemas): over a hundred thousand objects that live as long as the process, which no
collection will ever free. Collected once and frozen into the permanent generation, they are
never walked again; a full collection walks only what the process made since. Measured: the web
server's p99 showed the stalls (bench/README.md, "API under load"); a worker processing mail
spent 2.5 % of it collecting, half of that with what it loaded frozen (bench/README.md,
"inbound email throughput").

**Set up for work** (:func:`prepare_working_process`: the worker, ``import-mail`` and
``process-inbound``, not the web server): SQLite's connections with temporary files in memory
and a larger page cache (``core/sqlite/base.py``), and the young generation collected every
10,000 allocations instead of 700. Processing mail makes and drops objects by the hundred
thousand; most die before a collection, those alive at one are walked and moved on, and a
collection every 700 allocations walked a batch's live objects over and over (0.4 % of the
instructions storing and processing the ingest bench's mail: bench/README.md, "Working
processes' SQLite connections"). Cycles wait a little longer to be freed.
"""

from __future__ import annotations

import gc

from atiende.core.sqlite.base import set_up_for_work


def freeze_loaded_objects() -> None:
    """Collect once, then leave every object left out of later collections. For a process's
    start, once what it keeps for its life is loaded: the objects frozen stay for the life of
    the process, as they would anyway."""
    gc.collect()
    gc.freeze()


# The young generation's threshold in a working process (Python's default is 700).
WORKING_YOUNG_THRESHOLD = 10_000


def prepare_working_process() -> None:
    """For a process that works through stored work (inbound mail, tasks), before it starts."""
    set_up_for_work()
    freeze_loaded_objects()
    gc.set_threshold(WORKING_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
