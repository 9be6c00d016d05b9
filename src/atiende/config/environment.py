"""Reading the server's environment: where data lives and the values settings derive from.

Kept apart from settings.py so that the command-line wrapper can use it before Django starts.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


def data_dir() -> Path:
    """The folder that holds the embedded database, the task queue, uploads and the secret key."""
    path = Path(os.environ.get("ATIENDE_DATA_DIR", "var")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def secret_key(folder: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder.

    The key is written to a private temporary file first and then hard-linked into place, which
    fails if the name exists: two processes starting at once (web and worker) cannot each keep a
    different key, and the loser never reads a file the winner has created but not yet written.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = folder / "secret_key"
    if not key_file.exists():
        key = secrets.token_urlsafe(50)
        fd, draft = tempfile.mkstemp(dir=folder, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key + "\n")
            os.link(draft, key_file)
            return key
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            os.unlink(draft)
    key = key_file.read_text(encoding="ascii").strip()
    if key:
        return key
    raise RuntimeError(f"{key_file} is empty; delete it to generate a new key")
