from __future__ import annotations

import pytest
from conftest import PASSWORD
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_of_home_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/"


def test_sign_in_page_shows_the_email_and_password_fields(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'type="email"' in page
    assert 'autocomplete="username"' in page
    assert 'type="password"' in page
    assert "csrfmiddlewaretoken" in page


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("en", "That email address and password do not match an account."),
        ("es", "El correo electrónico y la contraseña no corresponden a ninguna cuenta."),
    ],
)
def test_wrong_password_shows_a_translated_error(client, agent, accept_language, expected):
    response = client.post(
        "/login/",
        {"username": agent.email, "password": "not-the-password"},
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert expected in page
    assert 'role="alert"' in page
    assert SESSION_KEY not in client.session


def test_signing_in_lands_on_home(client, agent):
    response = client.post("/login/", {"username": agent.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert response.status_code == 200
    assert "Alba" in response.content.decode()
    assert client.session[SESSION_KEY] == str(agent.pk)


def test_signing_in_accepts_the_email_in_any_case(client, agent):
    response = client.post("/login/", {"username": "  Agente@Tienda.TEST ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/"


def test_signing_in_returns_to_the_page_asked_for(client, agent, conversation):
    target = reverse("web:conversation", args=[conversation.brand.slug, conversation.number])
    response = client.post(
        f"/login/?next={target}", {"username": agent.email, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.url == target


def test_signed_in_user_opening_sign_in_goes_home(sign_in, agent):
    client = sign_in(agent)
    response = client.get("/login/")
    assert response.status_code == 302
    assert response.url == "/"


def test_sign_out_is_a_post_form_with_csrf_on_every_page(sign_in, agent):
    client = sign_in(agent)
    page = client.get("/").content.decode()
    form_start = page.index('action="/logout/"')
    form = page[page.rindex("<form", 0, form_start) : page.index("</form>", form_start)]
    assert 'method="post"' in form
    assert "csrfmiddlewaretoken" in form


def test_signing_out_needs_post_and_ends_the_session(sign_in, agent):
    client = sign_in(agent)
    assert client.get("/logout/").status_code == 405
    assert SESSION_KEY in client.session
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response.url == "/login/"
    assert SESSION_KEY not in client.session
    assert client.get("/").status_code == 302
