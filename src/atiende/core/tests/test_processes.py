"""Long-running processes set themselves up once loaded (core/processes.py): the worker,
import-mail and process-inbound freeze what they loaded out of the garbage collector's reach, as
the web server's processes do (core/tests/test_serving.py), collect the young generation less
often, and on SQLite keep temporary files in memory and a larger page cache, which the web
server's do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from atiende.core.processes import WORKING_YOUNG_THRESHOLD
from atiende.core.testing import child_environment

# In a fresh process: a management command run as ``atiende NAME`` would run it (``served``: the
# web server's application loaded, as ``atiende serve`` loads it in each process), then the
# young generation's threshold, how many objects were frozen before and after, and SQLite's
# temp_store and cache_size on the connection open before the command ran and on one opened
# after it (-1 elsewhere). The worker's consumer loop (huey's run_huey, which runs until
# stopped) is left out: what is checked happens before it starts.
PROBE = """
import gc, sys, django
django.setup()
from django.core.management import call_command
from django.db import connection
import atiende.core.management.commands.worker as worker
worker.call_command = lambda *args, **kwargs: None

def settings():
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            return [-1, -1]
        cursor.execute("PRAGMA temp_store")
        (temp_store,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        return [temp_store, cache_size]

connection.ensure_connection()
before = gc.get_freeze_count()
if sys.argv[1:] == ["served"]:
    import atiende.config.served
else:
    call_command(*sys.argv[1:])
on_the_open_connection = settings()
connection.close()
young = gc.get_threshold()[0]
print(young, before, gc.get_freeze_count(), *on_the_open_connection, *settings())
"""

MEMORY, DEFAULT = 2, 0  # SQLite's temp_store values
WORKING_CACHE, DEFAULT_CACHE = -32768, -2000  # cache_size: KiB when negative


def probe(arguments: list[str], tmp_path: Path) -> list[int]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments],
        env=child_environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return list(map(int, completed.stdout.split()[-7:]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "command",
    [["worker", "--no-periodic"], ["process_inbound"], ["import_mail", "MAIL"]],
    ids=["worker", "process_inbound", "import_mail"],
)
def test_a_working_command_sets_itself_up_before_it_works(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "mail").mkdir()
    arguments = [str(tmp_path / "mail") if argument == "MAIL" else argument for argument in command]

    young_threshold, before, after, *sqlite_settings = probe(arguments, tmp_path)

    assert young_threshold == WORKING_YOUNG_THRESHOLD
    assert before == 0
    assert after > 50_000  # Django, the apps and their modules
    if connection.vendor == "sqlite":
        # The connection open when it started, and one it opens later.
        assert sqlite_settings == [MEMORY, WORKING_CACHE] * 2


@pytest.mark.django_db(transaction=True)
def test_a_web_server_process_keeps_sqlites_defaults(tmp_path: Path) -> None:
    """Its temporary files are the sorts of large queries (an export), and each of its threads
    has a connection: neither is grown. (That it freezes what it loaded:
    core/tests/test_serving.py.)"""
    young_threshold, _before, _after, *sqlite_settings = probe(["served"], tmp_path)

    assert young_threshold != WORKING_YOUNG_THRESHOLD  # Python's default
    if connection.vendor == "sqlite":
        assert sqlite_settings == [DEFAULT, DEFAULT_CACHE] * 2
