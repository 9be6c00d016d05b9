"""Count instructions of one part of a run under callgrind: ``counted()`` marks it.

Under ``valgrind --tool=callgrind --collect-atstart=no`` with ``ATIENDE_CALLGRIND_MARKS=1`` in
the environment, the body of ``with counted():`` is the only part of the process whose
instructions callgrind collects (Python's and SQLite's alike: no setup, no import, no report to
subtract). Anywhere else it does nothing. Callgrind's client request is a macro of its C header,
so the mark is a two-line C function, compiled on first use (a C compiler and Debian's valgrind
headers: both on every machine here) and called through ctypes.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SOURCE = """
#include <valgrind/callgrind.h>
void atiende_toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def _toggle() -> ctypes._NamedFuncPointer:
    scratch = Path(tempfile.mkdtemp(prefix="atiende-callgrind-marks-"))
    (scratch / "marks.c").write_text(_SOURCE)
    command = [
        "cc",
        "-shared",
        "-fPIC",
        "-O1",
        "-o",
        str(scratch / "marks.so"),
        str(scratch / "marks.c"),
    ]
    subprocess.run(command, check=True)  # noqa: S603
    return ctypes.CDLL(str(scratch / "marks.so")).atiende_toggle_collect


@contextmanager
def counted() -> Iterator[None]:
    if os.environ.get("ATIENDE_CALLGRIND_MARKS") != "1":
        yield
        return
    toggle = _toggle()
    toggle()
    try:
        yield
    finally:
        toggle()
