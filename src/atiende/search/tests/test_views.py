"""The search page, its CSV download, and the API's search endpoint."""

from __future__ import annotations

import csv
import io
from typing import Any

from conftest import PASSWORD
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from atiende.accounts.permissions import forget_brand_roles
from atiende.conversations.actions import start_conversation


def _signed_in(client: Client, user: Any) -> Client:
    assert client.login(username=user.email, password=PASSWORD)
    # The page in English, the source language, whatever the catalogues say.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_the_page_needs_a_signed_in_user(client: Client) -> None:
    response = client.get("/search/", {"q": "pedido"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_results_link_to_the_conversation_with_escaped_highlighted_snippets(
    client: Client, agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    conversation = start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="Paquete",
        body_text="<img src=x onerror=alert(1)> el paquete llegó roto",
    )
    response = _signed_in(client, agent).get("/search/", {"q": "paquete roto"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="/c/{brand.slug}/{conversation.number}/"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    assert "<mark>roto</mark>" in page
    assert "search/search.css" in page


def test_an_empty_search_and_a_search_without_results_explain_what_to_do(
    client: Client, agent: Any, conversation: Any
) -> None:
    signed_in = _signed_in(client, agent)
    empty = signed_in.get("/search/").content.decode()
    assert "Search conversations, messages and customers." in empty
    nothing = signed_in.get("/search/", {"q": "<zzz>", "status": "solved"}).content.decode()
    assert "Nothing found for “&lt;zzz&gt;”." in nothing
    assert "Search again without filters" in nothing


def test_the_page_costs_the_same_queries_for_one_or_many_results(
    client: Client, agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    signed_in = _signed_in(client, agent)

    def queries_for_page() -> int:
        forget_brand_roles(agent)
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get("/search/", {"q": "bicicleta"}).status_code == 200
        return len(captured)

    def start(subject: str) -> None:
        start_conversation(
            brand=brand,
            customer=customer,
            channel="chat",
            actor=system,
            subject=subject,
            body_text="La bicicleta no frena",
        )

    start("Uno")
    one = queries_for_page()
    for n in range(8):
        start(f"Otro {n}")
    assert queries_for_page() == one


def test_results_download_as_csv(client: Client, agent: Any, conversation: Any) -> None:
    response = _signed_in(client, agent).get("/search/", {"q": "lunes", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Reference", "Customer", "CRN", "Subject"]
    assert rows[1][0] == conversation.reference
    assert rows[1][4] == "Message"
    assert "lunes" in rows[1][5]
    assert "<mark>" not in rows[1][5]
    assert len(rows) == 2


def test_a_filter_value_that_does_not_exist_is_ignored(
    client: Client, agent: Any, conversation: Any
) -> None:
    signed_in = _signed_in(client, agent)
    page = signed_in.get(
        "/search/", {"q": "lunes", "status": "nonsense", "brand": "x", "after": "!!"}
    )
    assert page.status_code == 200
    assert f'href="/c/tienda/{conversation.number}/"' in page.content.decode()


def test_the_api_searches_with_the_same_index_and_pages_by_cursor(
    api_as: Any, agent: Any, brand: Any, customer: Any, system: Any
) -> None:
    created = [
        start_conversation(
            brand=brand,
            customer=customer,
            channel="email",
            actor=system,
            subject=f"Tostadora {n}",
            body_text="La tostadora quema el pan",
        ).pk
        for n in range(3)
    ]
    api = api_as(agent)
    first = api.get("/api/v1/search/conversations", {"q": "tostadora", "limit": 2}).json()
    second = api.get(
        "/api/v1/search/conversations",
        {"q": "tostadora", "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert sorted(ids) == sorted(created)
    assert second["next_cursor"] is None
    bad = api.get("/api/v1/search/conversations", {"q": "tostadora", "cursor": "zz"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


def test_an_integration_token_searches_only_its_brand(
    api_as: Any, brand: Any, other_brand: Any, conversation: Any, other_conversation: Any
) -> None:
    api = api_as(brand=other_brand, scopes=["read"])
    items = api.get("/api/v1/search/conversations", {"q": "pedido portabilidad"}).json()["items"]
    assert items == []
    items = api.get("/api/v1/search/conversations", {"q": "portabilidad"}).json()["items"]
    assert [item["id"] for item in items] == [other_conversation.pk]
    assert api.get("/api/v1/search/conversations", {"q": "pedido"}).json()["items"] == []
