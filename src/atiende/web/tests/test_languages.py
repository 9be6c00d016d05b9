"""Spanish and English: the browser chooses until the user does."""

from __future__ import annotations

import pytest
from django.conf import settings

from atiende.accounts.actions import update_preferences

pytestmark = pytest.mark.django_db

ENGLISH_TITLE = "Sign in to Atiende"
SPANISH_TITLE = "Inicia sesión en Atiende"


def test_sign_in_page_follows_an_english_browser(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    page = response.content.decode()
    assert '<html lang="en"' in page
    assert ENGLISH_TITLE in page
    assert response["Content-Language"] == "en"


def test_sign_in_page_follows_a_spanish_browser(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5")
    page = response.content.decode()
    assert '<html lang="es"' in page
    assert SPANISH_TITLE in page
    assert "Correo electrónico" in page
    assert "Contraseña" in page


def test_sign_in_page_is_spanish_when_the_browser_names_no_language_we_speak(client):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de").content.decode()
    assert '<html lang="es"' in page
    assert SPANISH_TITLE in page


def test_language_switcher_on_sign_in_page_overrides_the_browser(client):
    page = client.get("/login/?next=/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert 'name="language" value="en"' in page
    assert 'value="/login/?next=/"' in page

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/?next=/"})
    assert response.status_code == 302
    assert response.url == "/login/?next=/"
    page = client.get("/login/?next=/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert ENGLISH_TITLE in page


def test_user_who_chose_english_sees_english_even_if_the_browser_says_spanish(sign_in, agent):
    update_preferences(user=agent, actor=agent, language="en")
    client = sign_in(agent)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es")
    page = response.content.decode()
    assert '<html lang="en"' in page
    assert "Nothing assigned to you" in page
    assert "Sign out" in page
    assert "Cerrar sesión" not in page


def test_user_who_follows_the_browser_sees_the_browsers_language(sign_in, agent):
    client = sign_in(agent)
    assert "Sign out" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Cerrar sesión" in client.get("/", HTTP_ACCEPT_LANGUAGE="es").content.decode()


def test_choosing_spanish_in_preferences_turns_the_interface_spanish(sign_in, agent):
    client = sign_in(agent)
    assert "Preferences" in client.get("/preferences/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    response = client.post(
        "/preferences/",
        {"full_name": "Alba Agente", "language": "es", "time_zone": "Europe/Madrid"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    page = response.content.decode()
    assert response.redirect_chain == [("/preferences/", 302)]
    assert '<html lang="es"' in page
    assert "Preferencias" in page
    assert "Se han guardado tus preferencias." in page
    agent.refresh_from_db()
    assert agent.language == "es"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"


def test_following_the_browser_again_drops_the_language_cookie(sign_in, agent):
    update_preferences(user=agent, actor=agent, language="es")
    client = sign_in(agent)
    client.post("/preferences/", {"full_name": "Alba Agente", "language": "", "time_zone": "UTC"})
    agent.refresh_from_db()
    assert agent.language == ""
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""
    assert "Sign out" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
