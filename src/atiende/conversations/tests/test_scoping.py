"""An agent of brand A sees nothing of brand B, through queries or the admin; a client viewer
sees only their brand."""

import pytest
from conftest import PASSWORD
from django.urls import reverse

from atiende.accounts.actions import grant_brand_role
from atiende.conversations import queries
from atiende.conversations.actions import receive_customer_message
from atiende.conversations.attachments import IncomingAttachment
from atiende.conversations.models import Conversation
from atiende.customers import queries as customer_queries
from atiende.customers.models import Customer


@pytest.fixture
def world(conversation, other_conversation):
    return conversation, other_conversation


@pytest.mark.parametrize("persona", ["agent", "supervisor", "client_viewer", "brand_admin"])
def test_brand_a_staff_see_only_brand_a(request, world, persona):
    user = request.getfixturevalue(persona)
    mine, theirs = world
    assert list(queries.conversations_visible_to(user)) == [mine]
    assert [c.pk for c in queries.recent_conversations_for(user)] == [mine.pk]
    assert sum(queries.status_counts_for(user).values()) == 1
    assert list(customer_queries.customers_visible_to(user)) == [mine.customer]
    with pytest.raises(Conversation.DoesNotExist):
        queries.conversation_for(user, brand_slug="telco", number=theirs.number)
    with pytest.raises(Customer.DoesNotExist):
        customer_queries.customer_for(user, crn=theirs.customer.crn)


def test_outsider_sees_only_their_own_brand(world, outsider):
    mine, theirs = world
    assert list(queries.conversations_visible_to(outsider)) == [theirs]
    with pytest.raises(Conversation.DoesNotExist):
        queries.conversation_for(outsider, brand_slug="tienda", number=mine.number)
    with pytest.raises(Customer.DoesNotExist):
        customer_queries.customer_by_identity_for(
            outsider, kind="email", value="carmen@example.com"
        )


def test_a_user_without_any_role_sees_nothing(world, system):
    from atiende.accounts.actions import create_staff_user

    nobody = create_staff_user(email="nadie@bpo.test", full_name="Nadie", actor=system)
    assert not queries.conversations_visible_to(nobody).exists()
    assert not customer_queries.customers_visible_to(nobody).exists()


def test_a_bpo_agent_with_roles_in_both_brands_sees_both(world, agent, other_brand, system):
    grant_brand_role(user=agent, brand=other_brand, role="client_viewer", actor=system)
    assert queries.conversations_visible_to(agent).count() == 2


def test_superuser_sees_everything(world, superuser):
    assert queries.conversations_visible_to(superuser).count() == 2


def test_attachments_are_scoped_like_their_conversation(world, agent, outsider, system):
    _mine, theirs = world
    message = receive_customer_message(
        conversation=theirs,
        channel="chat",
        actor=system,
        attachments=[IncomingAttachment("chip.png", b"\x89PNG\r\n\x1a\n")],
    )
    attachment = message.attachments.get()
    assert queries.attachment_for(outsider, attachment_id=attachment.pk) == attachment
    with pytest.raises(type(attachment).DoesNotExist):
        queries.attachment_for(agent, attachment_id=attachment.pk)


# --- The administration site ---------------------------------------------------------------


ADMIN_LISTS = [
    "conversations_conversation",
    "conversations_message",
    "conversations_conversationevent",
    "customers_customer",
    "customers_customeridentity",
    "customers_customerevent",
    "brands_brand",
    "accounts_user",
    "accounts_brandmembership",
]


@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_brand_admin_sees_only_their_brand_in_every_admin_list(
    client, world, brand_admin, outsider_admin, model
):
    _mine, theirs = world
    client.login(username=brand_admin.email, password=PASSWORD)
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Telco Norte" not in page
    assert theirs.customer.crn not in page
    assert "octavio@example.mx" not in page
    assert "admin@telco.test" not in page


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("conversations_conversation", lambda theirs: theirs),
        ("customers_customer", lambda theirs: theirs.customer),
        ("brands_brand", lambda theirs: theirs.brand),
        ("conversations_conversationevent", lambda theirs: theirs.events.get()),
    ],
)
def test_brand_admin_cannot_open_the_other_brands_rows_by_url(
    client, world, brand_admin, model, target
):
    _mine, theirs = world
    client.login(username=brand_admin.email, password=PASSWORD)
    response = client.get(reverse(f"admin:{model}_change", args=[target(theirs).pk]))
    # Django's admin answers "does not exist" for rows outside the queryset: a redirect home.
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_admin_shows_conversations_read_only(client, world, brand_admin):
    mine, _theirs = world
    client.login(username=brand_admin.email, password=PASSWORD)
    response = client.get(reverse("admin:conversations_conversation_change", args=[mine.pk]))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    posted = client.post(
        reverse("admin:conversations_conversation_change", args=[mine.pk]), {"subject": "hacked"}
    )
    assert posted.status_code == 403
    mine.refresh_from_db()
    assert mine.subject != "hacked"


def test_agents_without_admin_access_are_sent_to_the_admin_login(client, world, agent):
    client.login(username=agent.email, password=PASSWORD)
    response = client.get(reverse("admin:conversations_conversation_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_client_viewer_with_admin_flag_still_cannot_configure(client, world, client_viewer, system):
    from atiende.accounts.models import User

    User.objects.filter(pk=client_viewer.pk).update(is_staff=True)
    client.login(username=client_viewer.email, password=PASSWORD)
    assert client.get(reverse("admin:accounts_brandmembership_changelist")).status_code == 403
    assert client.get(reverse("admin:conversations_conversation_changelist")).status_code == 200


def test_client_viewers_do_not_see_internal_notes_or_their_attachments(
    world, agent, client_viewer, supervisor
):
    from atiende.conversations.actions import add_internal_note

    mine, _theirs = world
    note = add_internal_note(
        conversation=mine,
        actor=agent,
        body_text="El transportista tiene incidencias en Sevilla",
        attachments=[IncomingAttachment("albaran.txt", b"albaran 1001")],
    )
    attachment = note.attachments.get()
    for insider in (agent, supervisor):
        assert note in queries.messages_of(mine, viewer=insider)
        assert queries.events_of(mine, viewer=insider).filter(type="note.added").exists()
        assert queries.attachment_for(insider, attachment_id=attachment.pk) == attachment
    assert note not in queries.messages_of(mine, viewer=client_viewer)
    assert not queries.events_of(mine, viewer=client_viewer).filter(type="note.added").exists()
    with pytest.raises(type(attachment).DoesNotExist):
        queries.attachment_for(client_viewer, attachment_id=attachment.pk)


def test_every_model_has_an_admin():
    from django.apps import apps
    from django.contrib import admin

    ours = [model for model in apps.get_models() if model.__module__.startswith("atiende.")]
    missing = [model.__name__ for model in ours if not admin.site.is_registered(model)]
    assert missing == []
