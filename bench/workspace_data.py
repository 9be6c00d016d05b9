"""Generate a million-conversation workspace for ``bench/workspace.py`` to measure.

Run from the project root (see bench/README.md)::

    .venv/bin/python bench/workspace_data.py                      # SQLite under /tmp, 1,000,000
    .venv/bin/python bench/workspace_data.py --conversations 20000   # a small one
    .venv/bin/python bench/workspace_data.py \\
        --database-url postgres://atiende:atiende@127.0.0.1:5432/bench_ws

What it builds, from nothing (the SQLite file or the PostgreSQL database is dropped first):

- ``migrate``; then, through the product's actions, two brands, ~40 agents and supervisors with
  their roles and teams (the bench's own personas among them), and each brand's categories and tags;
- then, bypassing the actions, by raw SQL in large transactions (SQLite: ``executemany`` with
  ``synchronous=OFF``; PostgreSQL: ``COPY``): ~300,000 customers with their CRNs (valid, from
  ``customers/crn.py``) and identities (an email each, a phone for some), the conversations (3
  messages each on average, one known conversation of 50), their messages, tags and, for the open
  ones, SLA timers and ``sla_due_at``. Statuses, priorities and channels are spread the way a
  helpdesk's history is: nearly everything closed, a few thousand open in the last days;
- ``ANALYZE`` (what ``PRAGMA optimize`` / autovacuum would do), then ``reindex_search`` (the
  full-text index: bulk rows bypass the actions that keep it current).

Everything comes from one seeded ``random.Random`` and fixed word lists (``workspace_text.py``):
the same arguments give the same database. It prints what the measuring step needs: the rare and
common search terms, a real CRN and the 50-message conversation's URL.

Actions are bypassed on purpose: a million conversations through ``open_conversation`` would take
hours; this is test data: no event rows, no webhooks, no notifications.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import summary
from workspace_text import (
    AGENT_SENTENCES,
    CITIES,
    COMMON_SENTENCES,
    COMMON_TERM,
    CUSTOMER_SENTENCES,
    FIRST_NAMES,
    LAST_NAMES,
    MONTHS,
    NOTE_SENTENCES,
    RARE_TERM,
    RARE_TERM_MESSAGES,
    STREETS,
    SUBJECTS,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path("/tmp/atiende-bench-ws")  # noqa: S108  (kept out of the repository)
SEED = "atiende-workspace-bench"
# The personas the measuring step signs in as.
AGENT_EMAIL = "agent@bench.atiende.dev"
SUPERVISOR_EMAIL = "supervisor@bench.atiende.dev"
# The subject that finds the 50-message conversation again (workspace.py looks it up by it).
LONG_SUBJECT = "Seguimiento de la incidencia larga (50 mensajes)"
LONG_MESSAGES = 50
COMMON_SHARE = 0.20
HISTORY_DAYS = 730

BRANDS = [
    {
        "slug": "sol",
        "name": "Tienda Sol",
        "prefix": "SOL",
        "share": 0.6,
        "teams": ["Pedidos", "Facturación", "Devoluciones", "Técnico"],
        "categories": ["Entrega", "Facturación", "Devolución", "Producto", "Cuenta", "Otros"],
    },
    {
        "slug": "norte",
        "name": "Telco Norte",
        "prefix": "TN",
        "share": 0.4,
        "teams": ["Móvil", "Fibra", "Facturación", "Portabilidad"],
        "categories": ["Avería", "Facturación", "Portabilidad", "Tarifa", "Baja", "Otros"],
    },
]
TAGS = [
    "vip", "urgente", "reclamación", "devolución", "factura", "envío", "fibra", "móvil",
    "garantía", "baja", "fraude", "redes-sociales",
]  # fmt: skip
AGENTS_PER_BRAND = 18
# Messages per conversation and their weights: a mean of exactly 3.
MESSAGE_COUNTS = (1, 2, 3, 4, 5, 6, 8, 10)
MESSAGE_WEIGHTS = (26, 25, 18, 12, 8, 5, 4, 2)
CHANNELS = (("email", 55), ("chat", 20), ("social", 12), ("phone", 8), ("portal", 4), ("api", 1))
PRIORITIES = (("low", 15), ("normal", 65), ("high", 15), ("urgent", 5))
UNSOLVED_STATUSES = (("new", 20), ("open", 50), ("pending", 20), ("on_hold", 10))


def _cumulative(pairs: Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    return [value for value, _weight in pairs], list(itertools.accumulate(w for _v, w in pairs))


class Pick:
    """A weighted choice that costs one ``random()`` and a bisect."""

    def __init__(self, rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values, self.cumulative = _cumulative(pairs)
        self.total = self.cumulative[-1]
        self.rng = rng

    def __call__(self) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, self.rng.random() * self.total)]


# --- Where the rows go ----------------------------------------------------------------------


class Writer:
    """Inserts rows into a model's table by raw SQL; columns not given take their field default."""

    def __init__(self, database_url: str, sqlite_path: Path | None) -> None:
        self.is_sqlite = sqlite_path is not None
        if sqlite_path is not None:
            self.sqlite = sqlite3.connect(sqlite_path, isolation_level=None)
            # A throwaway database: durability does not matter, speed does.
            self.sqlite.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF;"
                "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
            )
            self.sqlite.execute("BEGIN")
        else:
            import psycopg

            self.pg = psycopg.connect(database_url)
            self.pg.execute("SET synchronous_commit = off")
        zone = "" if self.is_sqlite else "+00"
        self._times = [
            f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}{zone}"
            for second in range(86400)
        ]
        self._days: dict[int, str] = {}
        self.now = self.timestamp(datetime.now(UTC).replace(microsecond=0))

    def timestamp(self, moment: datetime) -> str:
        return self.ts(int(moment.timestamp()))

    def ts(self, seconds: int) -> str:
        """A UTC epoch second as the backend stores it (Django's SQLite form: naive, space, no
        zone). Two lookups instead of a strftime: it runs about ten million times."""
        day = seconds // 86400
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime(
                "%Y-%m-%d "
            )
        return prefix + self._times[seconds - day * 86400]

    def layout(self, model: Any, given: Sequence[str]) -> tuple[str, list[str], tuple[Any, ...]]:
        """The table, every column in order (given first), and the defaults of the others."""
        fields = list(model._meta.concrete_fields)
        by_column = {field.column: field for field in fields}
        unknown = set(given) - set(by_column)
        if unknown:
            raise SystemExit(f"{model.__name__} has no column {sorted(unknown)}")
        rest = [field for field in fields if field.column not in given]
        return (
            model._meta.db_table,
            [*given, *(f.column for f in rest)],
            tuple(self._default(model, field) for field in rest),
        )

    def _default(self, model: Any, field: Any) -> Any:
        if field.null:
            return None
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return self.now
        if field.has_default():
            value = field.get_default()
            if isinstance(value, dict | list):
                return json.dumps(value)
            return value
        if field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
            return ""
        raise SystemExit(
            f"{model.__name__}.{field.name} is NOT NULL without a default: the generator must "
            "give it a value (a model changed; update bench/workspace_data.py)"
        )

    def insert(self, model: Any, given: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        table, columns, tail = self.layout(model, given)
        names = ", ".join(f'"{column}"' for column in columns)
        if self.is_sqlite:
            marks = ", ".join("?" * len(columns))
            self.sqlite.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',  # noqa: S608
                [row + tail for row in rows] if tail else rows,
            )
        else:
            with (
                self.pg.cursor() as cursor,
                cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row + tail)

    def commit(self) -> None:
        if self.is_sqlite:
            self.sqlite.execute("COMMIT")
            self.sqlite.execute("BEGIN")
        else:
            self.pg.commit()

    def execute(self, sql: str) -> None:
        if self.is_sqlite:
            self.sqlite.execute(sql)
        else:
            self.pg.execute(sql)

    def finish(self, tables: list[str]) -> dict[str, float]:
        """Commit; reset PostgreSQL's id sequences; gather planner statistics. Seconds of each."""
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        if self.is_sqlite:
            self.sqlite.execute("COMMIT")
            self.sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            seconds["commit"] = time.perf_counter() - started
            started = time.perf_counter()
            # What ``PRAGMA optimize`` runs: ANALYZE with a sampling limit.
            self.sqlite.execute("PRAGMA analysis_limit=1000")
            self.sqlite.execute("ANALYZE")
            seconds["analyze"] = time.perf_counter() - started
            self.sqlite.close()
        else:
            for table in tables:
                self.pg.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                    f'(SELECT coalesce(max(id), 0) + 1 FROM "{table}"), false)'
                )
            self.pg.commit()
            seconds["commit"] = time.perf_counter() - started
            started = time.perf_counter()
            self.pg.autocommit = True
            self.pg.execute("VACUUM ANALYZE")
            seconds["analyze"] = time.perf_counter() - started
            self.pg.close()
        return seconds


# --- The set-up through the product's actions -----------------------------------------------


def setup_through_actions(rng: random.Random) -> dict[str, Any]:
    """Brands, staff, roles, teams, categories and tags: small, so through the real actions."""
    from atiende.accounts.actions import (
        add_team_member,
        create_staff_user,
        create_team,
        grant_brand_role,
    )
    from atiende.accounts.roles import Role
    from atiende.brands.actions import create_brand
    from atiende.conversations.models import Category, Tag
    from atiende.core.actors import system_actor

    actor = system_actor("bench")
    supervisor = create_staff_user(
        email=SUPERVISOR_EMAIL, full_name="Supervisora Bench", actor=actor, language="es"
    )
    world: dict[str, Any] = {"brands": []}
    serial = itertools.count(1)
    for plan in BRANDS:
        brand = create_brand(
            slug=plan["slug"],
            name=plan["name"],
            number_prefix=plan["prefix"],
            actor=actor,
            default_language="es",
        )
        grant_brand_role(user=supervisor, brand=brand, role=Role.SUPERVISOR, actor=actor)
        teams = [create_team(brand=brand, name=name, actor=actor) for name in plan["teams"]]
        for team in teams:
            add_team_member(team=team, user=supervisor, actor=actor, is_lead=True)
        agents_by_team: dict[int, list[int]] = {team.pk: [] for team in teams}
        agent_team: dict[int, int] = {}
        for index in range(AGENTS_PER_BRAND):
            is_bench_agent = plan["slug"] == "sol" and index == 0
            language = rng.choice(["es", "en"])
            first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
            agent = create_staff_user(
                email=AGENT_EMAIL if is_bench_agent else f"agent{next(serial)}@bench.atiende.dev",
                full_name=f"{first} {last}",
                actor=actor,
                language=language,
            )
            grant_brand_role(user=agent, brand=brand, role=Role.AGENT, actor=actor)
            # The bench agent works in two teams, as many agents do, so "teams" is not "mine".
            member_of = teams[:2] if is_bench_agent else [teams[index % len(teams)]]
            for team in member_of:
                add_team_member(team=team, user=agent, actor=actor)
                agents_by_team[team.pk].append(agent.pk)
            agent_team[agent.pk] = member_of[0].pk
        world["brands"].append(
            {
                "id": brand.pk,
                "slug": brand.slug,
                "share": plan["share"],
                "teams": [team.pk for team in teams],
                "agents": list(agent_team),
                "agent_team": agent_team,
                "categories": [
                    Category.objects.create(brand=brand, name=name).pk
                    for name in plan["categories"]
                ],
                "tags": [Tag.objects.create(brand=brand, name=name).pk for name in TAGS],
            }
        )
    return world


# --- Rows ------------------------------------------------------------------------------------


def ascii_letters(text: str) -> str:
    table = str.maketrans("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunAEIOUUN")
    return text.translate(table).lower()


def generate_customers(
    writer: Writer, rng: random.Random, world: dict[str, Any], count: int, progress: bool
) -> dict[int, list[tuple[int, str]]]:
    """Customers with CRNs and identities. Returns, per brand, each customer's (id, language)."""
    from atiende.customers import crn as crn_scheme
    from atiende.customers.models import Customer, CustomerIdentity

    customer_columns = (
        "id", "brand_id", "crn", "name", "language", "address_line", "city", "region",
        "postal_code", "country", "consent_email", "consent_phone", "created_at", "updated_at",
    )  # fmt: skip
    identity_columns = (
        "id", "brand_id", "customer_id", "kind", "network", "value", "is_primary", "created_at"
    )  # fmt: skip
    brand_pick = Pick(rng, [(brand, round(brand["share"] * 100)) for brand in world["brands"]])
    by_brand: dict[int, list[tuple[int, str]]] = {brand["id"]: [] for brand in world["brands"]}
    seen_crns: set[str] = set()
    identity_id = itertools.count(1)
    start = int(time.time()) - (HISTORY_DAYS + 30) * 86400
    batch, identities = [], []
    bar = _bar(count, "customers", progress)
    for customer_id in range(1, count + 1):
        brand = brand_pick()
        language = "es" if rng.random() < 0.7 else "en"
        first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
        crn = crn_scheme.generate(rng.randrange)
        while crn in seen_crns:
            crn = crn_scheme.generate(rng.randrange)
        seen_crns.add(crn)
        city, region, postal_prefix = rng.choice(CITIES)
        created = writer.ts(start + customer_id * 97)
        customer = (
            customer_id, brand["id"], crn, f"{first} {last}", language,
            f"{rng.choice(STREETS)} {rng.randint(1, 120)}", city, region,
            f"{postal_prefix}{rng.randint(0, 999):03d}", "ES", rng.random() < 0.8,
            rng.random() < 0.5, created, created,
        )  # fmt: skip
        batch.append(customer)
        email = f"{ascii_letters(first)}.{ascii_letters(last)}.{customer_id}@example.com"
        identities.append(
            (next(identity_id), brand["id"], customer_id, "email", "", email, True, created)
        )
        if rng.random() < 0.4:
            phone = f"+346{customer_id:08d}"
            identities.append(
                (next(identity_id), brand["id"], customer_id, "phone", "", phone, False, created)
            )
        by_brand[brand["id"]].append((customer_id, language))
        if len(batch) >= 20_000:
            writer.insert(Customer, customer_columns, batch)
            writer.insert(CustomerIdentity, identity_columns, identities)
            writer.commit()
            bar.update(len(batch))
            batch, identities = [], []
    writer.insert(Customer, customer_columns, batch)
    writer.insert(CustomerIdentity, identity_columns, identities)
    writer.commit()
    bar.update(len(batch))
    bar.close()
    return by_brand


class Texts:
    """Subjects and bodies from the fixed sentences; the common and rare terms put in on purpose."""

    def __init__(self, rng: random.Random, rare_messages: set[int]) -> None:
        self.rng = rng
        self.rare_messages = rare_messages
        self.common_messages = 0

    def subject(self, language: str) -> str:
        template = self.rng.choice(SUBJECTS[language])
        return template.format(
            n=self.rng.randint(100_000, 999_999), month=self.rng.choice(MONTHS[language])
        )

    def body(self, message_id: int, language: str, direction: str) -> str:
        rng = self.rng
        if direction == "internal":
            sentences = [rng.choice(NOTE_SENTENCES)]
        elif direction == "inbound":
            sentences = rng.choices(CUSTOMER_SENTENCES[language], k=rng.randint(2, 5))
        else:
            sentences = rng.choices(AGENT_SENTENCES[language], k=rng.randint(2, 4))
        if rng.random() < COMMON_SHARE:
            sentences.insert(rng.randint(0, len(sentences)), rng.choice(COMMON_SENTENCES[language]))
            self.common_messages += 1
        if message_id in self.rare_messages:
            sentences.append(f"Referencia interna {RARE_TERM}.")
        return " ".join(sentences)


def generate_conversations(
    writer: Writer,
    rng: random.Random,
    world: dict[str, Any],
    customers: dict[int, list[tuple[int, str]]],
    count: int,
    progress: bool,
) -> dict[str, Any]:
    """Conversations in time order with their messages, tags and SLA timers."""
    from atiende.conversations.models import (
        Conversation,
        ConversationCounter,
        ConversationTag,
        Message,
    )
    from atiende.sla.models import SlaTimer

    conversation_columns = (
        "id", "brand_id", "number", "customer_id", "channel", "subject", "status", "priority",
        "category_id", "assignee_id", "team_id", "language", "sla_due_at", "created_at",
        "updated_at", "last_message_at", "last_message_preview", "solved_at", "closed_at",
    )  # fmt: skip
    message_columns = (
        "id", "brand_id", "conversation_id", "direction", "author_kind", "author_user_id",
        "author_customer_id", "channel", "body_text", "external_id", "delivery_state", "sent_at",
        "created_at",
    )  # fmt: skip
    timer_columns = (
        "id", "brand_id", "conversation_id", "metric", "cycle", "target_minutes", "started_at",
        "due_at", "warn_at", "met_at", "state", "breached_at", "updated_at",
    )  # fmt: skip
    brands = world["brands"]
    brand_pick = Pick(rng, [(brand, round(brand["share"] * 100)) for brand in brands])
    channel_pick = Pick(rng, CHANNELS)
    priority_pick = Pick(rng, PRIORITIES)
    unsolved_pick = Pick(rng, UNSOLVED_STATUSES)
    messages_pick = Pick(rng, list(zip(MESSAGE_COUNTS, MESSAGE_WEIGHTS, strict=True)))
    expected_messages = count * 3
    rare_messages = set(rng.sample(range(1, int(expected_messages * 0.9)), RARE_TERM_MESSAGES))
    texts = Texts(rng, rare_messages)
    long_index = count - max(1, count // 2000)  # a recent one
    # Times are whole UTC epoch seconds here (writer.ts formats them): cheap arithmetic.
    now = int(time.time())
    start = now - HISTORY_DAYS * 86400
    ts = writer.ts
    step = HISTORY_DAYS * 86400 / count
    numbers = {brand["id"]: 0 for brand in brands}
    message_id = itertools.count(1)
    timer_id = itertools.count(1)
    counts = {"messages": 0, "tags": 0, "timers": 0, "unsolved": 0, "sla_due": 0, "breached": 0}
    long_conversation: dict[str, Any] = {}
    conversations, messages, tags, timers = [], [], [], []
    bar = _bar(count, "conversations", progress)
    for index in range(count):
        conversation_id = index + 1
        is_long = index == long_index
        brand = brands[0] if is_long else brand_pick()
        numbers[brand["id"]] += 1
        brand_customers = customers[brand["id"]]
        # Some customers write often: a skewed pick over the brand's customers.
        customer_id, language = brand_customers[int(len(brand_customers) * rng.random() ** 1.6)]
        created = start + int(index * step + rng.random() * step)
        if is_long:
            created = now - 3 * 86400  # its 50 messages, 37 minutes apart, end before now
        age_days = (now - created) / 86400
        unsolved_chance = (
            0.6 if age_days < 2 else 0.25 if age_days < 14 else 0.02 if age_days < 60 else 0.001
        )
        status = unsolved_pick() if rng.random() < unsolved_chance else None
        if is_long:
            status = "open"
        if status is None:
            status = "solved" if age_days < 7 else "closed"
        unsolved = status not in ("solved", "closed")
        channel = "email" if is_long else channel_pick()
        priority = priority_pick()
        if rng.random() < (0.8 if unsolved else 0.97):
            assignee = rng.choice(brand["agents"])
            team = brand["agent_team"][assignee]
        else:
            assignee = None
            team = rng.choice(brand["teams"]) if rng.random() < 0.7 else None
        if is_long:
            assignee = brand["agents"][0]  # the bench agent
            team = brand["agent_team"][assignee]
        subject = LONG_SUBJECT if is_long else texts.subject(language)
        n_messages = LONG_MESSAGES if is_long else messages_pick()
        # Messages spread over the conversation's life: minutes to days.
        moment = created
        span = min(3 * 86400, (now - created) // n_messages)
        last_body, last_at = "", created
        for position in range(n_messages):
            this_id = next(message_id)
            if position == 0 or rng.random() < 0.45:
                direction = "inbound"
            elif rng.random() < 0.08:
                direction = "internal"
            else:
                direction = "outbound"
            body = texts.body(this_id, language, direction)
            at = ts(moment)
            if direction == "inbound":
                row = (
                    this_id, brand["id"], conversation_id, direction, "customer", None,
                    customer_id, channel,  body,
                    f"<{this_id}.bench@mail.example.com>" if channel == "email" else "",
                    "", None, at,
                )  # fmt: skip
            else:
                outbound = direction == "outbound"
                row = (
                    this_id, brand["id"], conversation_id, direction, "agent",
                    assignee or rng.choice(brand["agents"]), None,
                    channel if outbound else "internal", body, "",
                    "sent" if outbound else "", at if outbound else None, at,
                )  # fmt: skip
            messages.append(row)
            last_body, last_at = body, moment
            moment += 37 * 60 if is_long else int(span * rng.random())
        counts["messages"] += n_messages
        solved_at = closed_at = None
        if not unsolved:
            solved_at = last_at + rng.randint(5, 600) * 60
            if status == "closed":
                closed_at = solved_at + 4 * 86400
        sla_due = None
        if status in ("new", "open"):
            # Most cases due in the coming hours or days, some already breached.
            sla_due = now + rng.randint(-2 * 1440, 3 * 1440) * 60
            if rng.random() < 0.15 and sla_due > now:
                sla_due = now - (sla_due - now) // 3
            counts["sla_due"] += 1
            counts["breached"] += sla_due < now
            timer = (
                next(timer_id), brand["id"], conversation_id, "resolution", 0, 2400,
                ts(created), ts(sla_due), ts(sla_due - 4 * 3600), None, "running",
                ts(sla_due) if sla_due < now else None, writer.now,
            )  # fmt: skip
            timers.append(timer)
        if unsolved:
            counts["unsolved"] += 1
        updated = closed_at or solved_at or last_at
        conversation = (
            conversation_id, brand["id"], numbers[brand["id"]], customer_id, channel, subject,
            status, priority,
            rng.choice(brand["categories"]) if rng.random() < 0.8 else None,
            assignee, team, language,
            ts(sla_due) if sla_due else None, ts(created), ts(min(updated, now)), ts(last_at),
            last_body[:160],
            ts(min(solved_at, now)) if solved_at else None,
            ts(min(closed_at, now)) if closed_at else None,
        )  # fmt: skip
        conversations.append(conversation)
        draw = rng.random()
        how_many_tags = 2 if draw < 0.12 else 1 if draw < 0.45 else 0
        for tag in rng.sample(brand["tags"], how_many_tags):
            tags.append((len(tags) + counts["tags"] + 1, conversation_id, tag))
        if is_long:
            long_conversation = {
                "id": conversation_id,
                "brand": brand["slug"],
                "number": numbers[brand["id"]],
                "customer_id": customer_id,
            }
        if len(conversations) >= 10_000 or index == count - 1:
            writer.insert(Conversation, conversation_columns, conversations)
            writer.insert(Message, message_columns, messages)
            writer.insert(ConversationTag, ("id", "conversation_id", "tag_id"), tags)
            writer.insert(SlaTimer, timer_columns, timers)
            writer.commit()
            bar.update(len(conversations))
            counts["tags"] += len(tags)
            counts["timers"] += len(timers)
            conversations, messages, tags, timers = [], [], [], []
    bar.close()
    writer.insert(
        ConversationCounter,
        ("brand_id", "last_number"),
        list(numbers.items()),
    )
    writer.commit()
    counts["common_term_messages"] = texts.common_messages
    counts["rare_term_messages"] = sum(1 for m in rare_messages if m <= counts["messages"])
    return {"counts": counts, "long": long_conversation}


def _bar(total: int, what: str, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=" rows", unit_scale=True, disable=not progress)


# --- The run --------------------------------------------------------------------------------


def prepare_database(database_url: str) -> tuple[str, Path | None]:
    """Drop and recreate the database; return the URL to use and the SQLite file, if any."""
    if not database_url:
        DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{DEFAULT_DIR / 'atiende.sqlite3'}"
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme == "sqlite":
        path = Path(parts.path)
        if str(path).startswith(str(ROOT)):
            raise SystemExit("keep generated databases out of the repository (use /tmp)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return database_url, path
    import psycopg

    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing an unusual database name: {name!r}")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url, None


def setup_django(database_url: str) -> None:
    """Point Django at the bench database (and a data folder of its own under /tmp)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("ATIENDE_DATA_DIR", str(DEFAULT_DIR / "data"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "atiende.config.settings"
    for name in ("REDIS_URL", "ATIENDE_DEBUG"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def reindex_search(progress: bool) -> dict[str, Any]:
    from django.core.management import call_command, get_commands

    if "reindex_search" not in get_commands():
        print(
            "WARNING: there is no reindex_search command yet: the full-text index is empty and "
            "search will find nothing. Run `atiende manage reindex_search` once it exists.",
            file=sys.stderr,
        )
        return {"ran": False}
    started = time.perf_counter()
    call_command("reindex_search", verbosity=1 if progress else 0)
    return {"ran": True, "seconds": round(time.perf_counter() - started, 1)}


def run(options: argparse.Namespace) -> dict[str, Any]:
    started_all = time.perf_counter()
    database_url, sqlite_path = prepare_database(options.database_url)
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection, connections

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(f"{SEED}:{options.seed}")
    world = setup_through_actions(rng)
    seconds["migrate_and_setup"] = time.perf_counter() - started
    vendor = connection.vendor
    connections.close_all()

    writer = Writer(database_url, sqlite_path)
    started = time.perf_counter()
    customers = generate_customers(writer, rng, world, options.customers, options.progress)
    seconds["customers"] = time.perf_counter() - started
    started = time.perf_counter()
    generated = generate_conversations(
        writer, rng, world, customers, options.conversations, options.progress
    )
    seconds["conversations_and_messages"] = time.perf_counter() - started
    finished = writer.finish(
        [
            "customers_customer",
            "customers_customeridentity",
            "conversations_conversation",
            "conversations_message",
            "conversations_conversationtag",
            "sla_slatimer",
        ]
    )
    seconds.update(finished)
    started = time.perf_counter()
    search = reindex_search(options.progress)
    seconds["reindex_search"] = time.perf_counter() - started

    from atiende.customers.crn import display
    from atiende.customers.models import Customer

    long = generated["long"]
    crn = Customer.objects.get(pk=long["customer_id"]).crn
    connections.close_all()
    size = None
    if sqlite_path is not None:
        size = sum(
            Path(f"{sqlite_path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{sqlite_path}{suffix}").exists()
        )
    return {
        "database": vendor,
        "database_url": database_url,
        "size_bytes": size,
        "conversations": options.conversations,
        "customers": options.customers,
        **generated["counts"],
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "total_seconds": round(time.perf_counter() - started_all, 1),
        "search_index": search,
        "rare_term": RARE_TERM,
        "common_term": COMMON_TERM,
        "crn": display(crn),
        "long_conversation_url": f"/c/{long['brand']}/{long['number']}/",
        "agent": AGENT_EMAIL,
        "supervisor": SUPERVISOR_EMAIL,
        "machine": summary(),
        "load_average": os.getloadavg(),
    }


def finish_existing(database_url: str, progress: bool) -> dict[str, Any]:
    """On a database generated earlier: the migrations added since (indexes, the search tables),
    fresh planner statistics and the search index, each timed."""
    database_url = database_url or f"sqlite:///{DEFAULT_DIR / 'atiende.sqlite3'}"
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=1 if progress else 0, interactive=False)
    seconds["migrate"] = time.perf_counter() - started
    started = time.perf_counter()
    search = reindex_search(progress)
    seconds["reindex_search"] = time.perf_counter() - started
    started = time.perf_counter()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
    else:
        connection.close()
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as direct:
            direct.execute("VACUUM ANALYZE")
    seconds["analyze"] = time.perf_counter() - started
    return {
        "database": connection.vendor,
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "search_index": search,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--database-url",
        default="",
        help=f"PostgreSQL or sqlite:/// URL (default a fresh {DEFAULT_DIR}/atiende.sqlite3)",
    )
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=0, help="default: 30 %% of conversations")
    parser.add_argument("--seed", default="1", help="the RNG seed (same seed, same database)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress bars")
    parser.add_argument(
        "--finish-only",
        action="store_true",
        help="on an existing database: migrate, reindex_search and ANALYZE, nothing generated",
    )
    options = parser.parse_args()
    if options.finish_only:
        print(json.dumps(finish_existing(options.database_url, options.progress), indent=2))
        return
    if options.customers <= 0:
        options.customers = max(100, int(options.conversations * 0.3))
    result = run(options)
    if options.json:
        print(json.dumps(result, indent=2))
        return
    counts = (
        f"{result['conversations']:,} conversations, {result['messages']:,} messages, "
        f"{result['customers']:,} customers, {result['tags']:,} tags, {result['timers']:,} "
        f"SLA timers; {result['unsolved']:,} unsolved, {result['sla_due']:,} with an SLA due "
        f"({result['breached']:,} breached)"
    )
    print(f"{result['database']}: {counts}")
    print("seconds: " + ", ".join(f"{k} {v}" for k, v in result["seconds"].items()))
    print(f"total {result['total_seconds']} s; machine: {result['machine']}")
    if result["size_bytes"]:
        print(f"database file: {result['size_bytes'] / 2**30:.2f} GiB")
    print(
        f"rare term {result['rare_term']!r} in {result['rare_term_messages']} messages; "
        f"common term {result['common_term']!r} in {result['common_term_messages']:,}"
    )
    print(f"a CRN: {result['crn']}; the 50-message conversation: {result['long_conversation_url']}")
    print(f"personas: {result['agent']} (agent), {result['supervisor']} (supervisor)")
    print(f"DATABASE_URL={result['database_url']}")


if __name__ == "__main__":
    main()
