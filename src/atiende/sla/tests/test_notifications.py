"""Warnings and breaches reach the assignee (or the team) by email, in their language."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from atiende.accounts.actions import add_team_member, update_preferences
from atiende.conversations.actions import assign_conversation, start_conversation
from atiende.sla.models import SlaEvent
from atiende.sla.testing import around_the_clock_policy


def _started_90_minutes_ago(brand, customer, system, **extra):
    return start_conversation(
        brand=brand, customer=customer, channel="email", actor=system, subject="Pedido roto",
        body_text="hola", created_at=timezone.now() - timedelta(minutes=90), **extra,
    )  # fmt: skip


def test_the_assignee_hears_of_the_warning_and_the_breach_in_their_language(
    brand, customer, system, agent, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ATIENDE_PUBLIC_URL = "https://ayuda.tiendasol.test"
    update_preferences(user=agent, actor=agent, language="es", time_zone="Europe/Madrid")
    conversation = _started_90_minutes_ago(brand, customer, system)
    assign_conversation(conversation=conversation, actor=system, assignee=agent)
    with django_capture_on_commit_callbacks(execute=True):
        around_the_clock_policy(
            brand, system, first_response=60
        )  # recomputes the open conversation: both instants have passed
    assert sorted(message.subject for message in mail.outbox) == [
        f"[{conversation.reference}] Primera respuesta: plazo incumplido",
        f"[{conversation.reference}] Primera respuesta: vence pronto",
    ]
    breach = next(message for message in mail.outbox if "incumplido" in message.subject)
    assert breach.to == [agent.email]
    assert "(Europe/Madrid)" in breach.body
    assert f"https://ayuda.tiendasol.test/c/{brand.slug}/{conversation.number}/" in breach.body
    assert SlaEvent.objects.filter(conversation=conversation).count() == 2


def test_without_an_assignee_the_team_hears(
    brand, customer, system, team, agent, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    add_team_member(team=team, user=agent, actor=system)
    with django_capture_on_commit_callbacks(execute=True):
        around_the_clock_policy(brand, system, first_response=60)
    with django_capture_on_commit_callbacks(execute=True):
        _started_90_minutes_ago(brand, customer, system, team=team)
    assert [tuple(message.to) for message in mail.outbox] == [(agent.email,), (agent.email,)]


def test_nobody_to_tell_sends_nothing(
    brand, customer, system, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        around_the_clock_policy(brand, system, first_response=60)
    with django_capture_on_commit_callbacks(execute=True):
        conversation = _started_90_minutes_ago(brand, customer, system)
    assert SlaEvent.objects.filter(conversation=conversation).count() == 2
    assert mail.outbox == []
