"""Personas and their world, shared by every test: two brands of a BPO and the people in them.

Everything is created through actions, as the product creates it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from atiende.accounts.actions import create_staff_user, create_team, grant_brand_role
from atiende.accounts.roles import Role
from atiende.brands.actions import create_brand
from atiende.core.actors import system_actor

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def empty_task_queue() -> None:
    """Each test starts with the (in-memory) task queue empty: what an earlier test scheduled,
    for rows whose ids the next test's rows take again, is not this test's."""
    from huey.contrib.djhuey import HUEY

    HUEY.flush()


@pytest.fixture
def system() -> Any:
    return system_actor("tests")


@pytest.fixture
def brand(db: Any, system: Any) -> Any:
    """Brand A: a Spanish online shop."""
    return create_brand(
        slug="tienda", name="Tienda Sol", number_prefix="SOL", actor=system, country="ES"
    )


@pytest.fixture
def other_brand(db: Any, system: Any) -> Any:
    """Brand B: a Mexican telecom, served by the same BPO."""
    return create_brand(
        slug="telco",
        name="Telco Norte",
        number_prefix="TEL",
        actor=system,
        country="MX",
        time_zone="America/Mexico_City",
    )


def _staff(system: Any, brand: Any, role: str, email: str, name: str, **extra: Any) -> Any:
    user = create_staff_user(email=email, full_name=name, password=PASSWORD, actor=system, **extra)
    grant_brand_role(user=user, brand=brand, role=role, actor=system)
    return user


@pytest.fixture
def agent(brand: Any, system: Any) -> Any:
    return _staff(system, brand, Role.AGENT, "agente@tienda.test", "Alba Agente")


@pytest.fixture
def supervisor(brand: Any, system: Any) -> Any:
    return _staff(system, brand, Role.SUPERVISOR, "super@tienda.test", "Sergio Supervisor")


@pytest.fixture
def brand_admin(brand: Any, system: Any) -> Any:
    return _staff(system, brand, Role.ADMIN, "admin@tienda.test", "Ada Admin", is_staff=True)


@pytest.fixture
def client_viewer(brand: Any, system: Any) -> Any:
    return _staff(system, brand, Role.CLIENT_VIEWER, "cliente@tienda.test", "Clara Cliente")


@pytest.fixture
def outsider(other_brand: Any, system: Any) -> Any:
    """An agent of the other brand: must never see anything of brand A."""
    return _staff(system, other_brand, Role.AGENT, "agente@telco.test", "Omar Otro")


@pytest.fixture
def outsider_admin(other_brand: Any, system: Any) -> Any:
    return _staff(system, other_brand, Role.ADMIN, "admin@telco.test", "Olga Otra", is_staff=True)


@pytest.fixture
def superuser(db: Any) -> Any:
    from atiende.accounts.models import User

    return User.objects.create_superuser("root@atiende.test", PASSWORD, full_name="Root")


@pytest.fixture
def team(brand: Any, system: Any) -> Any:
    return create_team(brand=brand, name="Soporte", actor=system)


@pytest.fixture
def customer(brand: Any, system: Any) -> Any:
    from atiende.customers.actions import IdentityInput, create_customer

    return create_customer(
        brand=brand,
        actor=system,
        name="Carmen Cliente",
        language="es",
        identities=[
            IdentityInput("email", "carmen@example.com", is_primary=True),
            IdentityInput("phone", "+34 600 111 222"),
        ],
    )


@pytest.fixture
def other_customer(other_brand: Any, system: Any) -> Any:
    from atiende.customers.actions import IdentityInput, create_customer

    return create_customer(
        brand=other_brand,
        actor=system,
        name="Octavio Otro",
        identities=[IdentityInput("email", "octavio@example.mx")],
    )


@pytest.fixture
def conversation(brand: Any, customer: Any, system: Any) -> Any:
    from atiende.conversations.actions import start_conversation

    return start_conversation(
        brand=brand,
        customer=customer,
        channel="email",
        actor=system,
        subject="Mi pedido no ha llegado",
        body_text="Hola, el pedido 1001 debía llegar el lunes y no ha llegado.",
    )


@pytest.fixture
def other_conversation(other_brand: Any, other_customer: Any, system: Any) -> Any:
    from atiende.conversations.actions import start_conversation

    return start_conversation(
        brand=other_brand,
        customer=other_customer,
        channel="chat",
        actor=system,
        subject="Portabilidad",
        body_text="Quiero portar mi número.",
    )


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Code run outside a request speaks the source language, English, as the tests expect.

    With the Spanish catalogue compiled, gettext outside a request follows LANGUAGE_CODE ("es").
    Requests still choose their own language (LocaleMiddleware, the user's preference).
    """
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def sign_in(client: Any) -> Any:
    """``sign_in(user)``: the test client signed in through the real authentication backend,
    as the login form does."""

    def sign_in_as(user: Any) -> Any:
        assert client.login(username=user.email, password=PASSWORD)
        return client

    return sign_in_as
