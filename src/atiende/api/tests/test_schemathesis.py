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
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from atiende.accounts.actions import add_team_member
from atiende.api.actions import issue_token
from atiende.api.openapi_document import DEFAULT_PATH
from atiende.conversations.actions import add_internal_note, reply_to_conversation
from atiende.conversations.attachments import IncomingAttachment
from atiende.core.testing import child_environment, running_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STARTUP_TIMEOUT = 60.0
RUN_TIMEOUT = 150.0
HERE = Path(__file__).parent
# Every check schemathesis has, ours included (schemathesis_hooks.py), configured by
# schemathesis.toml: 422 is an accepted answer to a schema-valid request only for a domain rule.
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "schemathesis_hooks.py"


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
    environment = {**child_environment(tmp_path), "ATIENDE_API_RATE_LIMIT": "0"}
    with running_server(tmp_path, environment, startup_timeout=STARTUP_TIMEOUT) as server:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"), "--config-file", str(CONFIG),
                "run", str(DEFAULT_PATH),
                "--url", server.url,
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
        server_output = server.output()
    report = run.stdout + run.stderr
    assert run.returncode == 0, report + server_output[-5000:]
