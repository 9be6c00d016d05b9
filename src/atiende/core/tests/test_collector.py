"""The long-running and bulk commands set themselves up for work before they work
(core/processes.py): what they loaded frozen out of the garbage collector's reach
(core/collector.py), as the web server's processes do, and on SQLite temporary files in memory
(core/sqlite/base.py), which the web server's are not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from atiende.core.testing import child_environment

# Runs a management command in a fresh process, as ``atiende NAME`` would, and prints how many
# objects were frozen before and after. The worker's consumer loop (huey's run_huey, which runs
# until stopped) is left out: what is checked happens before it starts.
PROBE = """
import gc, sys, django
django.setup()
from django.core.management import call_command
import atiende.core.management.commands.worker as worker
worker.call_command = lambda *args, **kwargs: None
from django.db import connection
before = gc.get_freeze_count()
if sys.argv[1:]:
    call_command(*sys.argv[1:])
with connection.cursor() as cursor:
    cursor.execute("PRAGMA temp_store" if connection.vendor == "sqlite" else "SELECT -1")
    (temp_store,) = cursor.fetchone()
print(before, gc.get_freeze_count(), temp_store)
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "command",
    [["worker", "--no-periodic"], ["process_inbound"], ["import_mail", "MAIL"]],
    ids=["worker", "process_inbound", "import_mail"],
)
def test_a_working_command_freezes_what_it_loaded_before_it_works(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "mail").mkdir()
    arguments = [str(tmp_path / "mail") if argument == "MAIL" else argument for argument in command]
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments],
        env=child_environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    before, after, temp_store = map(int, completed.stdout.split()[-3:])
    assert before == 0
    assert after > 50_000  # Django, the apps and their modules
    if connection.vendor == "sqlite":
        assert temp_store == 2  # MEMORY


@pytest.mark.django_db(transaction=True)
def test_another_process_keeps_sqlites_temporary_files_where_sqlite_puts_them(
    tmp_path: Path,
) -> None:
    """A web process's temporary files are the sorts of large queries: not kept in memory."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=child_environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    before, after, temp_store = map(int, completed.stdout.split()[-3:])
    assert (before, after) == (0, 0)
    if connection.vendor == "sqlite":
        assert temp_store == 0  # the default: files
