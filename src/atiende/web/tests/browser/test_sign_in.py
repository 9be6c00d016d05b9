"""Signing in with a real browser, in Spanish and in English, through the real form."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from atiende.web.tests.browser.conftest import sign_in
from atiende.web.tests.browser.live_instance import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_spanish_browser_signs_in_and_lands_on_the_first_screen_in_spanish(
    live: LiveInstance, new_page: Callable[..., Page], agent: Any
) -> None:
    page = new_page("es")
    page.goto("/")
    expect(page).to_have_url(f"{live.url}/login/?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inicia sesión en Atiende")

    sign_in(page, agent, "es")

    expect(page).to_have_url(f"{live.url}/")
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    expect(page.get_by_role("navigation", name="Menú principal")).to_be_visible()


def test_an_english_browser_signs_in_and_lands_on_the_first_screen_in_english(
    live: LiveInstance, new_page: Callable[..., Page], agent: Any
) -> None:
    page = new_page("en")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Atiende")

    sign_in(page, agent, "en")

    expect(page).to_have_url(f"{live.url}/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu")).to_be_visible()


def test_the_language_switch_turns_a_spanish_browsers_sign_in_page_english(
    live: LiveInstance, new_page: Callable[..., Page], agent: Any
) -> None:
    page = new_page("es")
    page.goto("/login/")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "false")

    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    sign_in(page, agent, "en")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.mark.parametrize(
    ("language", "error"),
    [
        ("en", "That email address and password do not match an account."),
        ("es", "El correo electrónico y la contraseña no corresponden a ninguna cuenta."),
    ],
)
def test_a_wrong_password_shows_the_error_and_keeps_the_visitor_on_the_form(
    live: LiveInstance, new_page: Callable[..., Page], agent: Any, language: str, error: str
) -> None:
    page = new_page(language)

    sign_in(page, agent, language, password="not-the-password")

    expect(page.get_by_role("alert")).to_contain_text(error)
    expect(page).to_have_url(re.compile(r"/login/$"))
    # The address stays typed in; the password does not.
    email_label = "Email address" if language == "en" else "Correo electrónico"
    expect(page.get_by_label(email_label)).to_have_value(agent.email)
