"""What a one-row INSERT costs on SQLite with and without RETURNING, and through Django's cursor.

    .venv/bin/python bench/insert_returning.py            # a database of 1,000 processed mails
    .venv/bin/python bench/insert_returning.py -n 2000 --rounds 5

Makes a database as ``bench/ingest.py`` does (migrations, a brand, ``-n`` generated mails stored
and processed), then, for the conversation, message and customer-identity tables, inserts
``--rows`` copies of existing rows (their unique values changed) in a loop, in a transaction
rolled back afterwards: through Python's ``sqlite3`` without RETURNING, with ``RETURNING id``,
through Django's cursor (``%s`` placeholders, no RETURNING: how ``core.actions`` inserted a
row on SQLite), and through ``core.statements.run`` (how it inserts one now); all ``--rows``
at once by one ``executemany`` (how rows written together at a batch's end would go); and as the chain writes a row, a model instance made from keyword
arguments and saved (``core.actions``' statement built once: the instance, its values read for
the database, the signals, ``core.statements.run``). The ways alternate ``--rounds`` times; the
medians are printed, in µs per row. Compare with ``bench/ingest.py --statement-times``, where
the same statements run among the others of the chain.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # (bench/ingest.py: the same database as its runs)

TABLES = {
    # table: the columns whose values must differ from row to row (unique keys)
    "conversations_conversation": ("number",),
    "conversations_message": ("external_id",),
    "customers_customeridentity": ("value",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="generated mails processed first")
    parser.add_argument("--rows", type=int, default=1000, help="rows inserted per loop")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the three ways")
    options = parser.parse_args()

    ingest.setup_django("", Path(tempfile.mkdtemp(prefix="atiende-bench-")))
    brand = ingest.create_brand()
    from django.db import connection, transaction

    from atiende.channels.email.intake import receive_emails
    from atiende.pipeline.actions import process_inbound_batch

    mails = ingest.generate(options.n)
    receipts = []
    for start in range(0, len(mails), 100):
        receipts += receive_emails([(brand, raw, "bench") for raw in mails[start : start + 100]])
    process_inbound_batch([receipt.inbound.pk for receipt in receipts if receipt.created])

    connection.ensure_connection()
    raw = connection.connection
    machine = ingest.machine("")
    print(
        f"{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}"
    )
    print(f"µs per one-row INSERT, median of {options.rounds} loops of {options.rows} rows")
    print(
        f"{'table':32} {'plain':>8} {'RETURNING':>10} {'Django':>8} {'run':>8} "
        f"{'executemany':>12} {'model':>8}"
    )
    from django.apps import apps

    from atiende.core.actions import action
    from atiende.core.statements import run

    @action
    def save_each(make: list[Any]) -> None:
        # (One action for the loop: inside it, saving takes no savepoint of its own.)
        for new_row in make:
            new_row().save()

    serial = 10**8
    for table, unique in TABLES.items():
        columns = [row[1] for row in raw.execute(f"PRAGMA table_info({table})")][1:]
        model_row = raw.execute(f"SELECT * FROM {table} ORDER BY id DESC LIMIT 1").fetchone()[1:]  # noqa: S608
        changing = [columns.index(column) for column in unique]
        names = ", ".join(columns)
        plain = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        django_sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        model = next(each for each in apps.get_models() if each._meta.db_table == table)
        template = model._default_manager.order_by("-pk").first()
        keywords = {
            field.attname: getattr(template, field.attname)
            for field in model._meta.concrete_fields
            if not field.primary_key
        }
        timings: dict[str, list[float]] = {
            "plain": [],
            "returning": [],
            "django": [],
            "run": [],
            "executemany": [],
            "model": [],
        }
        for _round in range(options.rounds):
            for way in timings:
                values = []
                for _row in range(options.rows):
                    serial += 1
                    row = list(model_row)
                    for position in changing:
                        row[position] = serial if isinstance(row[position], int) else f"{serial}x"
                    values.append(row)
                makers = [
                    functools.partial(
                        model,
                        **{**keywords, **{column: row[columns.index(column)] for column in unique}},
                    )
                    for row in values
                ]
                with transaction.atomic():
                    started = time.perf_counter()
                    if way == "executemany":
                        raw.executemany(plain, values)
                    elif way == "model":
                        save_each(makers)
                    for row in values if way not in ("executemany", "model") else ():
                        if way == "plain":
                            raw.execute(plain, row)
                        elif way == "returning":
                            raw.execute(plain + " RETURNING id", row).fetchone()
                        elif way == "run":
                            run(connection, django_sql, row, writes=True)
                        else:
                            with connection.cursor() as cursor:
                                cursor.execute(django_sql, row)
                    elapsed = time.perf_counter() - started
                    transaction.set_rollback(True)
                timings[way].append(elapsed / options.rows * 1e6)
        medians = {way: statistics.median(values) for way, values in timings.items()}
        print(
            f"{table:32} {medians['plain']:8.1f} {medians['returning']:10.1f} "
            f"{medians['django']:8.1f} {medians['run']:8.1f} {medians['executemany']:12.1f} "
            f"{medians['model']:8.1f}"
        )


if __name__ == "__main__":
    main()
