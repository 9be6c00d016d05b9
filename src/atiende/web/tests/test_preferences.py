from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from atiende.accounts.actions import update_preferences
from atiende.accounts.events import AccountEventType
from atiende.accounts.models import AccountEvent

pytestmark = pytest.mark.django_db


def test_preferences_need_sign_in(client):
    response = client.get("/preferences/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/preferences/"


def test_preferences_page_shows_the_current_choices(sign_in, agent):
    update_preferences(user=agent, actor=agent, language="en", time_zone="America/Bogota")
    page = sign_in(agent).get("/preferences/").content.decode()
    assert 'value="Alba Agente"' in page
    assert re.search(r'<input type="radio" name="language" value="en"[^>]* checked>', page)
    assert '<option value="America/Bogota" selected>' in page
    assert '<option value="Europe/Madrid">' in page
    assert re.search(
        r'<label class="choice" for="id_language_\d" lang="es">.*Español</label>', page
    )


def test_saving_preferences_goes_through_the_action_and_is_recorded(sign_in, agent):
    client = sign_in(agent)
    response = client.post(
        "/preferences/",
        {"full_name": "Alba María Agente", "language": "en", "time_zone": "America/Mexico_City"},
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.full_name, agent.language, agent.time_zone) == (
        "Alba María Agente",
        "en",
        "America/Mexico_City",
    )
    event = AccountEvent.objects.get(user=agent, type=AccountEventType.PREFERENCES_CHANGED)
    assert event.actor == agent
    assert event.payload["changes"]["time_zone"] == ["", "America/Mexico_City"]


def test_home_shows_times_in_the_chosen_time_zone(sign_in, agent, conversation):
    update_preferences(user=agent, actor=agent, language="en", time_zone="America/Mexico_City")
    # The conversation is nobody's yet: the inbox's "unassigned" view lists it.
    page = sign_in(agent).get("/?view=unassigned").content.decode()
    assert "America/Mexico_City" in page
    local = conversation.last_message_at.astimezone(ZoneInfo("America/Mexico_City"))
    assert f'datetime="{local.isoformat()}"' in page


def test_an_unknown_time_zone_is_refused(sign_in, agent):
    response = sign_in(agent).post(
        "/preferences/",
        {"full_name": "Alba Agente", "language": "en", "time_zone": "Mars/Olympus_Mons"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert response.context["form"].errors["time_zone"]
    agent.refresh_from_db()
    assert agent.time_zone == ""


def test_a_full_name_is_required(sign_in, agent):
    response = sign_in(agent).post(
        "/preferences/", {"full_name": "", "language": "", "time_zone": "UTC"}
    )
    assert response.status_code == 200
    assert "full_name" in response.context["form"].errors
    agent.refresh_from_db()
    assert agent.full_name == "Alba Agente"
