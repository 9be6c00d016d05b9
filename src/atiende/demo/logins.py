"""The demo's sign-in accounts: one per kind of person who uses Atiende, with fresh passwords.

Passwords are drawn anew on every ``atiende demo`` run and printed, never stored anywhere else, so
a demo left running on a shared machine cannot be entered with a password from an earlier run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from atiende.accounts.actions import create_staff_user, grant_brand_role, set_password
from atiende.accounts.models import User
from atiende.accounts.roles import Role
from atiende.brands.models import Brand
from atiende.core.actors import SystemActor

# Letters and digits that cannot be misread when typed from a terminal (no 0/O, 1/l/I).
_READABLE_SYMBOLS = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    full_name: str
    description: str
    time_zone: str
    # (brand slug, role) pairs; the superuser needs none.
    roles: tuple[tuple[str, str], ...] = ()
    superuser: bool = False


DEMO_ACCOUNTS = (
    DemoAccount(
        "admin@demo.atiende.dev",
        "Adela Administradora",
        "installation administrator",
        "Europe/Madrid",
        superuser=True,
    ),
    DemoAccount(
        "agente@tienda-sol.demo.atiende.dev",
        "Lucía Fernández",
        "agent, Tienda Sol",
        "Europe/Madrid",
        roles=(("tienda-sol", Role.AGENT),),
    ),
    DemoAccount(
        "agente@telco-norte.demo.atiende.dev",
        "Diego Treviño",
        "agent, Telco Norte",
        "America/Monterrey",
        roles=(("telco-norte", Role.AGENT),),
    ),
    DemoAccount(
        "supervisor@demo.atiende.dev",
        "Marta Supervisora",
        "supervisor of both brands",
        "Europe/Madrid",
        roles=(("tienda-sol", Role.SUPERVISOR), ("telco-norte", Role.SUPERVISOR)),
    ),
    DemoAccount(
        "cliente@tienda-sol.demo.atiende.dev",
        "Carlos Cliente",
        "client viewer, Tienda Sol",
        "Europe/Madrid",
        roles=(("tienda-sol", Role.CLIENT_VIEWER),),
    ),
)


def accounts_in(brand_slug: str, role: str) -> list[DemoAccount]:
    return [account for account in DEMO_ACCOUNTS if (brand_slug, role) in account.roles]


def ensure_account(account: DemoAccount, *, actor: SystemActor) -> User:
    """The account's user, created on first use (without a usable password until a reset)."""
    user = User.objects.filter(email=account.email).first()
    if user is None:
        user = create_staff_user(
            email=account.email,
            full_name=account.full_name,
            time_zone=account.time_zone,
            actor=actor,
            is_superuser=account.superuser,
        )
    return user


def _grant_missing_roles(user: User, account: DemoAccount, *, actor: SystemActor) -> None:
    held = set(user.memberships.values_list("brand__slug", "role"))
    for slug, role in account.roles:
        brand = Brand.objects.filter(slug=slug).first()
        if brand is not None and (slug, role) not in held:
            grant_brand_role(user=user, brand=brand, role=role, actor=actor)


def new_password() -> str:
    """Twelve unambiguous characters in three groups: about 59 bits, easy to copy by hand."""
    groups = ("".join(secrets.choice(_READABLE_SYMBOLS) for _ in range(4)) for _ in range(3))
    return "-".join(groups)


def reset_demo_logins(*, actor: SystemActor) -> list[tuple[DemoAccount, str]]:
    """Make every demo account usable with a new password; returns each with its password."""
    logins = []
    for account in DEMO_ACCOUNTS:
        user = ensure_account(account, actor=actor)
        _grant_missing_roles(user, account, actor=actor)
        password = new_password()
        set_password(user=user, password=password, actor=actor)
        logins.append((account, password))
    return logins
