"""Calling the API as a program would: a real token in the Authorization header."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from atiende.api.actions import issue_token


@dataclass
class ApiClient:
    secret: str
    client: Client

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **(headers or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            path, json.dumps(body), content_type="application/json", headers=self._headers(headers)
        )

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> None:
    cache.clear()


@pytest.fixture
def api_as(system: Any) -> Any:
    """``api_as(user)`` or ``api_as(brand=..., scopes=[...])``: a client with a new token."""

    def make(user: Any = None, *, brand: Any = None, scopes: Any = ("read", "write")) -> ApiClient:
        issued = issue_token(actor=system, name="test", user=user, brand=brand, scopes=scopes)
        return ApiClient(secret=issued.secret, client=Client())

    return make
