"""The verification recipes of docs/webhooks.md, copied from the page, accept a real delivery and
refuse a tampered one: the documentation cannot drift from the signing code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from atiende.conversations.actions import change_status

DOCS = Path(__file__).resolve().parents[4] / "docs" / "webhooks.md"


def code_block(language):
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert blocks, f"no {language} block in {DOCS}"
    return blocks[0]


@pytest.fixture
def delivered(receiver, subscribe, brand, conversation, system, django_capture_on_commit_callbacks):
    _subscription, secret = subscribe(brand, ["conversation.status_changed"])
    with django_capture_on_commit_callbacks(execute=True):
        change_status(conversation=conversation, status="open", actor=system)
    [request] = receiver.requests
    return secret, request


def test_the_documented_python_recipe_verifies_a_real_delivery(delivered):
    secret, request = delivered
    namespace: dict = {}
    exec(code_block("python"), namespace)  # noqa: S102 (our own documentation)
    verify = namespace["verify_atiende_webhook"]
    timestamp = request.headers["Atiende-Webhook-Timestamp"]
    signature = request.headers["Atiende-Webhook-Signature"]
    assert verify(secret, request.body, timestamp, signature)
    assert not verify(secret, request.body + b"\n", timestamp, signature)
    assert not verify(secret, request.body, str(int(timestamp) - 3600), signature)
    assert not verify("whsec_wrong", request.body, timestamp, signature)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_documented_openssl_recipe_verifies_a_real_delivery(delivered, tmp_path):
    secret, request = delivered
    script = code_block("sh").split("\n", 1)[1]  # the first line sets example values
    (tmp_path / "body.json").write_bytes(request.body)

    def run(secret):
        env = {
            "PATH": "/usr/bin:/bin",
            "SECRET": secret,
            "TIMESTAMP": request.headers["Atiende-Webhook-Timestamp"],
            "SIGNATURE": request.headers["Atiende-Webhook-Signature"],
        }
        return subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert run(secret) == "valid"
    assert run("whsec_wrong") == "INVALID"
