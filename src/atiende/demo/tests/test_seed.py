"""The demo seeder, at a small scale: what it builds, and that a second run builds nothing more."""

from __future__ import annotations

import random
import re
import string
from typing import Any

import phonenumbers
import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.utils import timezone

from atiende.accounts.models import User
from atiende.accounts.permissions import brand_roles
from atiende.brands.models import Brand
from atiende.conversations.lifecycle import UNSOLVED, Status
from atiende.conversations.models import Conversation, Direction, Message
from atiende.customers.models import Customer, CustomerIdentity
from atiende.demo import logins, telco_norte
from atiende.demo.content import Story
from atiende.demo.history import CONTEXT_KEYS, World, _context
from atiende.demo.seed import BRANDS, Staff, reset_logins, seed

SMALL = 0.05


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in ("brands", "accounts", "customers", "conversations")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def seeded(db: Any) -> None:
    seed(scale=SMALL, progress=False)


def test_seeding_twice_changes_nothing(seeded: None) -> None:
    before = _row_counts()

    result = seed(scale=SMALL, progress=False)

    assert result.created == []
    assert result.skipped == ["tienda-sol", "telco-norte"]
    assert _row_counts() == before
    assert before["conversations.Conversation"] > 0


def test_seed_creates_the_two_brands_of_the_bpo(seeded: None) -> None:
    brands = {brand.slug: brand for brand in Brand.objects.all()}

    assert set(brands) == {"tienda-sol", "telco-norte"}
    assert (brands["tienda-sol"].number_prefix, brands["tienda-sol"].country) == ("SOL", "ES")
    assert (brands["telco-norte"].time_zone, brands["telco-norte"].country) == (
        "America/Mexico_City",
        "MX",
    )


def test_customers_have_valid_phones_of_their_brands_country(seeded: None) -> None:
    phones = CustomerIdentity.objects.filter(kind="phone").select_related("brand")

    assert phones.count() == Customer.objects.count()
    for identity in phones:
        number = phonenumbers.parse(identity.value)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.region_code_for_number(number) == identity.brand.country


def test_every_timeline_is_ordered_in_the_past_and_matches_its_status(seeded: None) -> None:
    now = timezone.now()
    for conversation in Conversation.objects.prefetch_related("messages"):
        times = [message.created_at for message in conversation.messages.all()]
        assert times == sorted(times)
        assert conversation.created_at == times[0]
        assert times[-1] <= now
        status = Status(conversation.status)
        assert (conversation.solved_at is not None) == (status in {Status.SOLVED, Status.CLOSED})
        assert (conversation.closed_at is not None) == (status is Status.CLOSED)
        if conversation.closed_at is not None:
            assert conversation.solved_at is not None
            assert conversation.solved_at < conversation.closed_at <= now


def test_customers_are_answered_in_their_own_language(seeded: None) -> None:
    english = Conversation.objects.filter(customer__language="en")

    assert english.exists()
    assert not english.exclude(language="en").exists()
    replies = Message.objects.filter(conversation__in=english, direction=Direction.OUTBOUND)
    assert all(not re.search(r"\b(Hola|Gracias|pedido)\b", reply.body_text) for reply in replies)


def test_recent_cases_include_live_ones_with_an_ordinary_event_trail(seeded: None) -> None:
    agent = User.objects.get(email="agente@tienda-sol.demo.atiende.dev")
    mine = Conversation.objects.filter(
        assignee=agent, status__in=[status.value for status in UNSOLVED]
    )

    live = mine.filter(events__type="message.sent").distinct()
    assert live.exists()
    assert set(live.first().events.values_list("type", flat=True)) >= {  # type: ignore[union-attr]
        "conversation.created",
        "conversation.assigned",
        "message.sent",
        "note.added",
    }


def test_reset_logins_draws_new_passwords_that_work(seeded: None) -> None:
    first = {account.email: password for account, password in reset_logins()}
    second = {account.email: password for account, password in reset_logins()}

    assert set(first) == {account.email for account in logins.DEMO_ACCOUNTS}
    for email, password in second.items():
        assert password != first[email]
        assert authenticate(username=email, password=first[email]) is None
        assert authenticate(username=email, password=password) is not None


def test_demo_roles_reach_the_right_brands(seeded: None) -> None:
    reset_logins()
    slugs = dict(Brand.objects.values_list("pk", "slug"))

    def roles(email: str) -> dict[str, str]:
        return {
            slugs[brand_id]: role
            for brand_id, role in brand_roles(User.objects.get(email=email)).items()
        }

    assert User.objects.get(email="admin@demo.atiende.dev").is_superuser
    assert roles("supervisor@demo.atiende.dev") == {
        "tienda-sol": "supervisor",
        "telco-norte": "supervisor",
    }
    assert roles("agente@telco-norte.demo.atiende.dev") == {"telco-norte": "agent"}
    assert roles("cliente@tienda-sol.demo.atiende.dev") == {"tienda-sol": "client_viewer"}


def _placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conversion in string.Formatter().parse(template) if name}


def test_a_case_context_fills_every_placeholder(seeded: None) -> None:
    customer = Customer.objects.filter(brand__slug="telco-norte").first()
    assert customer is not None
    staff = Staff(teams=[], agents_by_team=[], supervisors=[], login_agent=None)
    world = World(
        rng=random.Random(1),
        now=timezone.now(),
        staff=staff,
        customers=[],
        orders={},
        categories={},
    )

    context = _context(telco_norte.PLAN, world, customer, None, language="es", start=timezone.now())

    assert set(context) == CONTEXT_KEYS
    assert all(isinstance(value, str) for value in context.values())


def test_every_text_uses_only_placeholders_the_seeder_fills() -> None:
    texts: list[str] = []
    for plan in BRANDS:
        voice = plan.voice
        for variants in (
            *voice.customer_email.values(),
            *voice.agent_email.values(),
            *voice.agent_short.values(),
            *voice.waiting.values(),
            *voice.on_hold.values(),
        ):
            texts.extend(variants)
        texts.extend(voice.hold_notes)
        for topic in plan.topics:
            texts.extend(topic.notes)
            assert set(topic.stories) == {"es", "en"}
            stories: list[Story] = [story for told in topic.stories.values() for story in told]
            for story in stories:
                texts.extend(
                    [*story.subjects, story.opening, story.reply, story.follow_up, story.closing]
                )

    unknown = {name for text in texts for name in _placeholders(text)} - {*CONTEXT_KEYS, "core"}
    assert unknown == set()
