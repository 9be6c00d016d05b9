import multiprocessing
import os
import stat
from pathlib import Path

from atiende.config import environment


def test_secret_key_is_generated_once_kept_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = environment.secret_key(tmp_path)
    assert len(first) >= 50
    assert environment.secret_key(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def _key_of(folder: str) -> str:
    return environment.secret_key(Path(folder))


def test_processes_starting_at_once_share_one_complete_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    # Web, worker and more start together: every one must read the same, fully written key.
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        keys = pool.map(_key_of, [str(tmp_path)] * 24)
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 50
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key"]


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert environment.secret_key(tmp_path) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_data_folder_comes_from_the_environment_and_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("ATIENDE_DATA_DIR", str(tmp_path / "nested" / "data"))
    assert environment.data_dir() == tmp_path / "nested" / "data"
    assert (tmp_path / "nested" / "data").is_dir()


def test_lists_and_flags_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.example, b.example ,")
    monkeypatch.setenv("X_FLAG", "yes")
    assert environment.env_list("X_LIST", []) == ["a.example", "b.example"]
    assert environment.env_bool("X_FLAG") is True
    assert environment.env_bool("X_MISSING", default=True) is True
