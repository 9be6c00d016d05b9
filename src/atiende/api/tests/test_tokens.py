from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from atiende.api.actions import hash_token, issue_token, revoke_token
from atiende.api.models import ApiToken, ApiTokenEvent

pytestmark = pytest.mark.django_db


def _all_text_in_the_token_table() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        return repr(cursor.fetchall())


def test_the_secret_is_stored_only_as_its_sha256(agent: Any, system: Any) -> None:
    issued = issue_token(actor=system, name="CRM", user=agent)

    assert issued.secret.startswith("atd_")
    assert len(issued.secret) > 40
    stored = ApiToken.objects.get()
    assert stored.hash == hash_token(issued.secret)
    assert stored.prefix == issued.secret[:12]
    assert issued.secret not in _all_text_in_the_token_table()
    assert ApiTokenEvent.objects.get().type == "token.issued"


def test_a_valid_token_is_accepted_and_its_use_is_recorded(api_as: Any, agent: Any) -> None:
    api = api_as(agent)
    assert ApiToken.objects.get().last_used_at is None

    response = api.get("/api/v1/conversations")

    assert response.status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer atd_not-a-token", "Basic dXNlcjpwYXNz"]
)
def test_a_missing_or_unknown_token_is_401_with_a_code(authorization: str, db: Any) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = Client().get("/api/v1/conversations", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_stops_working(api_as: Any, agent: Any) -> None:
    api = api_as(agent)
    assert api.get("/api/v1/conversations").status_code == 200

    revoke_token(token=ApiToken.objects.get(), actor=agent)

    response = api.get("/api/v1/conversations")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_an_expired_token_stops_working(api_as: Any, agent: Any, system: Any) -> None:
    issued = issue_token(
        actor=system, name="old", user=agent, expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = Client().get(
        "/api/v1/conversations", headers={"Authorization": f"Bearer {issued.secret}"}
    )
    assert response.status_code == 401


def test_a_deactivated_users_token_stops_working(api_as: Any, agent: Any) -> None:
    api = api_as(agent)
    type(agent).objects.filter(pk=agent.pk).update(is_active=False)

    assert api.get("/api/v1/conversations").status_code == 401


def test_people_issue_personal_tokens_only_for_themselves(agent: Any, supervisor: Any) -> None:
    issue_token(actor=agent, name="mine", user=agent)
    with pytest.raises(PermissionDenied):
        issue_token(actor=supervisor, name="theirs", user=agent)


def test_only_a_brands_administrator_issues_its_integration_tokens(
    brand: Any, agent: Any, brand_admin: Any, outsider_admin: Any
) -> None:
    issue_token(actor=brand_admin, name="ERP", brand=brand, scopes=["read"])
    for actor in (agent, outsider_admin):
        with pytest.raises(PermissionDenied):
            issue_token(actor=actor, name="ERP", brand=brand, scopes=["read"])


def test_the_command_prints_a_working_personal_token(agent: Any) -> None:
    out = StringIO()
    call_command("issue_api_token", "--user", agent.email, stdout=out, stderr=StringIO())

    secret = out.getvalue().strip()
    response = Client().get("/api/v1/conversations", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert ApiToken.objects.get().user == agent


def test_the_command_issues_integration_tokens_with_scopes(brand: Any, brand_admin: Any) -> None:
    out = StringIO()
    call_command(
        "issue_api_token",
        "--user",
        brand_admin.email,
        "--brand",
        brand.slug,
        "--scopes",
        "read",
        stdout=out,
        stderr=StringIO(),
    )
    token = ApiToken.objects.get()
    assert (token.user, token.brand, token.scopes) == (None, brand, ["read"])


def test_the_command_refuses_an_integration_token_to_someone_who_does_not_configure_the_brand(
    brand: Any, agent: Any
) -> None:
    with pytest.raises(CommandError):
        call_command(
            "issue_api_token", "--user", agent.email, "--brand", brand.slug, stderr=StringIO()
        )
    assert not ApiToken.objects.exists()


def test_the_revoke_command_revokes_by_prefix(agent: Any, system: Any) -> None:
    issued = issue_token(actor=system, name="x", user=agent)
    call_command("revoke_api_token", issued.token.prefix, stdout=StringIO())
    assert ApiToken.objects.get().revoked_at is not None


def test_unknown_scopes_are_refused(agent: Any, system: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        issue_token(actor=system, name="x", user=agent, scopes=["everything"])
