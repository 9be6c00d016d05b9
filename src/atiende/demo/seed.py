"""Seeding the demo: two brands of a BPO with their staff, customers, orders and history.

Idempotent: a brand whose slug already exists is left untouched, and each brand is seeded in one
transaction, so an interrupted run leaves either the whole brand or nothing of it and the next run
finishes the job. Deterministic: every random choice comes from generators seeded with the brand's
slug, so two installations seeded on the same day hold the same people saying the same things (only
CRNs, drawn by the product from ``secrets``, and dates, relative to today, differ).

Every write goes through the product's actions with ``system_actor("demo")``; only configuration
rows that have no action yet (categories, skills) are created directly.
"""

from __future__ import annotations

import random
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from django.db import transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from atiende.accounts.actions import (
    add_team_member,
    create_staff_user,
    create_team,
    grant_brand_role,
    set_agent_skill,
)
from atiende.accounts.models import Skill, SkillKind, Team, User
from atiende.accounts.roles import Role
from atiende.brands.actions import create_brand
from atiende.brands.models import Brand
from atiende.channels.email.actions import add_email_address
from atiende.conversations.models import Category
from atiende.core.actors import SystemActor, system_actor
from atiende.customers.actions import (
    IdentityInput,
    create_customer,
    create_organization,
    record_order,
)
from atiende.customers.models import Customer, Order, OrderStatus, Organization
from atiende.demo import history, logins, telco_norte, tienda_sol
from atiende.demo.catalog import BrandPlan, City
from atiende.sla.actions import save_calendar, save_policy
from atiende.sla.calendar import WEEKDAYS
from atiende.sla.models import PolicyScope

BRANDS = (tienda_sol.PLAN, telco_norte.PLAN)
ACTOR_LABEL = "demo"
LANGUAGES = (("es", "Español"), ("en", "English"))
# Reserved names (RFC 2606): once the email channel sends replies, none can reach a real person.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
SOCIAL_NETWORKS = ("instagram", "x", "facebook", "telegram")


@dataclass
class Staff:
    teams: list[Team]
    agents_by_team: list[list[User]]
    supervisors: list[User]
    login_agent: User | None


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def seed(*, scale: float = 1.0, progress: bool = True) -> SeedResult:
    """Create each demo brand that does not exist yet.

    ``scale`` shrinks the number of customers and conversations (tests use a twentieth).
    """
    actor = system_actor(ACTOR_LABEL)
    now = timezone.now().replace(microsecond=0)
    languages = _language_skills()
    result = SeedResult()
    for plan in BRANDS:
        if Brand.objects.filter(slug=plan.slug).exists():
            result.skipped.append(plan.slug)
            continue
        with transaction.atomic():
            _seed_brand(
                plan, scale=scale, now=now, actor=actor, languages=languages, progress=progress
            )
        result.created.append(plan.slug)
    return result


def _seed_brand(
    plan: BrandPlan,
    *,
    scale: float,
    now: datetime,
    actor: SystemActor,
    languages: dict[str, Skill],
    progress: bool,
) -> None:
    rng = random.Random(f"atiende-demo:{plan.slug}")
    fake = Faker(plan.locale)
    fake.seed_instance(rng.randrange(2**32))
    fake_en = Faker("en_US")
    fake_en.seed_instance(rng.randrange(2**32))
    brand = create_brand(
        slug=plan.slug,
        name=plan.name,
        number_prefix=plan.prefix,
        actor=actor,
        country=plan.country,
        time_zone=plan.time_zone,
        default_language="es",
    )
    add_email_address(
        brand=brand,
        address=f"soporte@{plan.slug}.demo.atiende.dev",
        display_name=plan.name,
        is_default=True,
        actor=actor,
    )
    seed_service_levels(plan, brand, actor)
    categories = {
        topic.category: Category.objects.create(brand=brand, name=topic.category)
        for topic in plan.topics
    }
    staff = _seed_staff(plan, brand, rng, fake, actor, languages)
    customers = _seed_customers(
        plan, brand, rng, fake, fake_en, actor, scale=scale, progress=progress
    )
    orders = _seed_orders(plan, customers, rng, now, actor, progress=progress)
    history.seed_history(
        plan,
        brand,
        history.World(
            rng=rng, now=now, staff=staff, customers=customers, orders=orders, categories=categories
        ),
        actor=actor,
        scale=scale,
        progress=progress,
    )


# Office hours and the region whose public holidays close the office, per country.
_OFFICE_HOURS = {
    "ES": ("MD", {day: [["09:00", "14:00"], ["15:00", "18:00"]] for day in WEEKDAYS[:5]}),
    "MX": (
        "",  # the holidays package knows Mexico's national holidays, no state lists
        {**{day: [["08:00", "20:00"]] for day in WEEKDAYS[:5]}, "sat": [["09:00", "14:00"]]},
    ),
}


def seed_service_levels(plan: BrandPlan, brand: Brand, actor: SystemActor) -> None:
    """A business calendar and a two-level SLA: a corporate default and a faster one for urgent
    cases, so the demo's open conversations show deadlines, warnings and breaches."""
    known = plan.country in _OFFICE_HOURS
    region, weekly = _OFFICE_HOURS.get(plan.country, ("", _OFFICE_HOURS["ES"][1]))
    calendar = save_calendar(
        brand=brand,
        actor=actor,
        name=f"Horario {plan.name}",
        time_zone=plan.time_zone,
        weekly=weekly,
        holiday_country=plan.country if known else "",
        holiday_subdivision=region,
    )
    save_policy(
        brand=brand,
        actor=actor,
        name="ANS corporativo",
        scope=PolicyScope.BRAND,
        calendar=calendar,
        targets=[
            {"metric": "first_response", "priority": "", "minutes": 8 * 60},
            {"metric": "first_response", "priority": "urgent", "minutes": 60},
            {"metric": "next_response", "priority": "", "minutes": 16 * 60},
            {"metric": "resolution", "priority": "", "minutes": 5 * 8 * 60},
        ],
    )


def _language_skills() -> dict[str, Skill]:
    """The shared language skills, found or created (they are not tied to any brand)."""
    skills = {}
    for code, name in LANGUAGES:
        skill, _created = Skill.objects.get_or_create(
            brand=None, kind=SkillKind.LANGUAGE, code=code, defaults={"name": name}
        )
        skills[code] = skill
    return skills


def ascii_slug(text: str) -> str:
    """``"Treviño Pérez"`` → ``"trevinoperez"``: for email local parts and social handles."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(char for char in plain.lower() if char.isalnum())


# --- Staff ------------------------------------------------------------------------------------


def _staff_user(
    email: str, full_name: str, brand: Brand, role: str, actor: SystemActor, language: str = "es"
) -> User:
    user = User.objects.filter(email=email).first() or create_staff_user(
        email=email, full_name=full_name, actor=actor, language=language, time_zone=brand.time_zone
    )
    grant_brand_role(user=user, brand=brand, role=role, actor=actor)
    return user


def _named_staff(
    plan: BrandPlan, brand: Brand, fake: Faker, role: str, count: int, actor: SystemActor
) -> list[User]:
    users: list[User] = []
    while len(users) < count:
        first, last = fake.first_name(), fake.last_name()
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{plan.slug}.demo.atiende.dev"
        if not User.objects.filter(email=email).exists():
            users.append(_staff_user(email, f"{first} {last}", brand, role, actor))
    return users


def _seed_staff(
    plan: BrandPlan,
    brand: Brand,
    rng: random.Random,
    fake: Faker,
    actor: SystemActor,
    languages: dict[str, Skill],
) -> Staff:
    """Teams, agents split between them, supervisors leading both, a QA evaluator, a client."""
    teams = [create_team(brand=brand, name=name, actor=actor) for name in plan.teams]
    demo_roles = {
        role: [
            logins.ensure_account(account, actor=actor)
            for account in logins.accounts_in(plan.slug, role)
        ]
        for role in (Role.AGENT, Role.SUPERVISOR, Role.CLIENT_VIEWER)
    }
    for role, users in demo_roles.items():
        for user in users:
            grant_brand_role(user=user, brand=brand, role=role, actor=actor)
    agents = _named_staff(plan, brand, fake, Role.AGENT, 9, actor)
    supervisors = [
        *demo_roles[Role.SUPERVISOR],
        *_named_staff(plan, brand, fake, Role.SUPERVISOR, 1, actor),
    ]
    _named_staff(plan, brand, fake, Role.QA_EVALUATOR, 1, actor)
    if not demo_roles[Role.CLIENT_VIEWER]:
        _named_staff(plan, brand, fake, Role.CLIENT_VIEWER, 1, actor)
    login_agent = demo_roles[Role.AGENT][0] if demo_roles[Role.AGENT] else None
    agents_by_team: list[list[User]] = [[] for _ in teams]
    for index, agent in enumerate(agents):
        agents_by_team[index % len(teams)].append(agent)
    for members in agents_by_team:
        # The demo agent works in every team, so whoever signs in as them sees every kind of case.
        members.extend([login_agent] if login_agent else [])
    for team, members in zip(teams, agents_by_team, strict=True):
        for user in members:
            add_team_member(team=team, user=user, actor=actor)
        for supervisor in supervisors:
            add_team_member(team=team, user=supervisor, actor=actor, is_lead=True)
    _seed_skills(
        plan, brand, rng, [*agents, *([login_agent] if login_agent else [])], languages, actor
    )
    return Staff(
        teams=teams, agents_by_team=agents_by_team, supervisors=supervisors, login_agent=login_agent
    )


def _seed_skills(
    plan: BrandPlan,
    brand: Brand,
    rng: random.Random,
    agents: list[User],
    languages: dict[str, Skill],
    actor: SystemActor,
) -> None:
    products = [
        Skill.objects.create(brand=brand, kind=SkillKind.PRODUCT, code=code, name=name)
        for code, name in plan.product_skills
    ]
    for agent in agents:
        set_agent_skill(user=agent, skill=languages["es"], level=5, actor=actor)
        if rng.random() < 0.6:
            set_agent_skill(user=agent, skill=languages["en"], level=rng.randint(2, 5), actor=actor)
        for skill in rng.sample(products, k=rng.randint(1, 2)):
            set_agent_skill(user=agent, skill=skill, level=rng.randint(2, 5), actor=actor)


# --- Customers --------------------------------------------------------------------------------


def phone_number(city: City, country: str, rng: random.Random) -> str:
    """A valid mobile number in ``country``, local to ``city`` where numbers are local (Mexico)."""
    while True:
        if country == "ES":
            national = rng.choice("667") + "".join(rng.choice("0123456789") for _ in range(8))
            text = f"+34 {national[:3]} {national[3:6]} {national[6:]}"
        else:
            rest = "".join(rng.choice("0123456789") for _ in range(10 - len(city.area_code)))
            text = f"+52 {city.area_code} {rest[:-4]} {rest[-4:]}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            return text


def _address(
    plan: BrandPlan, rng: random.Random, fake: Faker, fake_en: Faker, abroad: bool
) -> dict[str, Any]:
    if abroad:
        # Cross-border customers of the northern telecom are billed at a Texas address.
        return {
            "address_line": fake_en.street_address(),
            "city": fake_en.city(),
            "region": "TX",
            "postal_code": fake_en.zipcode_in_state("TX"),
            "country": "US",
        }
    city = rng.choice(plan.cities)
    return {
        "address_line": fake.street_address(),
        "city": city.name,
        "region": city.region,
        "postal_code": f"{rng.randint(city.postal_low, city.postal_high):05d}",
        "country": plan.country,
    }


def _attributes(plan: BrandPlan, rng: random.Random) -> dict[str, Any]:
    since = rng.randint(2015, 2025)
    if not plan.is_telecom:
        tier = rng.choices(("bronze", "silver", "gold"), weights=(60, 28, 12))[0]
        return {"loyalty_tier": tier, "customer_since": since}
    plans = [product.name for product in plan.products if product.is_plan]
    return {
        "line_type": rng.choices(("postpago", "prepago"), weights=(65, 35))[0],
        "plan": rng.choice(plans),
        "customer_since": since,
    }


def _seed_organizations(
    plan: BrandPlan, brand: Brand, fake: Faker, actor: SystemActor, count: int
) -> list[Organization]:
    organizations: list[Organization] = []
    names: set[str] = set()
    while len(organizations) < count:
        name = fake.company()
        if name.lower() in names:
            continue
        names.add(name.lower())
        domain = f"{ascii_slug(name)[:30]}.example.com"
        organizations.append(
            create_organization(brand=brand, name=name, domain=domain, actor=actor)
        )
    return organizations


def _identities(
    plan: BrandPlan, rng: random.Random, first: str, last: str, city: City, used: set[str]
) -> list[IdentityInput]:
    while True:
        local = f"{ascii_slug(first)}.{ascii_slug(last)}" + (
            str(rng.randint(1, 99)) if rng.random() < 0.5 else ""
        )
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        phone = phone_number(city, plan.country, rng)
        if email not in used and phone not in used:
            break
    used.update((email, phone))
    identities = [IdentityInput("email", email, is_primary=True), IdentityInput("phone", phone)]
    if rng.random() < 0.25:
        handle = f"{ascii_slug(first)}_{ascii_slug(last)[:6]}{rng.randint(1, 999)}"
        if handle not in used:
            used.add(handle)
            identities.append(IdentityInput("social", handle, network=rng.choice(SOCIAL_NETWORKS)))
    return identities


def _seed_customers(
    plan: BrandPlan,
    brand: Brand,
    rng: random.Random,
    fake: Faker,
    fake_en: Faker,
    actor: SystemActor,
    *,
    scale: float,
    progress: bool,
) -> list[Customer]:
    count = max(4, round(plan.customers * scale))
    organizations = _seed_organizations(
        plan, brand, fake, actor, max(1, round(plan.organizations * min(1.0, scale * 4)))
    )
    used: set[str] = set()
    customers = []
    for _ in tqdm(
        range(count), desc=f"{plan.name}: customers", unit="", file=sys.stderr, disable=not progress
    ):
        language = "en" if rng.random() < 0.2 else "es"
        names = fake_en if language == "en" else fake
        first, last = names.first_name(), names.last_name()
        address = _address(
            plan,
            rng,
            fake,
            fake_en,
            abroad=plan.country == "MX" and language == "en" and rng.random() < 0.3,
        )
        home = next(
            (city for city in plan.cities if city.name == address["city"]), rng.choice(plan.cities)
        )
        customer = create_customer(
            brand=brand,
            actor=actor,
            name=f"{first} {last}",
            identities=_identities(plan, rng, first, last, home, used),
            language=language,
            organization=rng.choice(organizations) if rng.random() < 0.12 else None,
            consent_email=rng.random() < 0.7,
            consent_phone=rng.random() < 0.5,
            consent_marketing=rng.random() < 0.35,
            custom_attributes=_attributes(plan, rng),
            **address,
        )
        customers.append(customer)
    return customers


# --- Orders -----------------------------------------------------------------------------------


def _order_items(plan: BrandPlan, customer: Customer, rng: random.Random) -> list[dict[str, Any]]:
    if not plan.is_telecom:
        chosen = rng.sample(plan.products, k=rng.choices((1, 2, 3), weights=(60, 30, 10))[0])
        return [
            {
                "sku": product.sku,
                "name": product.name,
                "quantity": rng.choice((1, 1, 1, 2)),
                "unit_price": str(product.price),
            }
            for product in chosen
        ]
    devices = [product for product in plan.products if not product.is_plan]
    plans = {product.name: product for product in plan.products if product.is_plan}
    items = []
    if rng.random() < 0.75:
        device = rng.choice(devices)
        items.append(
            {"sku": device.sku, "name": device.name, "quantity": 1, "unit_price": str(device.price)}
        )
    line_plan = plans.get(customer.custom_attributes.get("plan", "")) or next(iter(plans.values()))
    if not items or rng.random() < 0.5:
        items.append(
            {
                "sku": line_plan.sku,
                "name": f"Activación {line_plan.name}",
                "quantity": 1,
                "unit_price": str(line_plan.price),
            }
        )
    return items


def _order_dates(rng: random.Random, placed_at: datetime, now: datetime) -> dict[str, Any]:
    """Status, promised and actual delivery of an order placed at ``placed_at``.

    About one delivered order in five arrives after its promised day.
    """
    age_days = (now - placed_at).days
    promised = placed_at.date() + timedelta(days=rng.randint(2, 5))
    today = now.date()
    if age_days < 1:
        return {"status": OrderStatus.PAID, "promised_delivery_on": promised, "delivered_on": None}
    if age_days < 3:
        return {
            "status": OrderStatus.SHIPPED,
            "promised_delivery_on": promised,
            "delivered_on": None,
        }
    status = rng.choices(
        (OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.CANCELLED, OrderStatus.SHIPPED),
        weights=(85, 7, 4, 4),
    )[0]
    if status in (OrderStatus.CANCELLED, OrderStatus.SHIPPED):
        return {"status": status, "promised_delivery_on": promised, "delivered_on": None}
    slip = rng.randint(1, 6) if rng.random() < 0.2 else rng.randint(-2, 0)
    delivered = min(
        max(promised + timedelta(days=slip), placed_at.date() + timedelta(days=1)), today
    )
    return {"status": status, "promised_delivery_on": promised, "delivered_on": delivered}


def _seed_orders(
    plan: BrandPlan,
    customers: list[Customer],
    rng: random.Random,
    now: datetime,
    actor: SystemActor,
    *,
    progress: bool,
) -> dict[int, list[Order]]:
    buyers = [customer for customer in customers if rng.random() < plan.ordering_share]
    purchases = [
        (customer, now - timedelta(days=rng.uniform(0.2, 110)))
        for customer in buyers
        for _ in range(1 if plan.is_telecom else rng.choices((1, 2, 3), weights=(55, 30, 15))[0])
    ]
    # Numbered in the order they were placed, as a shop's system numbers them.
    purchases.sort(key=lambda purchase: purchase[1])
    orders: dict[int, list[Order]] = {}
    number = 5_200_000 if plan.is_telecom else 104_000
    bar = tqdm(
        purchases, desc=f"{plan.name}: orders", unit="", file=sys.stderr, disable=not progress
    )
    for customer, placed_at in bar:
        number += rng.randint(1, 40)
        items = _order_items(plan, customer, rng)
        subtotal = sum(Decimal(item["unit_price"]) * item["quantity"] for item in items)
        # The shop charges shipping under 50 EUR; a telecom delivers devices free.
        shipping = Decimal("4.95") if not plan.is_telecom and subtotal < 50 else Decimal("0")
        order = record_order(
            customer=customer,
            actor=actor,
            number=f"{plan.order_prefix}-{number}",
            amount=subtotal + shipping,
            currency=plan.currency,
            placed_at=placed_at,
            items=items,
            **_order_dates(rng, placed_at, now),
        )
        orders.setdefault(customer.pk, []).append(order)
    return orders


def reset_logins() -> list[tuple[logins.DemoAccount, str]]:
    """Every demo sign-in with a fresh password (see :mod:`atiende.demo.logins`)."""
    return logins.reset_demo_logins(actor=system_actor(ACTOR_LABEL))
