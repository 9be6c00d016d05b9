"""The committed OpenAPI document against a live ``atiende serve``: schemathesis generates
requests from it, in all four phases, and runs every check it has on the answers — none a server
error, every one documented (status, content type, headers, body), schema-violating requests
refused, schema-valid ones accepted or refused only by a rule of the domain, authentication not
ignored, deleted resources gone.

The server is a real process on this test's database (committed rows: ``transaction=True``)
with data made by actions, and the document is the committed ``openapi.json``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from atiende.accounts.actions import add_team_member
from atiende.api.actions import issue_token
from atiende.api.openapi_document import DEFAULT_PATH
from atiende.conversations.actions import add_internal_note, reply_to_conversation
from atiende.conversations.attachments import IncomingAttachment
from atiende.core.testing import child_environment, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 150.0
HERE = Path(__file__).parent
# Every check schemathesis has, ours included (schemathesis_hooks.py), configured by
# schemathesis.toml: 422 is an accepted answer to a schema-valid request only for a domain rule.
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "schemathesis_hooks.py"


def _wait_for(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not start: {log.read_text()}")


@pytest.fixture
def world(
    brand: Any, agent: Any, supervisor: Any, team: Any, conversation: Any, system: Any
) -> Any:
    add_team_member(team=team, user=agent, actor=system)
    reply_to_conversation(
        conversation=conversation, actor=agent, body_text="Lo reviso",
        attachments=[IncomingAttachment(filename="nota.txt", content=b"hola")],
    )  # fmt: skip
    add_internal_note(conversation=conversation, actor=agent, body_text="Pedido 1001")
    return issue_token(actor=system, name="schemathesis", user=supervisor).secret


@pytest.mark.skipif(shutil.which("st", path=str(Path(sys.executable).parent)) is None,
                    reason="schemathesis is in the dev extra")  # fmt: skip
def test_every_answer_of_the_live_api_is_documented(world: str, tmp_path: Path) -> None:
    port = free_port()
    environment = {**child_environment(tmp_path), "ATIENDE_API_RATE_LIMIT": "0"}
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "atiende", "serve", "--port", str(port),
             "--no-collectstatic", "--no-access-log"],
            stdout=output, stderr=subprocess.STDOUT, env=environment,
        )  # fmt: skip
        try:
            _wait_for(port, server, log)
            run = subprocess.run(
                [
                    str(Path(sys.executable).parent / "st"), "--config-file", str(CONFIG),
                    "run", str(DEFAULT_PATH),
                    "--url", f"http://127.0.0.1:{port}",
                    "--header", f"Authorization: Bearer {world}",
                    "--checks", "all",
                    "--phases", "examples,coverage,fuzzing,stateful",
                    "--max-examples", "15",
                    "--workers", "1",
                    "--request-timeout", "20",
                    "--seed", "1",
                    "--no-color",
                ],
                cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                env={**environment, "SCHEMATHESIS_HOOKS": str(HOOKS)},
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=20)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report + log.read_text()[-5000:]
