from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from atiende.api.errors import CODES
from atiende.api.openapi_document import DEFAULT_PATH, openapi_text


def test_the_committed_openapi_document_is_current() -> None:
    call_command("export_openapi", "--check", stdout=StringIO())


def test_the_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    with pytest.raises(CommandError):
        call_command("export_openapi", "--check", "--output", str(stale), stdout=StringIO())
    call_command("export_openapi", "--output", str(stale), stdout=StringIO())
    assert stale.read_text() == openapi_text()


def test_every_operation_documents_its_errors_and_posts_their_idempotency_key() -> None:
    document = json.loads(DEFAULT_PATH.read_text())
    assert document["info"]["version"] == "1"
    for path, operations in document["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"401", "403", "404", "422", "429"} <= statuses, (method, path)
            assert any(status.startswith("2") for status in statuses), (method, path)
            assert operation["security"] == [{"TokenAuth": []}]
            if method == "post":
                headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
                assert "Idempotency-Key" in headers, path


def test_every_error_code_has_a_message() -> None:
    assert all(str(message).strip() for message in CODES.values())
    assert all(code == code.lower() and " " not in code for code in CODES)


@pytest.mark.django_db
def test_the_docs_are_served_without_a_token() -> None:
    client = Client()
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "Atiende API"


@pytest.mark.django_db
def test_errors_speak_the_callers_language_with_the_same_code(api_as: Any, agent: Any) -> None:
    api = api_as(agent)
    english = api.get("/api/v1/conversations/999999", **{"Accept-Language": "en"})
    assert english.json() == {"code": "not_found", "message": "Not found.", "details": []}


@pytest.mark.django_db
def test_a_persons_chosen_language_wins_over_the_browsers(
    api_as: Any, agent: Any, customer: Any
) -> None:
    from atiende.accounts.actions import update_preferences

    update_preferences(user=agent, actor=agent, language="es")
    response = api_as(agent).post(
        "/api/v1/conversations",
        {"customer_id": customer.pk, "channel": "pigeon", "body_text": "x"},
        **{"Accept-Language": "en"},
    )
    assert response.json()["code"] == "validation_failed"
    assert response.json()["details"][0]["message"] == "pigeon no es un canal."
