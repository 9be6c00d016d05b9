from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_past_the_limit_the_api_answers_429_with_retry_after(
    api_as: Any, agent: Any, settings: Any
) -> None:
    settings.ATIENDE_API_RATE_LIMIT = 3
    settings.ATIENDE_API_RATE_WINDOW = 60
    api = api_as(agent)
    other = api_as(agent)

    statuses = [api.get("/api/v1/teams").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/v1/teams")
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # The limit is per token.
    assert other.get("/api/v1/teams").status_code == 200


def test_the_window_resets(agent: Any, settings: Any) -> None:
    from atiende.api.errors import ApiError
    from atiende.api.ratelimit import check_rate

    settings.ATIENDE_API_RATE_LIMIT = 1
    settings.ATIENDE_API_RATE_WINDOW = 10
    check_rate(99, now=1000.0)
    with pytest.raises(ApiError) as raised:
        check_rate(99, now=1003.0)
    assert raised.value.headers == {"Retry-After": "7"}
    check_rate(99, now=1010.0)
