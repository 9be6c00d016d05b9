"""What a demo brand is made of; ``tienda_sol`` and ``telco_norte`` fill it in.

Cities carry their real postal-code ranges and phone area codes, so an address and a phone number
of one customer agree with each other (a Monterrey customer has an 81 number and a 64xxx code).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from atiende.demo.content import Topic, Voice


@dataclass(frozen=True)
class City:
    name: str
    region: str
    postal_low: int
    postal_high: int
    area_code: str  # national destination code; "" where any mobile prefix will do (Spain)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    is_plan: bool = False


@dataclass(frozen=True)
class LiveCase:
    """A case that starts as the demo starts, worked through the ordinary actions."""

    subject: str
    body: str
    category: str
    # The agent's first answer, written for this case.
    reply: str


@dataclass(frozen=True)
class BrandPlan:
    """Everything the seeder needs to build one brand, at full size."""

    slug: str
    name: str
    prefix: str
    country: str
    time_zone: str
    locale: str
    currency: str
    customers: int
    conversations: int
    ordering_share: float  # share of customers with at least one order
    order_prefix: str
    teams: tuple[str, ...]
    product_skills: tuple[tuple[str, str], ...]
    organizations: int
    cities: tuple[City, ...]
    products: tuple[Product, ...]
    topics: tuple[Topic, ...]
    voice: Voice
    live_cases: tuple[LiveCase, ...]
    live_follow_up: str
    # A telecom's orders are devices and line activations, one per buyer; a shop's are baskets.
    is_telecom: bool = False
    # Where roaming customers travel, as (Spanish, English) names: with roaming in every plan, and
    # at a daily rate.
    roaming_included: tuple[tuple[str, str], ...] = ()
    roaming_extra: tuple[tuple[str, str], ...] = ()
