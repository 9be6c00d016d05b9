"""Fixtures for the inbox's tests, on top of the personas in the repository's conftest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD
from django.test import Client


@pytest.fixture
def sign_in(client: Client) -> Callable[[Any], Client]:
    def sign_in_as(user: Any) -> Client:
        assert client.login(username=user.email, password=PASSWORD)
        return client

    return sign_in_as
