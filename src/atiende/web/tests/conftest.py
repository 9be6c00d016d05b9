"""Fixtures for the web interface's tests, on top of the personas in the repository's conftest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import PASSWORD
from django.test import Client


@pytest.fixture
def sign_in(client: Client) -> Callable[[Any], Client]:
    """Sign ``user`` in through the real authentication backend, as the login form does."""

    def sign_in_as(user: Any) -> Client:
        assert client.login(username=user.email, password=PASSWORD)
        return client

    return sign_in_as
