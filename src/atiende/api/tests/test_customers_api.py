from __future__ import annotations

from typing import Any

import pytest

from atiende.customers.models import Customer, CustomerEvent

pytestmark = pytest.mark.django_db


def test_a_customer_is_created_with_identities_and_found_by_each(
    api_as: Any, agent: Any, brand: Any
) -> None:
    api = api_as(agent)
    response = api.post(
        "/api/v1/customers",
        {
            "brand": brand.slug,
            "name": "Lucía López",
            "language": "es",
            "city": "Sevilla",
            "identities": [
                {"kind": "email", "value": "Lucia@Example.com", "is_primary": True},
                {"kind": "phone", "value": "+34 611 222 333"},
            ],
        },
    )

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["city"] == "Sevilla"
    assert {identity["value"] for identity in created["identities"]} == {
        "lucia@example.com",
        "+34611222333",
    }
    for params in (
        {"crn": created["crn"]},
        {"crn": created["crn"].replace("-", "").lower()},
        {"email": "lucia@example.com"},
        {"phone": "+34 611 222 333"},
        {"phone": "611222333", "brand": brand.slug},
    ):
        found = api.get("/api/v1/customers/lookup", params)
        assert found.status_code == 200, (params, found.content)
        assert found.json()["id"] == created["id"]


def test_a_lookup_needs_exactly_one_key_and_a_valid_crn(api_as: Any, agent: Any) -> None:
    api = api_as(agent)
    assert api.get("/api/v1/customers/lookup").json()["code"] == "validation_failed"
    crn = api.get("/api/v1/customers/lookup", {"crn": "ABC-123"})
    assert (crn.status_code, crn.json()["code"]) == (422, "invalid_crn")
    missing = api.get("/api/v1/customers/lookup", {"email": "nadie@example.com"})
    assert missing.status_code == 404


def test_a_taken_identity_is_refused_with_its_code(
    api_as: Any, agent: Any, brand: Any, customer: Any
) -> None:
    response = api_as(agent).post(
        "/api/v1/customers",
        {"brand": brand.slug, "identities": [{"kind": "email", "value": "carmen@example.com"}]},
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["code"] == "duplicate_identity"
    assert Customer.objects.count() == 1


def test_a_customer_is_updated_and_the_change_recorded(
    api_as: Any, agent: Any, customer: Any
) -> None:
    response = api_as(agent).patch(
        f"/api/v1/customers/{customer.pk}",
        {"name": "Carmen Cliente Ruiz", "consent_email": True, "postal_code": None},
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Carmen Cliente Ruiz"
    assert response.json()["consent_email"] is True
    assert CustomerEvent.objects.filter(customer=customer, type="customer.updated").exists()


def test_identities_are_added_and_removed(api_as: Any, agent: Any, customer: Any) -> None:
    api = api_as(agent)
    added = api.post(
        f"/api/v1/customers/{customer.pk}/identities", {"kind": "email", "value": "c2@example.com"}
    )
    assert added.status_code == 201, added.content
    removed = api.delete(f"/api/v1/customers/{customer.pk}/identities/{added.json()['id']}")
    assert removed.status_code == 204
    assert not customer.identities.filter(value="c2@example.com").exists()


def test_organizations_are_created_listed_and_read(api_as: Any, agent: Any, brand: Any) -> None:
    api = api_as(agent)
    created = api.post("/api/v1/organizations", {"brand": brand.slug, "name": "Acme"})
    assert created.status_code == 201, created.content
    listed = api.get("/api/v1/organizations").json()["items"]
    assert [item["name"] for item in listed] == ["Acme"]
    assert api.get(f"/api/v1/organizations/{created.json()['id']}").json()["brand"] == "tienda"


def test_teams_and_agents_are_read(
    api_as: Any, agent: Any, team: Any, outsider: Any, supervisor: Any
) -> None:
    api = api_as(agent)
    assert [item["name"] for item in api.get("/api/v1/teams").json()["items"]] == ["Soporte"]
    assert api.get(f"/api/v1/teams/{team.pk}").status_code == 200
    agents = {item["id"] for item in api.get("/api/v1/agents").json()["items"]}
    assert agents == {agent.pk, supervisor.pk}
    assert api.get(f"/api/v1/agents/{outsider.pk}").status_code == 404
