"""Inbound email throughput: store, then process, N generated messages plus the mail corpora.

Run from the project root (see bench/README.md)::

    .venv/bin/python bench/ingest.py                 # SQLite, N=5000, fresh temporary data folder
    .venv/bin/python bench/ingest.py --quick         # a small smoke run
    .venv/bin/python bench/ingest.py --runs 3        # three fresh runs, the median of each figure
    .venv/bin/python bench/ingest.py --database-url postgres://atiende:atiende@127.0.0.1:5432/atiende_bench

Each run sets up its own database (a temporary ATIENDE_DATA_DIR for SQLite; for PostgreSQL it
creates the database named in the URL, and drops it afterwards), migrates, creates a brand with a
support address through the actions, then

1. stores every message durably, one committed InboundMessage row each, through
   ``receive_email`` (the path IMAP, SMTP, the webhook and ``import-mail`` share);
2. processes the stored rows as one worker process does: ``process_inbound_batch`` over batches
   of ``--batch-size`` rows (``--batch-size 1`` runs ``process_inbound`` per message, the
   unbatched path).

It prints messages per second for storing, processing and both, the median and p95 of every
stage (from the rows' ``stage_timings``), the outcome counts and the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import email.utils
import gc
import importlib
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from callgrind_marks import counted
from machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("ATIENDE_MAIL_CORPORA", "/work/shared/corpora/email"))
SUPPORT = "soporte@bench.atiende.test"
SEED = 20260501


# --- Generated mail -------------------------------------------------------------------------

ES_SUBJECTS = [
    "Mi pedido no ha llegado",
    "Problema con la factura",
    "Quiero devolver un producto",
    "No puedo acceder a mi cuenta",
    "Cambio de dirección de envío",
    "El producto llegó dañado",
    "Consulta sobre la garantía",
    "Cobro duplicado en mi tarjeta",
]
EN_SUBJECTS = [
    "My order has not arrived",
    "Problem with my invoice",
    "I want to return an item",
    "Cannot log in to my account",
    "Change of delivery address",
    "The product arrived damaged",
    "Question about the warranty",
    "I was charged twice",
]
ES_OPENINGS = [
    "Hola, buenos días.",
    "Buenas tardes:",
    "Hola equipo de soporte,",
    "Estimados señores:",
]
ES_LINES = [
    "Hice el pedido {order} hace una semana y todavía no he recibido nada.",
    "En la factura {order} aparece un importe que no corresponde con lo que compré.",
    "Me gustaría saber cómo puedo devolver el artículo, no es lo que esperaba.",
    "Cuando intento entrar en mi cuenta me dice que la contraseña no es válida.",
    "El paquete llegó con la caja rota y el producto no funciona.",
    "¿Podrían decirme cuánto tarda el reembolso en aparecer en la tarjeta?",
    "Les adjunto una foto para que vean el estado en que llegó.",
    "Gracias por la respuesta, pero el problema sigue sin resolverse.",
]
EN_OPENINGS = ["Hello,", "Hi there,", "Good morning,", "Dear support team,"]
EN_LINES = [
    "I placed order {order} a week ago and nothing has arrived yet.",
    "The invoice {order} shows an amount that does not match what I bought.",
    "I would like to know how to return the item, it is not what I expected.",
    "When I try to log in it says my password is not valid.",
    "The parcel arrived with the box broken and the product does not work.",
    "Could you tell me how long the refund takes to show on my card?",
    "I attach a photo so you can see the state it arrived in.",
    "Thanks for the answer, but the problem is still not solved.",
]
# A tiny valid PNG and a tiny PDF: real content types for the sniffer to confirm.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class Sender:
    name: str
    address: str
    language: str
    sent: list[tuple[str, str]] = field(default_factory=list)  # (message id, subject)


# Faker draws a date up to "now" by default: a fixed end keeps the quoted lines the same every day.
QUOTED_DATES_END = datetime(2026, 1, 1, tzinfo=UTC)


def generate(count: int, seed: int = SEED) -> list[bytes]:
    """``count`` realistic support mails, the same for the same seed.

    About a third as many senders as messages; each sender's first mail opens a case and most
    later ones reply to one of their earlier mails (In-Reply-To and References), as a mail client
    does. Half are Spanish; one in three has an HTML part, one in ten a small attachment.
    """
    from faker import Faker

    rng = random.Random(seed)
    fakers = {"es": Faker("es_ES"), "en": Faker("en_US")}
    for position, faker in enumerate(fakers.values()):
        faker.seed_instance(seed + position)
    senders: list[Sender] = []
    for index in range(max(1, count // 3)):
        language = "es" if index % 2 == 0 else "en"
        faker = fakers[language]
        name = faker.name()
        local = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalpha())[:20]
        senders.append(Sender(name, f"{local}.{index}@{faker.free_email_domain()}", language))
    start = 1_767_225_600  # 2026-01-01, so that Date headers are stable
    # The email package draws each multipart's boundary from the random module: seeded, so that
    # the same seed gives the same bytes.
    random.seed(seed)
    mails = []
    for number in range(count):
        sender = rng.choice(senders)
        reply_to = rng.choice(sender.sent) if sender.sent and rng.random() < 0.7 else None
        mails.append(_mail(rng, fakers[sender.language], sender, reply_to, number, start))
    return mails


def _mail(
    rng: random.Random,
    faker: Any,
    sender: Sender,
    reply_to: tuple[str, str] | None,
    number: int,
    start: int,
) -> bytes:
    spanish = sender.language == "es"
    order = f"{rng.randint(100000, 999999)}"
    lines = [rng.choice(ES_OPENINGS if spanish else EN_OPENINGS), ""]
    lines += [
        line.format(order=order)
        for line in rng.sample(ES_LINES if spanish else EN_LINES, rng.randint(2, 4))
    ]
    lines += ["", faker.sentence(nb_words=12), "", "Un saludo," if spanish else "Regards,"]
    lines.append(sender.name)
    message = EmailMessage()
    message_id = f"<bench-{number}.{rng.getrandbits(48):x}@{sender.address.split('@')[1]}>"
    message["Message-ID"] = message_id
    message["From"] = email.utils.formataddr((sender.name, sender.address))
    message["To"] = SUPPORT
    message["Date"] = email.utils.formatdate(start + number * 7, usegmt=True)
    if reply_to is None:
        subject = rng.choice(ES_SUBJECTS if spanish else EN_SUBJECTS)
        message["Subject"] = subject
    else:
        previous_id, subject = reply_to
        message["Subject"] = f"{'RE' if spanish else 'Re'}: {subject}"
        message["In-Reply-To"] = previous_id
        message["References"] = previous_id
        lines += [
            "",
            f"El {faker.date(end_datetime=QUOTED_DATES_END)}, {sender.name} escribió:"
            if spanish
            else "On a past day wrote:",
        ]
        lines += ["> " + line for line in lines[2:5]]
    text = "\n".join(lines) + "\n"
    message.set_content(text)
    if rng.random() < 1 / 3:
        paragraphs = "".join(
            f"<p>{line}</p>" for line in lines if line and not line.startswith(">")
        )
        message.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    if rng.random() < 0.1:
        if rng.random() < 0.5:
            message.add_attachment(PNG, maintype="image", subtype="png", filename="foto.png")
        else:
            message.add_attachment(
                PDF, maintype="application", subtype="pdf", filename="factura.pdf"
            )
    if reply_to is None:
        sender.sent.append((message_id, subject))
    return message.as_bytes()


def corpus_mails() -> list[tuple[str, bytes]]:
    if not CORPORA.is_dir():
        return []
    paths = sorted(
        path for path in CORPORA.rglob("*") if path.is_file() and path.suffix in (".eml", ".box")
    )
    return [(str(path.relative_to(CORPORA)), path.read_bytes()) for path in paths]


# --- Database set-up ------------------------------------------------------------------------


def _pg_admin_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/") or "atiende_bench"
    return urllib.parse.urlunsplit(parts._replace(path="/postgres")), name


def _pg_recreate(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    admin_url, name = _pg_admin_url(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing an unusual database name: {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            admin.execute(f'CREATE DATABASE "{name}"')


def setup_django(
    database_url: str, data_dir: Path, sqlite_pragmas: str = "", redis_url: str = ""
) -> None:
    os.environ["ATIENDE_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "atiende.config.settings"
    if redis_url:
        # Real-time notices, the task queue and the cache through Redis, as a deployment of
        # several processes runs them.
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if sqlite_pragmas and not database_url:
        # An experiment, not a setting: what extra PRAGMAs would change (see the README).
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        extra = "".join(
            f" PRAGMA {pragma.strip()};" for pragma in sqlite_pragmas.split(";") if pragma.strip()
        )
        options["init_command"] = options.get("init_command", "") + extra

    call_command("migrate", verbosity=0, interactive=False)


def create_brand(*, service_levels: bool = False) -> Any:
    from atiende.brands.actions import create_brand as create
    from atiende.channels.email.actions import add_email_address
    from atiende.core.actors import system_actor

    system = system_actor("bench")
    brand = create(slug="bench", name="Bench Shop", number_prefix="BEN", actor=system, country="ES")
    add_email_address(brand=brand, address=SUPPORT, actor=system, is_default=True)
    if service_levels:
        # What ``atiende demo`` gives its Spanish shop: Madrid office hours and holidays, and a
        # corporate SLA policy (as a brand in use has), so every message pays for its timers.
        from atiende.demo.seed import seed_service_levels
        from atiende.demo.tienda_sol import PLAN

        seed_service_levels(PLAN, brand, system)
    return brand


# --- Measuring ------------------------------------------------------------------------------


def progress(total: int, label: str, quiet: bool) -> Any:
    try:
        from tqdm import tqdm

        return tqdm(total=total, desc=label, unit="msg", disable=quiet, file=sys.stderr)
    except ImportError:
        return _SimpleProgress(total, label, quiet)


class _SimpleProgress:
    def __init__(self, total: int, label: str, quiet: bool) -> None:
        self.total, self.label, self.quiet, self.done = total, label, quiet, 0

    def update(self, count: int) -> None:
        self.done += count
        if not self.quiet:
            print(f"\r{self.label}: {self.done}/{self.total}", end="", file=sys.stderr)

    def close(self) -> None:
        if not self.quiet:
            print(file=sys.stderr)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def store(
    brand: Any,
    mails: Iterable[tuple[str, bytes]],
    total: int,
    quiet: bool,
    *,
    queue_tasks: bool = False,
    together: int = 1,
) -> list[int]:
    """Each message committed on its own, as it arrives (SMTP, the webhook); ``together`` > 1:
    that many committed together (``receive_emails``, as import-mail stores what it reads).
    ``queue_tasks``: with their worker tasks."""
    from atiende.channels.email import intake

    ids = []
    bar = progress(total, "store", quiet)
    pending = list(mails)
    for start in range(0, len(pending), max(1, together)):
        group = pending[start : start + max(1, together)]
        if together > 1:
            receipts = intake.receive_emails(
                [(brand, raw, source) for source, raw in group], process=queue_tasks
            )
        else:
            receipts = [
                intake.receive_email(brand=brand, raw=raw, source=source, process=queue_tasks)
                for source, raw in group
            ]
        ids.extend(receipt.inbound.pk for receipt in receipts if receipt.created)
        bar.update(len(group))
    bar.close()
    return ids


def process(ids: list[int], batch_size: int, quiet: bool, *, via_tasks: bool = False) -> None:
    from atiende.pipeline import actions

    bar = progress(len(ids), "process", quiet)
    if via_tasks:
        # What one single-threaded ``atiende worker`` does with the queued per-message tasks:
        # dequeue, run (huey's db_task closes the database connection around each task).
        from huey.contrib.djhuey import HUEY

        while (task := HUEY.dequeue()) is not None:
            HUEY.execute(task)
            bar.update(1)
    elif batch_size <= 1:
        for inbound_id in ids:
            actions.process_inbound(inbound_id)
            bar.update(1)
    else:
        for batch in chunks(ids, batch_size):
            actions.process_inbound_batch(batch)
            bar.update(len(batch))
    bar.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def stage_figures(ids: list[int]) -> dict[str, dict[str, float]]:
    from atiende.pipeline.models import InboundMessage

    per_stage: dict[str, list[float]] = {}
    for timings in (
        InboundMessage.objects.filter(pk__in=ids).values_list("stage_timings", flat=True).iterator()
    ):
        for name, ms in (timings or {}).items():
            per_stage.setdefault(name, []).append(float(ms))
    from atiende.pipeline.chain import default_order

    order = {name: position for position, name in enumerate(default_order("email"))}
    return {
        name: {
            "runs": len(values),
            "median_ms": round(statistics.median(values), 3),
            "p95_ms": round(percentile(values, 0.95), 3),
            "total_s": round(sum(values) / 1000, 3),
        }
        for name, values in sorted(per_stage.items(), key=lambda item: order.get(item[0], 99))
    }


def outcome_counts(ids: list[int]) -> dict[str, int]:
    from atiende.pipeline.models import InboundMessage

    rows = InboundMessage.objects.filter(pk__in=ids).values_list("status", "outcome")
    return dict(Counter(f"{status}:{outcome}" if outcome else status for status, outcome in rows))


def prepare_as_the_worker_does() -> None:
    """What the tree's worker does before it works. Older trees are measured as they were: from
    8348dc9 to the optimistic batches, and again since the working processes' SQLite connections
    (2026-12-04, night), also their SQLite settings (``prepare_working_process``); in between,
    the freeze alone; before core/processes.py, the freeze in core/collector.py."""
    for module, name in (
        ("atiende.core.processes", "prepare_working_process"),
        ("atiende.core.processes", "freeze_loaded_objects"),
        ("atiende.core.collector", "freeze_loaded_objects"),
    ):
        try:
            prepare = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        prepare()
        return


def attachment_storage(ids: list[int]) -> dict[str, int]:
    """The processed mail's attachment rows, and the files they name (the same bytes are one
    file where storage shares them)."""
    from atiende.conversations.models import Attachment
    from atiende.pipeline.models import InboundMessage

    messages = InboundMessage.objects.filter(pk__in=ids).values("message_id")
    names = Attachment.objects.filter(message__in=messages).values_list("file", flat=True)
    listed = list(names)
    return {"rows": len(listed), "files": len(set(listed))}


def queries_per_message(
    brand: Any,
    mails: list[tuple[str, bytes]],
    batch_size: int,
    sql_log: str = "",
    *,
    together: int = 1,
) -> dict[str, float]:
    """Store and process a few more messages while counting SQL statements (written to
    ``sql_log`` when given, to see which statements a message costs)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as stored:
        ids = store(brand, mails, len(mails), quiet=True, together=together)
    with CaptureQueriesContext(connection) as processed:
        process(ids, batch_size, quiet=True)
    if sql_log:
        Path(sql_log).write_text(
            "\n".join(query["sql"] for query in processed.captured_queries) + "\n"
        )
    count = max(1, len(ids))
    return {
        "store": round(len(stored.captured_queries) / count, 2),
        "process": round(len(processed.captured_queries) / count, 2),
    }


@contextmanager
def counting_statements(timed: dict[str, list[float]] | None = None) -> Iterator[list[int]]:
    """Count the statements run on the default connection (a counter only: no CPU to speak of);
    with ``timed``, also how many of each shape ran and the seconds they took (a shape is the
    statement's first 70 characters, savepoint names left out)."""
    from django.db import connection

    counted = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted[0] += 1
        if timed is None:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = _SAVEPOINT_NAME.sub("", " ".join(sql.split())[:70])
            entry = timed.setdefault(shape, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    with connection.execute_wrapper(count):
        yield counted


_SAVEPOINT_NAME = re.compile(r' "s\d+_x\d+"')


@contextmanager
def collecting_garbage() -> Iterator[dict[str, Any]]:
    """The cyclic garbage collector's passes while the body runs: how many of each generation,
    and the seconds they took (``gc.callbacks``)."""
    figures: dict[str, Any] = {"seconds": 0.0, "collections": [0, 0, 0]}
    started = 0.0

    def observe(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            figures["seconds"] += time.perf_counter() - started
            figures["collections"][info["generation"]] += 1

    gc.callbacks.append(observe)
    try:
        yield figures
    finally:
        gc.callbacks.remove(observe)
        figures["seconds"] = round(figures["seconds"], 3)


def statement_times(timed: dict[str, list[float]], shown: int) -> list[dict[str, Any]]:
    """The ``shown`` statement shapes that took longest in all, as run through Django's cursor
    (SQLite's own work and the driver's; the ORM's building of them is not in it)."""
    ranked = sorted(timed.items(), key=lambda item: -item[1][1])[:shown]
    return [
        {
            "statement": shape,
            "runs": int(runs),
            "seconds": round(seconds, 3),
            "us_each": round(seconds / runs * 1e6),
        }
        for shape, (runs, seconds) in ranked
    ]


def _init_command() -> str:
    from django.conf import settings

    return str(settings.DATABASES["default"].get("OPTIONS", {}).get("init_command", ""))


def machine(database_url: str) -> dict[str, Any]:
    cpu = cpu_model()
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": "postgresql" if database_url else "sqlite",
        "sqlite_pragmas": "" if database_url else _init_command(),
        "redis": bool(os.environ.get("REDIS_URL")),
    }
    if database_url:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    import django

    info["django"] = django.get_version()
    return info


def run(options: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="atiende-bench-"))
    if options.database_url:
        _pg_recreate(options.database_url)
    try:
        setup_django(options.database_url, data_dir, options.sqlite_pragmas, options.redis_url)
        brand = create_brand(service_levels=options.sla)
        generated = generate(options.n)
        mails = [(f"bench:{index}", raw) for index, raw in enumerate(generated)]
        mails += [(f"corpus:{name}", raw) for name, raw in corpus_mails()]
        extra = [(f"bench-count:{index}", raw) for index, raw in enumerate(generate(60, SEED + 1))]

        # Wall time, and this process's CPU time: on a shared machine the CPU time is the
        # steadier figure (for SQLite it is all of the work; PostgreSQL's server is not in it).
        # As the worker, import-mail and process_inbound do when they start (core/processes.py;
        # an older tree: what it did, if anything).
        prepare_as_the_worker_does()
        # Under bench/sqlite_work.py --end-to-end, what callgrind counts: storing and processing.
        with counted():
            started, cpu_started = time.perf_counter(), time.process_time()
            ids = store(
                brand,
                mails,
                len(mails),
                options.quiet,
                queue_tasks=options.via_tasks,
                together=options.store_together,
            )
            stored_at, cpu_stored_at = time.perf_counter(), time.process_time()
            system_stored_at = os.times().system
            profiler = cProfile.Profile() if options.profile else None
            if profiler is not None:
                profiler.enable()
            timed: dict[str, list[float]] | None = {} if options.statement_times else None
            if options.gc_freeze_threshold:
                # An experiment (not what the worker does): the young generation collected less
                # often.
                gc.set_threshold(options.gc_freeze_threshold, *gc.get_threshold()[1:])
            # Counted only when asked: a statement run under an execute wrapper takes Django's
            # wrapper path in core.statements, which the worker (no wrapper) does not.
            counting = options.count_statements or timed is not None
            with (
                counting_statements(timed) if counting else nullcontext([0]) as statements,
                collecting_garbage() as garbage,
            ):
                process(ids, options.batch_size, options.quiet, via_tasks=options.via_tasks)
            if profiler is not None:
                profiler.disable()
            finished, cpu_finished = time.perf_counter(), time.process_time()
            system_finished = os.times().system

        store_s, process_s = stored_at - started, finished - stored_at
        store_cpu, process_cpu = cpu_stored_at - cpu_started, cpu_finished - cpu_stored_at
        result: dict[str, Any] = {
            "messages": len(mails),
            "stored": len(ids),
            "batch_size": 0 if options.via_tasks else options.batch_size,
            "store_together": options.store_together,
            "path": "tasks"
            if options.via_tasks
            else ("batch" if options.batch_size > 1 else "per-message"),
            "store": _rates(len(mails), store_s, store_cpu),
            "process": _rates(len(ids), process_s, process_cpu),
            "end_to_end": _rates(len(mails), finished - started, store_cpu + process_cpu),
            "garbage_collection": garbage,
            # Of the processing's CPU time, the kernel's (writes, syncs, temporary files).
            "process_system_seconds": round(system_finished - system_stored_at, 3),
            "stages": stage_figures(ids),
            "outcomes": outcome_counts(ids),
            "attachments": attachment_storage(ids),
            "queries_per_message": queries_per_message(
                brand,
                extra,
                1 if options.via_tasks else options.batch_size,
                options.sql_log,
                together=options.store_together,
            ),
            "machine": machine(options.database_url),
        }
        if counting:
            # The tasks path runs process_inbound per message: counted as such.
            # Every statement the processing above ran (the count of "queries_per_message" is
            # of a small extra sample, whose senders and threads mostly begin within it).
            result["process_statements_per_message"] = round(statements[0] / max(1, len(ids)), 2)
        if timed is not None:
            result["statement_times"] = statement_times(timed, options.statement_times)
            result["statement_seconds"] = round(sum(seconds for _, seconds in timed.values()), 3)
        if profiler is not None:
            buffer = io.StringIO()
            pstats.Stats(profiler, stream=buffer).sort_stats(options.profile_sort).print_stats(60)
            Path(options.profile).write_text(buffer.getvalue())
            # The whole profile too, for pstats or snakeviz.
            profiler.dump_stats(f"{options.profile}.pstats")
        return result
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)
        if options.database_url and not options.keep:
            _pg_recreate(options.database_url, drop_only=True)


def _rates(count: int, seconds: float, cpu_seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "cpu_seconds": round(cpu_seconds, 3),
        "per_cpu_second": round(count / cpu_seconds, 1),
    }


def print_report(result: dict[str, Any]) -> None:
    machine_info = result["machine"]
    database = machine_info["database"]
    version = machine_info.get("postgresql") or machine_info["sqlite"]
    print(
        f"{machine_info['cpu']}, {machine_info['cores']} cores, Python {machine_info['python']}, "
        f"{database} {version}"
    )
    print(
        f"{result['messages']} messages ({result['stored']} stored, the rest duplicates), "
        f"{result['path']} path, batch size {result['batch_size']}, "
        + (
            f"stored {result['store_together']} per commit"
            if result.get("store_together", 1) > 1
            else "each stored on its own"
        )
        + (", notices and tasks through Redis" if machine_info.get("redis") else "")
    )
    for phase in ("store", "process", "end_to_end"):
        figures = result[phase]
        print(
            f"  {phase:<11} {figures['seconds']:>8.2f} s  {figures['per_second']:>8.1f} msg/s"
            f"   (CPU {figures['cpu_seconds']:>7.2f} s, {figures['per_cpu_second']:>8.1f} msg/CPU-s)"
        )
    print(f"  {'stage':<18} {'runs':>6} {'median ms':>10} {'p95 ms':>8} {'total s':>8}")
    for name, figures in result["stages"].items():
        print(
            f"  {name:<18} {figures['runs']:>6} {figures['median_ms']:>10.3f} "
            f"{figures['p95_ms']:>8.3f} {figures['total_s']:>8.2f}"
        )
    print(
        "  outcomes: "
        + ", ".join(f"{key} {value}" for key, value in sorted(result["outcomes"].items()))
    )
    if "garbage_collection" in result:
        garbage = result["garbage_collection"]
        young, middle, full = garbage["collections"]
        print(
            f"  garbage collection while processing: {garbage['seconds']:.3f} s "
            f"({young} young, {middle} middle, {full} full passes)"
        )
    if "process_system_seconds" in result:
        print(f"  kernel time while processing: {result['process_system_seconds']:.3f} s")
    if "attachments" in result:
        stored = result["attachments"]
        print(f"  attachments: {stored['rows']} rows naming {stored['files']} stored files")
    queries = result["queries_per_message"]
    print(f"  SQL statements per message: store {queries['store']}, process {queries['process']}")
    if "process_statements_per_message" in result:
        print(
            "  SQL statements per message while processing the run: "
            f"{result['process_statements_per_message']}"
        )
    if "statement_times" in result:
        print(f"  statements while processing: {result['statement_seconds']:.2f} s in all")
        print(f"  {'seconds':>8} {'runs':>6} {'µs each':>8}  statement")
        for row in result["statement_times"]:
            print(
                f"  {row['seconds']:>8.3f} {row['runs']:>6} {row['us_each']:>8}  {row['statement']}"
            )


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each throughput figure and stage median as the median over the runs."""
    merged = json.loads(json.dumps(results[0]))
    for phase in ("store", "process", "end_to_end"):
        for key in ("seconds", "per_second", "cpu_seconds", "per_cpu_second"):
            merged[phase][key] = statistics.median(result[phase][key] for result in results)
    if all("process_statements_per_message" in result for result in results):
        merged["process_statements_per_message"] = statistics.median(
            result["process_statements_per_message"] for result in results
        )
    merged["process_system_seconds"] = statistics.median(
        result["process_system_seconds"] for result in results
    )
    merged["garbage_collection"]["seconds"] = statistics.median(
        result["garbage_collection"]["seconds"] for result in results
    )
    for name, figures in merged["stages"].items():
        for key in ("median_ms", "p95_ms", "total_s"):
            figures[key] = statistics.median(
                result["stages"].get(name, {}).get(key, 0.0) for result in results
            )
    merged["runs"] = [
        {
            phase: [result[phase]["per_second"], result[phase]["per_cpu_second"]]
            for phase in ("store", "process", "end_to_end")
        }
        for result in results
    ]
    return merged


def parse_only(count: int, passes: int) -> None:
    """Time ``parse_mail`` alone over the mails a run feeds the chain: the parser's share,
    steadier than a whole run on a machine whose speed swings."""
    from atiende.channels.email.parsing import parse_mail

    corpus = [raw for _name, raw in corpus_mails()]
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"parse_mail over {count} generated messages and {len(corpus)} corpus ones, {passes} passes"
    )
    rates = []
    for number in range(1, passes + 1):
        # Fresh mails each pass (other senders, subjects, boundaries): the parser remembers
        # header values it read, and a second pass over the same mails would be its best case.
        mails = generate(count, SEED + number) + corpus
        started, cpu_started = time.perf_counter(), time.process_time()
        for raw in mails:
            parse_mail(raw)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rates.append(len(mails) / elapsed)
        print(
            f"  pass {number}  {elapsed:6.2f} s  {rates[-1]:8.1f} msg/s  "
            f"({1e6 * elapsed / len(mails):6.1f} µs each, CPU {cpu:6.2f} s)"
        )
    print(f"  median {statistics.median(rates):8.1f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=5000, help="generated messages (default 5000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 200 messages")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default SQLite)")
    parser.add_argument(
        "--redis-url",
        default="",
        help="Redis for notices, tasks and cache, as with several processes (default: none)",
    )
    parser.add_argument("--batch-size", type=int, default=100, help="rows per worker batch")
    parser.add_argument(
        "--store-together",
        type=int,
        default=1,
        metavar="N",
        help="store N messages per commit, as import-mail does (default 1: each on its own, "
        "as SMTP and the webhook)",
    )
    parser.add_argument(
        "--via-tasks",
        action="store_true",
        help="queue a huey task per message when storing and run them as a worker does",
    )
    parser.add_argument(
        "--sqlite-pragmas",
        default="",
        help='extra PRAGMAs for the experiment, e.g. "temp_store=MEMORY; cache_size=-32000"',
    )
    parser.add_argument("--runs", type=int, default=1, help="fresh runs; figures are medians")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the processing into FILE")
    parser.add_argument("--profile-sort", default="cumulative", help="pstats order (tottime...)")
    parser.add_argument(
        "--sql-log", default="", metavar="FILE", help="write the counted statements to FILE"
    )
    parser.add_argument(
        "--count-statements",
        action="store_true",
        help="count the processing's statements (an execute wrapper: not in the figures "
        "otherwise, the worker has none)",
    )
    parser.add_argument(
        "--statement-times",
        type=int,
        default=0,
        metavar="N",
        help="time the processing's statements; show the N shapes that took longest in all",
    )
    parser.add_argument(
        "--sla", action="store_true", help="give the brand a calendar and an SLA policy first"
    )
    parser.add_argument(
        "--parse-only",
        type=int,
        default=0,
        metavar="PASSES",
        help="only time parse_mail, PASSES times over mails like a run's, fresh each pass (no database)",
    )
    parser.add_argument(
        "--setup-only",
        action="store_true",
        help="only make a SQLite database and the brand (what bench/sqlite_work.py subtracts)",
    )
    parser.add_argument(
        "--gc-freeze-threshold",
        type=int,
        default=0,
        metavar="N",
        help="an experiment: collect the young generation every N allocations while "
        "processing (what was loaded before storing is frozen either way, as the worker does)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    options = parser.parse_args()
    if options.quick:
        options.n = 200
    if options.setup_only:
        # What bench/sqlite_work.py subtracts: the database made and the brand created.
        data_dir = Path(tempfile.mkdtemp(prefix="atiende-bench-"))
        try:
            setup_django("", data_dir)
            create_brand(service_levels=options.sla)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        return
    if options.parse_only:
        parse_only(options.n, options.parse_only)
        return
    if options.runs > 1:
        # Each run in a process of its own: a fresh database and a fresh interpreter.
        arguments, skip = [], False
        for argument in sys.argv[1:]:
            if skip or argument.startswith("--runs="):
                skip = False
                continue
            if argument == "--runs":
                skip = True
                continue
            arguments.append(argument)
        results = []
        for _ in range(options.runs):
            output = subprocess.run(  # noqa: S603  (this script, with its own arguments)
                [sys.executable, __file__, *arguments, "--json"],
                check=True,
                capture_output=False,
                stdout=subprocess.PIPE,
                text=True,
            ).stdout
            results.append(json.loads(output))
        result = median_of(results)
    else:
        result = run(options)
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)


if __name__ == "__main__":
    main()
