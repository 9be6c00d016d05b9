"""Reading mail archives for import: single .eml files, folders of them, and mbox files."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
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
    """Every message under ``paths``, in a stable order (sorted file names, mbox order)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(candidate for candidate in path.rglob("*") if candidate.is_file()):
                if child.suffix.lower() in MESSAGE_SUFFIXES or child.suffix.lower() == ".mbox":
                    yield from _messages_of_file(child)
        elif path.is_file():
            yield from _messages_of_file(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")


def _messages_of_file(path: Path) -> Iterator[ArchivedMessage]:
    if is_mbox(path):
        for index, message in enumerate(mailbox.mbox(path, create=False), start=1):
            yield ArchivedMessage(f"{path}#{index}", message.as_bytes())
    else:
        yield ArchivedMessage(str(path), path.read_bytes())


def count_messages(paths: list[Path]) -> int:
    """How many messages an import will read (for the progress bar); mbox files are scanned."""
    return sum(1 for _ in messages_in(paths))
