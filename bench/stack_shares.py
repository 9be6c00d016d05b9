"""Shares of a sampled profile's time, from py-spy's raw output.

    py-spy record -r 250 -f raw -o FILE -- .venv/bin/python bench/ingest.py -n 2000 --quiet
    .venv/bin/python bench/stack_shares.py FILE --root process_inbound_batch \\
        parse_mail "message_from_bytes>re/_" "=SQLiteCursorWrapper.execute"

Each line of FILE is one stack (frames joined by ``;``, outermost first) and how many samples
ended in it. Only the samples under ``--root`` (a frame containing it) are counted. A pattern
``A`` counts the samples with a frame containing ``A`` (time spent in it and below); ``A>B``
those with a frame containing ``B`` below one containing ``A``; ``=A`` those whose innermost
frame contains ``A`` (time spent in it alone), and ``A>=B`` those of them below ``A``. Py-spy is not a project dependency
(``pip install py-spy``).

``--by-package`` (no patterns needed) groups the time spent in each frame alone by where its
code lives: SQLite running a statement (Django's SQLite cursor's execute and executemany, which
hold the C call, as do ``core.statements``' two functions that run statements on SQLite's own
cursor: their little Python is counted with it), Django's ORM (``django/db/models``), its
database layer, the rest of Django, the project's modules one by one, and every other package
or standard-library module.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def matches(frames: list[str], pattern: str) -> bool:
    if pattern.startswith("="):
        return pattern[1:] in frames[-1]
    outer, _, inner = pattern.partition(">")
    for position, frame in enumerate(frames):
        if outer in frame:
            if inner.startswith("="):
                return position < len(frames) - 1 and inner[1:] in frames[-1]
            return not inner or any(inner in below for below in frames[position + 1 :])
    return False


def package_of(frame: str) -> str:
    """Where a frame's code lives, for --by-package (see the module's doc)."""
    start = frame.rfind(" (")
    path = frame[start + 2 :].rsplit(":", 1)[0] if start >= 0 else frame
    if ("django/db/backends/sqlite3/base.py" in path and ".execute" in frame) or (
        "atiende/core/statements.py" in path and frame.startswith(("_run_on_sqlite", "_execute"))
    ):
        return "SQLite executing statements"
    for prefix, name in (
        ("django/db/models", "Django: ORM (django/db/models)"),
        ("django/db", "Django: database layer"),
        ("django/", "Django: the rest"),
    ):
        if prefix in path:
            return name
    if "atiende/" in path:
        return path[path.index("atiende/") :]
    return path.split("/", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="py-spy record -f raw output")
    parser.add_argument("patterns", nargs="*", help="A, A>B or =A (see the module's doc)")
    parser.add_argument("--root", default="", help="count only samples under this frame")
    parser.add_argument(
        "--by-package",
        type=int,
        default=0,
        metavar="N",
        help="the N places where the most time was spent alone, grouped by package",
    )
    options = parser.parse_args()
    stacks = [
        (frames, count)
        for frames, count in read_stacks(options.file)
        if not options.root or any(options.root in frame for frame in frames)
    ]
    total = sum(count for _frames, count in stacks)
    print(f"{total} samples under {options.root or 'everything'}")
    for pattern in options.patterns:
        share = sum(count for frames, count in stacks if matches(frames, pattern))
        print(f"  {100 * share / max(1, total):5.1f} %  {pattern}")
    if options.by_package:
        by_package: dict[str, int] = {}
        for frames, count in stacks:
            package = package_of(frames[-1])
            by_package[package] = by_package.get(package, 0) + count
        ranked = sorted(by_package.items(), key=lambda item: -item[1])[: options.by_package]
        for package, count in ranked:
            print(f"  {100 * count / max(1, total):5.1f} %  {package} (alone)")


if __name__ == "__main__":
    main()
