"""Our schemathesis check on its own: which 422s to schema-valid requests it lets through."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from atiende.api.tests.schemathesis_hooks import schema_valid_request_passes_the_shape_checks


def _case(positive: bool) -> Any:
    mode = SimpleNamespace(is_positive=positive)
    return SimpleNamespace(meta=SimpleNamespace(generation=SimpleNamespace(mode=mode)))


def _answer(status: int, body: dict[str, Any]) -> Any:
    return SimpleNamespace(status_code=status, content=json.dumps(body).encode())


def _error(code: str, *details: str) -> dict[str, Any]:
    return {"code": code, "details": [{"field": "", "code": detail} for detail in details]}


@pytest.mark.parametrize(
    ("positive", "status", "body"),
    [
        (True, 422, _error("validation_failed", "merge_into_itself")),  # a domain rule
        (True, 422, _error("invalid_cursor")),
        (True, 422, _error("invalid_request", "nul_character")),  # named in the module
        (True, 200, {"id": 1}),
        (False, 422, _error("invalid_request", "missing")),  # a negative case: refusing is right
    ],
)
def test_passes(positive: bool, status: int, body: dict[str, Any]) -> None:
    schema_valid_request_passes_the_shape_checks(None, _answer(status, body), _case(positive))


@pytest.mark.parametrize(
    "body",
    [
        _error("invalid_request", "missing"),
        _error("invalid_request", "nul_character", "extra_forbidden"),
        _error("invalid_request"),
    ],
)
def test_a_schema_valid_request_refused_as_malformed_fails(body: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="refused as malformed"):
        schema_valid_request_passes_the_shape_checks(None, _answer(422, body), _case(True))


def test_a_422_without_our_error_body_fails() -> None:
    answer = SimpleNamespace(status_code=422, content=b"<html>")
    with pytest.raises(AssertionError, match="JSON error body"):
        schema_valid_request_passes_the_shape_checks(None, answer, _case(True))
