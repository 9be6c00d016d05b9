from __future__ import annotations

from typing import Any

import pytest
from conftest import PASSWORD
from django.test import Client

from atiende.api.actions import issue_token
from atiende.api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_brand_admin_sees_and_revokes_only_their_brands_tokens(
    brand: Any, other_brand: Any, brand_admin: Any, outsider_admin: Any, agent: Any, system: Any
) -> None:
    ours = issue_token(actor=system, name="ERP Sol", brand=brand).token
    theirs = issue_token(actor=system, name="ERP Telco", brand=other_brand).token
    personal = issue_token(actor=system, name="Alba", user=agent).token
    client = Client()
    client.login(email=brand_admin.email, password=PASSWORD)

    listing = client.get("/admin/api/apitoken/")
    assert listing.status_code == 200
    assert b"ERP Sol" in listing.content
    assert b"ERP Telco" not in listing.content
    assert b"Alba" not in listing.content
    assert client.get(f"/admin/api/apitoken/{theirs.pk}/change/").status_code in {302, 403, 404}
    assert ours.hash.encode() not in client.get(f"/admin/api/apitoken/{ours.pk}/change/").content

    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [ours.pk, theirs.pk, personal.pk]},
    )
    revoked = set(ApiToken.objects.filter(revoked_at__isnull=False).values_list("name", flat=True))
    assert revoked == {"ERP Sol"}
