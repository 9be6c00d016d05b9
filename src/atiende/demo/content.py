"""The shape of what the demo's customers and agents write; each brand's module holds the words.

Texts are ``str.format`` templates whose placeholders are filled by :func:`render` from a context
the seeder builds per conversation (see ``atiende.demo.history.CONTEXT_KEYS``). Internal notes are
always in Spanish: the BPO's agents write to each other in their own language whatever the
customer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Texts = Mapping[str, tuple[str, ...]]
"""Variants of one text per language code ("es", "en"), any of which fits."""


@dataclass(frozen=True)
class Story:
    """One way a case goes, in one language: every part follows from the one before."""

    subjects: tuple[str, ...]  # any of them fits the opening
    opening: str  # the customer's first message
    reply: str  # the agent's first answer
    follow_up: str  # the customer's second message
    closing: str  # the agent's message that solves the case


@dataclass(frozen=True)
class Topic:
    """One reason customers get in touch, with the stories such cases follow."""

    key: str
    category: str
    team: int  # index into the brand's teams
    tags: tuple[str, ...]
    weight: int
    needs_order: bool
    priority: str  # the usual priority; the seeder varies it
    stories: Mapping[str, tuple[Story, ...]]  # per language
    notes: tuple[str, ...]  # internal notes, in Spanish
    late_orders: bool = False  # about orders that missed their promised delivery


@dataclass(frozen=True)
class Voice:
    """How a brand's people greet and sign, per language, on email and on short channels."""

    customer_email: Texts
    agent_email: Texts
    agent_short: Texts  # chat and social: first a greeting, later the bare text
    phone_prefix: Texts
    waiting: Texts  # the agent asks the customer for something: the case goes pending
    on_hold: Texts  # the agent waits on a third party: the case goes on hold
    hold_notes: tuple[str, ...]


def render(template: str, context: Mapping[str, str]) -> str:
    return template.format_map(context)


# Notes agents leave on the cases they are working on as the demo starts.
LIVE_NOTES: tuple[str, ...] = (
    "Cliente al teléfono, revisar antes de las 18:00.",
    "Consultado con el supervisor, pendiente de confirmar.",
)
