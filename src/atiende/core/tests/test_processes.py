"""Long-running processes set themselves up once loaded (core/processes.py): the worker,
import-mail and process-inbound freeze what they loaded out of the garbage collector's reach, as
the web server's processes do (core/tests/test_serving.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from atiende.core.testing import child_environment

# In a fresh process: a management command run as ``atiende NAME`` would run it, then how many
# objects were frozen before and after. The worker's consumer loop (huey's run_huey, which runs
# until stopped) is left out: what is checked happens before it starts.
PROBE = """
import gc, sys, django
django.setup()
from django.core.management import call_command
import atiende.core.management.commands.worker as worker
worker.call_command = lambda *args, **kwargs: None
before = gc.get_freeze_count()
call_command(*sys.argv[1:])
print(before, gc.get_freeze_count())
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
    before, after = map(int, completed.stdout.split()[-2:])
    assert before == 0
    assert after > 50_000  # Django, the apps and their modules
