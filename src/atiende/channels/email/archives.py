"""Reading mail archives for import: single .eml files, folders of them, and mbox files."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

MESSAGE_SUFFIXES = {".eml", ".box", ".msg", ".txt", ""}


@dataclass(frozen=True)
class ArchivedMessage:
    # "path/to/file.eml", or "path/to/archive.mbox#12" for the 12th message of an mbox.
    label: str
    raw: bytes


def is_mbox(path: Path) -> bool:
    """An mbox starts with a "From " separator line (a single message starts with headers)."""
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def messages_in(paths: list[Path]) -> Iterator[ArchivedMessage]:
    """Every message under ``paths``, in a stable order (sorted file names, mbox order), as the
    bytes the archive holds."""
    for path in _files(paths):
        if is_mbox(path):
            with closing(mailbox.mbox(path, create=False)) as box:
                for index, key in enumerate(box.iterkeys(), start=1):
                    # The bytes between the "From " lines as they are: no message object is
                    # made of them (iterating the mbox parsed every message and wrote it out
                    # again, slower than the rest of an import and not byte for byte: long
                    # headers folded anew, a blank line put before a malformed header).
                    yield ArchivedMessage(f"{path}#{index}", box.get_bytes(key))
        else:
            yield ArchivedMessage(str(path), path.read_bytes())


def count_messages(paths: list[Path]) -> int:
    """How many messages an import will read (for the progress bar): mbox files are scanned for
    their "From " lines, nothing is parsed."""
    total = 0
    for path in _files(paths):
        if is_mbox(path):
            with closing(mailbox.mbox(path, create=False)) as box:
                total += len(box)
        else:
            total += 1
    return total


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(candidate for candidate in path.rglob("*") if candidate.is_file()):
                if child.suffix.lower() in MESSAGE_SUFFIXES or child.suffix.lower() == ".mbox":
                    yield child
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path} does not exist")
