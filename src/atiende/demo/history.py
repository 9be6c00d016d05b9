"""Ninety days of a brand's conversations, plus a few happening right now.

The history is brought in with the bulk import action (a few queries per batch of 200); the live
conversations go through the ordinary actions one step at a time, so the newest cases carry the
same event trail (created, assigned, replied, noted, status changed) as real ones.

Statuses follow age as in a real inbox: old cases are closed or solved, this week's are mostly
waiting on someone, today's are new or open. Every timeline is ordered and ends before ``now``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import phonenumbers
from django.utils import timezone
from tqdm import tqdm

from atiende.accounts.models import User
from atiende.brands.models import Brand
from atiende.conversations.actions import (
    ImportedConversation,
    ImportedMessage,
    add_internal_note,
    assign_conversation,
    categorize_conversation,
    change_status,
    import_conversations,
    receive_customer_message,
    reply_to_conversation,
    set_conversation_tags,
    start_conversation,
)
from atiende.conversations.lifecycle import Status
from atiende.conversations.models import Category, Conversation, Direction, Priority
from atiende.core.actors import SystemActor
from atiende.customers.models import Customer, CustomerIdentity, Order
from atiende.demo.catalog import BrandPlan, LiveCase
from atiende.demo.content import LIVE_NOTES, Story, Topic, render

if TYPE_CHECKING:
    from atiende.demo.seed import Staff

BATCH_SIZE = 200
# The placeholders every text may use (see atiende.demo.content); "core" is the wrapped message.
CONTEXT_KEYS = frozenset(
    {
        "customer", "customer_full", "agent", "brand", "order", "product", "device", "plan", "date",
        "term_end", "amount", "city", "country", "far_country", "days", "tracking", "phone",
    }
)  # fmt: skip
HISTORY_DAYS = 90
CHANNEL_WEIGHTS = {"email": 40, "chat": 25, "phone": 20, "social": 15}
# Local hours at which customers write, weighted like a retail contact centre's day.
HOUR_WEIGHTS = dict(
    zip(range(7, 24), (1, 4, 7, 8, 8, 7, 6, 6, 7, 7, 6, 6, 5, 5, 4, 3, 2), strict=True)
)


@dataclass
class World:
    """What a brand's history is made from, as the seeder built it."""

    rng: random.Random
    now: datetime
    staff: Staff
    customers: list[Customer]
    orders: dict[int, list[Order]]
    categories: dict[str, Category]
    # Read once for the whole history rather than once per conversation.
    phones: dict[int, str] = field(default_factory=dict)
    social: set[int] = field(default_factory=set)


@dataclass
class Timeline:
    messages: list[ImportedMessage]
    status: str
    solved_at: datetime | None = None
    closed_at: datetime | None = None


def seed_history(
    plan: BrandPlan, brand: Brand, world: World, *, actor: SystemActor, progress: bool, scale: float
) -> None:
    total = max(8, round(plan.conversations * scale))
    identities = CustomerIdentity.objects.filter(brand=brand).values_list(
        "customer_id", "kind", "value"
    )
    for customer_id, kind, value in identities:
        if kind == "phone":
            world.phones[customer_id] = phonenumbers.format_number(
                phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        elif kind == "social":
            world.social.add(customer_id)
    weights = [min(world.rng.paretovariate(1.4), 12.0) for _ in world.customers]
    bar = tqdm(
        total=total,
        desc=f"{plan.name}: conversations",
        unit="",
        file=sys.stderr,
        disable=not progress,
    )
    for start in range(0, total, BATCH_SIZE):
        batch = [_conversation(plan, world, weights) for _ in range(min(BATCH_SIZE, total - start))]
        import_conversations(brand=brand, conversations=batch, actor=actor)
        bar.update(len(batch))
    bar.close()
    seed_live_conversations(plan, brand, world, actor=actor)


def _pick(world: World, weights: Sequence[float], topic: Topic) -> tuple[Customer, Order | None]:
    """A customer (frequent contacters more often) and, if the topic is about one, their order."""
    rng = world.rng
    for _attempt in range(30):
        customer = rng.choices(world.customers, weights=weights)[0]
        orders = world.orders.get(customer.pk, [])
        if topic.late_orders:
            orders = [order for order in orders if order.is_late]
        if orders or not topic.needs_order:
            return customer, rng.choice(orders) if orders else None
    buyers = [customer for customer in world.customers if customer.pk in world.orders]
    customer = rng.choice(buyers or world.customers)
    orders = world.orders.get(customer.pk, [])
    return customer, rng.choice(orders) if orders else None


def _start_time(plan: BrandPlan, world: World, order: Order | None) -> datetime:
    """When the customer first wrote: after the order's promised delivery if there is one."""
    rng, now = world.rng, world.now
    zone = ZoneInfo(plan.time_zone)
    start = None
    if order is not None and order.promised_delivery_on is not None:
        promised = datetime.combine(order.promised_delivery_on, time(12), tzinfo=zone)
        start = promised + timedelta(days=rng.uniform(0.5, 6))
    if start is None or not now - timedelta(days=HISTORY_DAYS) < start < now - timedelta(hours=1):
        start = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
    hour = rng.choices(list(HOUR_WEIGHTS), weights=list(HOUR_WEIGHTS.values()))[0]
    local = start.astimezone(zone).replace(
        hour=hour, minute=rng.randrange(60), second=rng.randrange(60)
    )
    start = local.astimezone(UTC)
    return (
        start
        if start < now - timedelta(minutes=30)
        else now - timedelta(minutes=rng.randint(30, 600))
    )


def _status_for(age: timedelta, rng: random.Random) -> str:
    days = age.total_seconds() / 86400
    if days > 10:
        options = {Status.CLOSED: 66, Status.SOLVED: 29, Status.PENDING: 3, Status.ON_HOLD: 2}
    elif days > 3:
        options = {
            Status.SOLVED: 50,
            Status.CLOSED: 8,
            Status.OPEN: 12,
            Status.PENDING: 18,
            Status.ON_HOLD: 12,
        }
    else:
        options = {
            Status.NEW: 30,
            Status.OPEN: 28,
            Status.PENDING: 20,
            Status.ON_HOLD: 6,
            Status.SOLVED: 16,
        }
    return rng.choices(list(options), weights=list(options.values()))[0].value


def _money(amount: Decimal, currency: str, language: str) -> str:
    if currency == "EUR":
        return f"{amount:.2f} €".replace(".", ",") if language == "es" else f"€{amount:.2f}"
    return f"${amount:,.2f} MXN"


def _context(
    plan: BrandPlan,
    world: World,
    customer: Customer,
    order: Order | None,
    *,
    language: str,
    start: datetime,
) -> dict[str, str]:
    """The facts a case's messages mention, consistent with its customer, order and date."""
    rng = world.rng
    products = [product.name for product in plan.products if not product.is_plan]
    items = (
        [item["name"] for item in order.items if not item["name"].startswith("Activación")]
        if order
        else []
    )
    anywhere = [*plan.roaming_included, *plan.roaming_extra] or [("", "")]
    country = rng.choice(anywhere)
    far_country = rng.choice(plan.roaming_extra or anywhere)
    promised = order.promised_delivery_on if order else None
    mentioned = promised or (start - timedelta(days=rng.randint(3, 20))).date()
    amount = order.amount if order else Decimal(rng.randrange(1500, 150000)) / 100
    pick = 0 if language == "es" else 1
    return {
        "customer": customer.name.split(" ")[0],
        "customer_full": customer.name,
        "agent": "",
        "brand": plan.name,
        "order": order.number if order else "",
        "product": rng.choice(items or products),
        "device": rng.choice(items or products[:4]),
        "plan": str(customer.custom_attributes.get("plan", "Plan Conecta 20 GB")),
        "date": mentioned.strftime("%d/%m/%Y"),
        "term_end": (start + timedelta(days=rng.randint(30, 300))).strftime("%d/%m/%Y"),
        "amount": _money(amount, plan.currency, language),
        "city": customer.city or plan.cities[0].name,
        "country": country[pick],
        "far_country": far_country[pick],
        "days": str(max(1, min((start.date() - promised).days, 9))) if promised else "1",
        "tracking": f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randrange(10**8, 10**9)}",
        "phone": world.phones.get(customer.pk, ""),
    }


def _conversation(plan: BrandPlan, world: World, weights: Sequence[float]) -> ImportedConversation:
    rng = world.rng
    topic = rng.choices(plan.topics, weights=[topic.weight for topic in plan.topics])[0]
    customer, order = _pick(world, weights, topic)
    language = customer.language or "es"
    if customer.pk in world.social and rng.random() < 0.5:
        channel = "social"
    else:
        channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
    start = _start_time(plan, world, order)
    status = _status_for(world.now - start, rng)
    team_agents = world.staff.agents_by_team[topic.team]
    # Most new cases still wait in the team's queue; the author of replies is the owner.
    owner = rng.choice(team_agents)
    assignee = None if status == Status.NEW and rng.random() < 0.7 else owner
    context = {
        **_context(plan, world, customer, order, language=language, start=start),
        "agent": owner.get_short_name(),
    }
    write = _Writer(plan=plan, language=language, context=context, rng=rng)
    story = rng.choice(topic.stories[language])
    steps = _steps(story, write, channel=channel, status=status, notes=topic.notes)
    timeline = _timeline(steps, start=start, now=world.now, status=status, author=owner, rng=rng)
    tags = list(topic.tags)
    if customer.custom_attributes.get("loyalty_tier") == "gold":
        tags.append("vip")
    if rng.random() < 0.06:
        tags.append("reincidente")
    priority = (
        topic.priority
        if rng.random() < 0.7
        else rng.choices(Priority.values, weights=(15, 55, 22, 8))[0]
    )
    return ImportedConversation(
        customer=customer,
        channel=channel,
        subject=write.line(rng.choice(story.subjects)),
        messages=timeline.messages,
        status=timeline.status,
        priority=priority,
        language=language,
        category=world.categories[topic.category],
        tags=tags,
        assignee=assignee,
        team=world.staff.teams[topic.team],
        solved_at=timeline.solved_at,
        closed_at=timeline.closed_at,
    )


@dataclass(frozen=True)
class _Writer:
    """Puts a case's sentences in the words of its customer and agent, per channel and language."""

    plan: BrandPlan
    language: str
    context: dict[str, str]
    rng: random.Random

    def line(self, template: str) -> str:
        return render(template, self.context)

    def customer(self, template: str, channel: str) -> str:
        core = self.line(template)
        voice = self.plan.voice
        if channel == "email":
            return render(
                self.rng.choice(voice.customer_email[self.language]), {**self.context, "core": core}
            )
        if channel == "phone":
            return self.rng.choice(voice.phone_prefix[self.language]) + core
        return core

    def agent(self, core: str, channel: str, *, first: bool = False) -> str:
        voice = self.plan.voice
        if channel == "email":
            return render(voice.agent_email[self.language][0], {**self.context, "core": core})
        short = voice.agent_short[self.language]
        return render(short[0] if first else short[-1], {**self.context, "core": core})


def _agent_delay(channel: str, rng: random.Random) -> timedelta:
    minutes = {"chat": (1, 6), "social": (10, 180), "phone": (5, 60)}.get(channel, (40, 26 * 60))
    return timedelta(minutes=rng.uniform(*minutes))


def _customer_delay(channel: str, rng: random.Random) -> timedelta:
    return timedelta(minutes=rng.uniform(1, 5) if channel == "chat" else rng.uniform(60, 36 * 60))


@dataclass(frozen=True)
class _Step:
    gap: timedelta  # since the previous message
    direction: str
    channel: str
    text: str


def _note(text: str, rng: random.Random, *, up_to_minutes: float) -> _Step:
    return _Step(
        timedelta(minutes=rng.uniform(1, up_to_minutes)), Direction.INTERNAL, "internal", text
    )


def _steps(
    story: Story, write: _Writer, *, channel: str, status: str, notes: Sequence[str]
) -> list[_Step]:
    """Who says what, in order: the case's conversation before any time is fixed."""
    rng, voice, language = write.rng, write.plan.voice, write.language
    # A phone call is logged as it happened; what follows it is written by email.
    later = "email" if channel == "phone" else channel
    opening = write.customer(story.opening, channel)
    steps = [_Step(timedelta(0), Direction.INBOUND, channel, opening)]
    follow_up = write.customer(story.follow_up, later)
    answer = _Step(_customer_delay(later, rng), Direction.INBOUND, later, follow_up)
    if status == Status.NEW:
        return [*steps, answer] if rng.random() < 0.2 else steps
    reply = write.line(story.reply)
    if status == Status.PENDING:
        reply += "\n\n" + write.line(rng.choice(voice.waiting[language]))
    reply = write.agent(reply, later, first=True)
    steps.append(_Step(_agent_delay(channel, rng), Direction.OUTBOUND, later, reply))
    if rng.random() < 0.25:
        steps.append(_note(write.line(rng.choice(notes)), rng, up_to_minutes=20))
    if status == Status.ON_HOLD:
        steps.append(_note(write.line(rng.choice(voice.hold_notes)), rng, up_to_minutes=90))
        waiting = write.agent(write.line(rng.choice(voice.on_hold[language])), later)
        steps.append(
            _Step(timedelta(minutes=rng.uniform(1, 10)), Direction.OUTBOUND, later, waiting)
        )
    elif status == Status.OPEN or (status in (Status.SOLVED, Status.CLOSED) and rng.random() < 0.6):
        steps.append(answer)
    if status in (Status.SOLVED, Status.CLOSED):
        # The solution is news that takes hours to come (a delivery, a refund, a repair); a chat
        # is over by then, so it goes by email.
        on = "email" if later == "chat" else later
        closing = write.agent(write.line(story.closing), on)
        steps.append(_Step(timedelta(hours=rng.uniform(2, 30)), Direction.OUTBOUND, on, closing))
    return steps


def _timeline(
    steps: list[_Step],
    *,
    start: datetime,
    now: datetime,
    status: str,
    author: User,
    rng: random.Random,
) -> Timeline:
    """The messages at real times, squeezed to end before ``now``; the solved and closed times."""
    span = sum((step.gap for step in steps), timedelta(0))
    room = now - timedelta(minutes=1) - start
    squeeze = min(1.0, room / span) if span else 1.0
    messages, at = [], start
    for step in steps:
        at += step.gap * squeeze
        from_customer = step.direction == Direction.INBOUND
        message_id = (
            f"<{rng.getrandbits(64):016x}@mail.example.com>"
            if from_customer and step.channel == "email"
            else ""
        )
        messages.append(
            ImportedMessage(
                direction=step.direction,
                channel=step.channel,
                created_at=at,
                body_text=step.text,
                author_user=None if from_customer else author,
                external_id=message_id,
            )
        )
    timeline = Timeline(messages=messages, status=status)
    if status in (Status.SOLVED, Status.CLOSED):
        timeline.solved_at = at
        closed_at = at + timedelta(days=rng.uniform(3, 5))
        # A solved case closes after days without news; one solved recently is still just solved.
        if status == Status.CLOSED and closed_at < now:
            timeline.closed_at = closed_at
        else:
            timeline.status = Status.SOLVED.value
    return timeline


def seed_live_conversations(
    plan: BrandPlan, brand: Brand, world: World, *, actor: SystemActor
) -> None:
    """A few cases of the last hour, built step by step through the ordinary actions.

    The first waits unassigned in the queue; the second belongs to the demo agent and waits on
    the customer; the others are being worked by a colleague and the customer has just answered.
    """
    rng, now, staff = world.rng, timezone.now(), world.staff
    speakers = [customer for customer in world.customers if customer.language != "en"]
    customers = rng.sample(speakers or world.customers, k=len(plan.live_cases))
    for index, (case, customer) in enumerate(zip(plan.live_cases, customers, strict=True)):
        conversation = start_conversation(
            brand=brand,
            customer=customer,
            channel="email" if index == 1 else "chat",
            actor=actor,
            subject=case.subject,
            body_text=case.body,
            team=staff.teams[0],
            created_at=now - timedelta(minutes=rng.randint(10 + 15 * index, 25 + 15 * index)),
        )
        if index == 0:
            continue
        mine = staff.login_agent or staff.agents_by_team[0][0]
        owner = mine if index == 1 else staff.agents_by_team[-1][0]
        _work_live_case(
            plan, world, conversation, case, owner=owner, waiting=index == 1, actor=actor
        )


def _work_live_case(
    plan: BrandPlan,
    world: World,
    conversation: Conversation,
    case: LiveCase,
    *,
    owner: User,
    waiting: bool,
    actor: SystemActor,
) -> None:
    """The supervisor assigns the case, its owner answers and notes; it waits or is answered."""
    rng, staff = world.rng, world.staff
    assign_conversation(
        conversation=conversation, assignee=owner, team=staff.teams[0], actor=staff.supervisors[0]
    )
    category = world.categories[case.category]
    categorize_conversation(conversation=conversation, category=category, actor=owner)
    reply_to_conversation(conversation=conversation, actor=owner, body_text=case.reply)
    add_internal_note(conversation=conversation, actor=owner, body_text=rng.choice(LIVE_NOTES))
    if waiting:
        set_conversation_tags(conversation=conversation, tags=["urgente"], actor=owner)
        change_status(conversation=conversation, status=Status.PENDING, actor=owner)
    else:
        receive_customer_message(
            conversation=conversation, channel="chat", actor=actor, body_text=plan.live_follow_up
        )
