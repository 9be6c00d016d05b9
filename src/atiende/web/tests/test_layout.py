"""The frame every page shares: language, landmarks, navigation, assets that work offline."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

from atiende.channels import registry

pytestmark = pytest.mark.django_db


def test_every_page_has_a_skip_link_landmarks_and_the_page_language(sign_in, agent):
    page = sign_in(agent).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in page
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in page
    assert '<main id="main"' in page
    assert '<nav class="topbar-nav" aria-label="Main menu">' in page
    assert 'href="/" aria-current="page"' in page
    assert "Alba Agente" in page


def test_admin_link_is_shown_to_staff_only(sign_in, client, agent, brand_admin):
    assert 'href="/admin/"' not in sign_in(agent).get("/").content.decode()
    client.logout()
    assert 'href="/admin/"' in sign_in(brand_admin).get("/").content.decode()


def test_htmx_and_the_stylesheet_are_served_by_us(client):
    page = client.get("/login/").content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert scripts == ["/static/django_htmx/htmx-2.min.js"]
    assert stylesheets == ["/static/web/atiende.css"]
    for url in scripts + stylesheets:
        assert finders.find(url.removeprefix("/static/")), url


def test_icon_sprite_has_a_symbol_for_every_channel():
    path = finders.find("web/icons.svg")
    assert isinstance(path, str)
    with open(path, encoding="utf-8") as sprite:
        symbols = set(re.findall(r'<symbol id="([^"]+)"', sprite.read()))
    assert {"mail", "chat", "phone", "social", "portal", "api", "note"} <= symbols
    assert {kind.icon for kind in registry.all_kinds()} <= symbols
