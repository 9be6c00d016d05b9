"""SQLite's own work storing and processing the ingest bench's mail, in instructions, not seconds.

    .venv/bin/python bench/sqlite_work.py                 # this tree, -n 200
    .venv/bin/python bench/sqlite_work.py --tree /tmp/base --tree .   # two trees side by side

A change of a few per cent in what SQLite does (an index fewer, a statement cheaper) is lost in
this machine's swings of a third between runs. Valgrind's callgrind counts the instructions
executed below ``sqlite3_step`` (every statement SQLite runs, its B-trees and pages, not Python
and not the time spent waiting for the disk): the same count, within a few hundredths of a per
cent, whatever else the machine is doing. Two runs per tree, side by side on the two cores:
``bench/ingest.py -n N --store-together 100`` and ``bench/ingest.py --setup-only`` (migrations and
the brand); the difference is the storing and processing of the run's mail (and of the bench's
own counting afterwards, the same for every tree). Each run takes minutes: Python under valgrind
runs about fifty times slower. ``PYTHONHASHSEED`` is fixed so that both runs of a tree do the same.

``--whole-process`` counts every instruction of the two runs instead (Python's work too: for a
change on the Python side). The setup it subtracts is most of that count and itself varies by
about one per cent between runs, as much as a small change.

``--end-to-end`` counts every instruction of storing and processing alone (Python's and
SQLite's): one run per tree, marked by ``bench/callgrind_marks.py``, nothing subtracted; the
trees run side by side, two at a time.

Needs valgrind (Debian's package; on every machine here).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(
    tree: Path, arguments: list[str], *, whole_process: bool = False, marked: bool = False
) -> int:
    """Instructions callgrind counted below sqlite3_step (or in the whole process, or in its
    part that bench/ingest.py marks: storing and processing) for bench/ingest.py ``arguments``."""
    if marked:
        collect = ["--collect-atstart=no"]
    elif whole_process:
        collect = []
    else:
        collect = ["--collect-atstart=no", "--toggle-collect=sqlite3_step"]
    with tempfile.TemporaryDirectory(prefix="atiende-callgrind-") as scratch:
        completed = subprocess.run(  # noqa: S603  (valgrind, this venv's Python, the bench)
            [  # noqa: S607
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={scratch}/out",
                *collect,
                sys.executable,
                str(tree / "bench" / "ingest.py"),
                *arguments,
                "--quiet",
            ],
            cwd=tree,
            env={
                **os.environ,
                "PYTHONHASHSEED": "0",
                "PYTHONPATH": str(tree / "src"),
                "ATIENDE_CALLGRIND_MARKS": "1" if marked else "0",
            },
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", completed.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{completed.stderr[-2000:]}")
    return int(found.group(1))


def measure(tree: Path, count: int, *, whole_process: bool = False) -> tuple[int, int]:
    """(whole run, setup only): run side by side, one per core."""
    from concurrent.futures import ThreadPoolExecutor

    run = ["-n", str(count), "--store-together", "100"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        whole = pool.submit(instructions, tree, run, whole_process=whole_process)
        setup = pool.submit(instructions, tree, ["--setup-only"], whole_process=whole_process)
        return whole.result(), setup.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200, help="generated messages (default 200)")
    parser.add_argument(
        "--tree",
        action="append",
        type=Path,
        help="a source tree (holding src/ and bench/); repeat to compare (default: this one)",
    )
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="count every instruction of the process (Python's too), not only SQLite's",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="count every instruction of storing and processing alone (one run per tree)",
    )
    options = parser.parse_args()
    trees = options.tree or [ROOT]
    if options.end_to_end:
        end_to_end(trees, options.n)
        return
    what = "every instruction" if options.whole_process else "SQLite instructions"
    print(f"{what} (millions), bench/ingest.py -n {options.n}")
    print(f"{'tree':<40} {'whole run':>10} {'setup':>10} {'store+process':>14}")
    for tree in trees:
        whole, setup = measure(tree.resolve(), options.n, whole_process=options.whole_process)
        print(
            f"{tree!s:<40} {whole / 1e6:>10.1f} {setup / 1e6:>10.1f} {(whole - setup) / 1e6:>14.1f}"
        )


def end_to_end(trees: list[Path], count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run = ["-n", str(count), "--store-together", "100"]
    print(f"every instruction storing and processing (millions), bench/ingest.py -n {count}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = [pool.submit(instructions, tree.resolve(), run, marked=True) for tree in trees]
        for tree, counted in zip(trees, counts, strict=True):
            print(f"{tree!s:<40} {counted.result() / 1e6:>14.1f}")


if __name__ == "__main__":
    main()
