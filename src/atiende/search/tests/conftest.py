"""The API's token client, for the search endpoint's tests."""

from atiende.api.tests.conftest import _fresh_rate_counts, api_as  # noqa: F401
