"""Server time of the agent workspace on a million conversations: inbox, conversation, search.

Run from the project root after ``bench/workspace_data.py`` has generated the database (see
bench/README.md)::

    .venv/bin/python bench/workspace.py                        # the SQLite file under /tmp
    .venv/bin/python bench/workspace.py --database-url postgres://atiende:atiende@127.0.0.1:5432/bench_ws
    .venv/bin/python bench/workspace.py --explain              # plans of the slowest statements

Every request goes through Django's whole handler in this process: the test ``Client`` (WSGI
handler, every middleware, session and authentication, URL resolution, the view, the template
rendering), signed in with ``force_login`` as the bench's agent (an agent of one brand, member of
two teams) or its supervisor (both brands). The time measured is the wall time of
``client.get(url)``: no network, no HTTP server, no browser. The client keeps one database
connection for the whole run (it does not close it after each request, as the server does).

Each scenario is requested ``--warmup`` times, then ``--requests`` times measured; the report
gives the median and the p95 (nearest rank) in milliseconds, the SQL statements of one more
request and its slowest statement, and at the end this process's resident memory (VmRSS now,
VmHWM its peak). A URL that answers 404 (a page not built yet) is reported as not available.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import re
import sqlite3
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from machine import summary
from workspace_data import (
    AGENT_EMAIL,
    DEFAULT_DIR,
    LONG_SUBJECT,
    SUPERVISOR_EMAIL,
    setup_django,
)
from workspace_text import COMMON_TERM, RARE_TERM

# The targets, p95 in milliseconds, per group of scenarios.
TARGETS_MS = {"inbox": 50.0, "conversation": 80.0, "search rare": 150.0, "search common": 500.0}
RSS_TARGET_MIB = 300.0
# The inbox's link to its next page (keyset pagination): ``...&cursor=<opaque>``.
CURSOR = re.compile(r"""[?&;]cursor=([^"'&\s<>]+)""")


def scenarios(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """What to request: (group, name, persona, url). Inbox parameters as src/atiende/inbox has them."""
    tag = facts["tag"]
    # Parameters as src/atiende/inbox/filters.py reads them: no status means open work (sorted
    # by SLA deadline), status=any every status (sorted by latest update).
    inbox: list[tuple[str, str, str]] = [
        ("view=mine (default: open work, by deadline)", "agent", "/?view=mine"),
        ("view=unassigned", "agent", "/?view=unassigned"),
        ("view=teams", "agent", "/?view=teams"),
        ("view=all (agent: one brand)", "agent", "/?view=all"),
        ("view=all (supervisor: both brands)", "supervisor", "/?view=all"),
        ("view=all sort=updated", "supervisor", "/?view=all&sort=updated"),
        ("view=all sort=created", "supervisor", "/?view=all&sort=created"),
        ("view=all sort=priority", "supervisor", "/?view=all&sort=priority"),
        ("view=all status=any (1M rows, by update)", "supervisor", "/?view=all&status=any"),
        ("view=all status=any sort=created", "supervisor", "/?view=all&status=any&sort=created"),
        ("view=all status=closed", "supervisor", "/?view=all&status=closed"),
        ("view=all status=open", "supervisor", "/?view=all&status=open"),
        ("view=all priority=high", "supervisor", "/?view=all&priority=high"),
        ("view=all channel=email", "supervisor", "/?view=all&channel=email"),
        (f"view=all tag={tag}", "supervisor", f"/?view=all&tag={urllib.parse.quote(tag)}"),
        ("view=all sla=overdue", "supervisor", "/?view=all&sla=overdue"),
        ("view=all sla=soon", "supervisor", "/?view=all&sla=soon"),
        ("view=all language=en", "supervisor", "/?view=all&language=en"),
        ("view=all brand=norte", "supervisor", "/?view=all&brand=norte"),
        (f"view=all status=any tag={tag}", "supervisor", f"/?view=all&status=any&tag={tag}"),
        ("view=all status=any channel=phone", "supervisor", "/?view=all&status=any&channel=phone"),
        ("view=mine status=any (agent's history)", "agent", "/?view=mine&status=any"),
        ("view=all, page 2 (cursor)", "supervisor", "NEXT:/?view=all"),
        ("view=all status=any, page 2 (cursor)", "supervisor", "NEXT:/?view=all&status=any"),
        ("view=mine status=any, page 2 (cursor)", "agent", "NEXT:/?view=mine&status=any"),
    ]
    rows = [{"group": "inbox", "name": n, "persona": p, "url": u} for n, p, u in inbox]
    rows.append(
        {
            "group": "conversation",
            "name": f"{LONG_MESSAGES_LABEL} ({facts['long_url']})",
            "persona": "agent",
            "url": facts["long_url"],
        }
    )
    quoted = urllib.parse.quote
    rows += [
        {
            "group": "search rare",
            "name": f"rare term {RARE_TERM!r}",
            "persona": "supervisor",
            "url": f"/search/?q={quoted(RARE_TERM)}",
        },
        {
            "group": "search rare",
            "name": f"CRN {facts['crn']}",
            "persona": "supervisor",
            "url": f"/search/?q={quoted(facts['crn'])}",
        },
        {
            "group": "search rare",
            "name": f"rare term {RARE_TERM!r}, agent of one brand",
            "persona": "agent",
            "url": f"/search/?q={quoted(RARE_TERM)}",
        },
        {
            "group": "search common",
            "name": f"common term {COMMON_TERM!r} (~20 % of messages)",
            "persona": "supervisor",
            "url": f"/search/?q={quoted(COMMON_TERM)}",
        },
        {
            "group": "search common",
            "name": f"common term {COMMON_TERM!r}, agent of one brand",
            "persona": "agent",
            "url": f"/search/?q={quoted(COMMON_TERM)}",
        },
    ]
    return rows


LONG_MESSAGES_LABEL = "conversation page, 50 messages"


def find_facts() -> dict[str, Any]:
    """The generated database's personas, its 50-message conversation, a CRN and a tag."""
    from atiende.accounts.models import User
    from atiende.conversations.models import Conversation, Tag
    from atiende.customers.crn import display

    long = (
        Conversation.objects.select_related("brand", "customer")
        .filter(subject=LONG_SUBJECT)
        .first()
    )
    if long is None:
        raise SystemExit(
            "this database has no 50-message conversation: generate it with "
            "bench/workspace_data.py first"
        )
    tag = Tag.objects.filter(brand=long.brand, name="vip").first() or Tag.objects.first()
    assert tag is not None
    return {
        "agent": User.objects.get(email=AGENT_EMAIL),
        "supervisor": User.objects.get(email=SUPERVISOR_EMAIL),
        "long_url": f"/c/{long.brand.slug}/{long.number}/",
        "long_messages": long.messages.count(),
        "crn": display(long.customer.crn),
        "tag": tag.name,
        "conversations": Conversation.objects.count(),
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def second_page_url(client: Any, url: str) -> str | None:
    """The first page's link to the next one (its ``cursor=``), or None."""
    response = client.get(url)
    if response.status_code != 200:
        return None
    match = CURSOR.search(response.content.decode(errors="replace"))
    if match is None:
        return None
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}cursor={match.group(1)}"


def measure(client: Any, url: str, requests: int, warmup: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    if response.status_code == 404:
        return {"available": False, "status": 404}
    if response.status_code != 200:
        return {"available": False, "status": response.status_code}
    for _ in range(max(0, warmup - 1)):
        client.get(url)
    times, cpu_times = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.process_time() - cpu_started) * 1000)
        if response.status_code != 200:
            return {"available": False, "status": response.status_code}
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = captured.captured_queries
    slowest = max(queries, key=lambda query: float(query["time"]), default=None)
    return {
        "available": True,
        "status": 200,
        "requests": requests,
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        # This process's CPU time: steadier than wall time on a shared machine, but without
        # PostgreSQL's own work (another process) and without waits.
        "cpu_median_ms": round(statistics.median(cpu_times), 2),
        "cpu_p95_ms": round(percentile(cpu_times, 0.95), 2),
        "bytes": len(response.content),
        "statements": len(queries),
        "sql_ms": round(sum(float(query["time"]) for query in queries) * 1000, 2),
        "slowest_sql_ms": round(float(slowest["time"]) * 1000, 2) if slowest else 0.0,
        "slowest_sql": slowest["sql"] if slowest else "",
    }


def explain(sql: str) -> str:
    """The plan of one captured statement (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return "\n".join(f"{row[0]} {row[1]} {row[3]}" for row in cursor.fetchall())
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def planning_and_execution(sql: str, repeat: int = 5) -> tuple[float, float]:
    """PostgreSQL: the median planning and execution time (ms) of an unprepared statement, from
    ``EXPLAIN (ANALYZE, SUMMARY)``; on a round trip's worth of SQL, planning can cost more."""
    from django.db import connection

    planning, execution = [], []
    with connection.cursor() as cursor:
        for _ in range(repeat):
            cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + sql)
            (report,) = cursor.fetchone()
            plan = (json.loads(report) if isinstance(report, str) else report)[0]
            planning.append(plan["Planning Time"])
            execution.append(plan["Execution Time"])
    return statistics.median(planning), statistics.median(execution)


def diagnose(client: Any, url: str, slower_than_ms: float) -> None:
    """Every statement of one request with its time; the plan of each slower than the limit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    total = (time.perf_counter() - started) * 1000
    queries = captured.captured_queries
    sql_ms = sum(float(query["time"]) for query in queries) * 1000
    print(f"{url}: {status}, {total:.1f} ms, {len(queries)} statements, {sql_ms:.1f} ms of SQL")
    planned = connection.vendor == "postgresql"
    totals = [0.0, 0.0]
    for number, query in enumerate(queries, 1):
        took = float(query["time"]) * 1000
        split = ""
        if planned and query["sql"].startswith("SELECT"):
            planning, execution = planning_and_execution(query["sql"])
            totals[0] += planning
            totals[1] += execution
            split = f" (plan {planning:5.2f}, run {execution:5.2f})"
        print(f"  #{number} {took:8.1f} ms{split}  {query['sql'][:300]}")
        if took >= slower_than_ms:
            print("      full: " + query["sql"])
            print("\n".join("      plan: " + line for line in explain(query["sql"]).splitlines()))
    if planned:
        print(
            f"  PostgreSQL's own time for the SELECTs (medians of 5 EXPLAIN ANALYZE each):"
            f" planning {totals[0]:.1f} ms, execution {totals[1]:.1f} ms"
        )


def memory_mib() -> dict[str, float]:
    figures = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _colon, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = round(int(value.split()[0]) / 1024, 1)
    return figures


def profile(client: Any, url: str, requests: int, warmup: int, dump: str = "") -> None:
    """Where one page's time goes: cProfile over ``requests`` requests, after ``warmup``; prints
    the functions by their own time (SQL execution shows as the driver's ``execute``) and, with
    ``dump``, writes the whole profile there (for ``pstats`` or snakeviz)."""
    import cProfile
    import pstats

    for _ in range(warmup):
        client.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(url)
    profiler.disable()
    if dump:
        profiler.dump_stats(dump)
    stats = pstats.Stats(profiler)
    print(f"{url}: {requests} requests, {stats.total_tt / requests * 1000:.1f} ms each (profiled)")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


# What --timers times on a page, as "module:function" (each wrapped where the view looks it up).
PAGE_PARTS = {
    "/": [
        "atiende.inbox.views:scope_for",
        "atiende.inbox.views:inbox_page",
        "atiende.inbox.queries:_read_keys",
        "atiende.inbox.queries:rows_for",
        "atiende.inbox.queries:next_deadlines_for",
        "atiende.inbox.views:view_counts",
        "atiende.inbox.views:render_rows",
        "atiende.inbox.views:render",
    ],
    "/c/": [
        "atiende.web.conversation_views:_visible",
        "atiende.web.conversation_views:timeline_for",
        "atiende.web.conversation_views:render_timeline",
        "atiende.web.conversation_views:customer_panel",
        "atiende.web.conversation_views:_properties_context",
        "atiende.web.conversation_views:why_this_policy",
        "atiende.web.conversation_views:render",
    ],
}


def time_parts(client: Any, url: str, requests: int, warmup: int) -> None:
    """Wall time per request of a page and of its parts (``PAGE_PARTS``), without a profiler's
    overhead: each part is wrapped with a timer where the code calls it. Parts nest (the rows'
    reading is inside ``inbox_page``), so they do not add up to the whole."""
    import importlib

    parts = next(
        (
            names
            for prefix, names in sorted(PAGE_PARTS.items(), reverse=True)
            if url.startswith(prefix)
        ),
        [],
    )
    totals: dict[str, float] = dict.fromkeys(parts, 0.0)

    def timed(label: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started

        return wrapper

    for label in parts:
        module_name, name = label.split(":")
        module = importlib.import_module(module_name)
        setattr(module, name, timed(label, getattr(module, name)))
    for _ in range(warmup):
        client.get(url)
    for label in totals:
        totals[label] = 0.0
    started = time.perf_counter()
    for _ in range(requests):
        client.get(url)
    whole = (time.perf_counter() - started) / requests * 1000
    print(f"{url}: {whole:.1f} ms a request (wall, mean of {requests} after {warmup} warm-up)")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label:55s} {seconds / requests * 1000:6.1f} ms")


def run(options: argparse.Namespace) -> dict[str, Any]:
    database_url = options.database_url or f"sqlite:///{DEFAULT_DIR / 'atiende.sqlite3'}"
    parts = urllib.parse.urlsplit(database_url)
    if parts.scheme == "sqlite" and not Path(parts.path).exists():
        raise SystemExit(f"{parts.path} does not exist: run bench/workspace_data.py first")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    setup_django(database_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.test import Client

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending and options.migrate:
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(
            f"applied {len(pending)} migrations in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    elif pending:
        print(
            "WARNING: unapplied migrations (indexes may be missing): "
            + ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in pending)
            + " — run with --migrate",
            file=sys.stderr,
        )
    # The pages link static files through the manifest storage, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)
    # A page that fails is reported in the table; its traceback would bury it.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    facts = find_facts()
    clients = {}
    for persona in ("agent", "supervisor"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(facts[persona])
        clients[persona] = client
    if options.diagnose:
        diagnose(clients[options.persona], options.diagnose, options.slower_than)
        raise SystemExit(0)
    if options.timers:
        time_parts(clients[options.persona], options.timers, options.requests, options.warmup)
        raise SystemExit(0)
    if options.profile:
        profile(
            clients[options.persona],
            options.profile,
            options.requests,
            options.warmup,
            options.profile_file,
        )
        raise SystemExit(0)
    results = []
    for scenario in scenarios(facts):
        if options.only and not re.search(options.only, scenario["group"] + " " + scenario["name"]):
            continue
        client = clients[scenario["persona"]]
        url = scenario["url"]
        if url.startswith("NEXT:"):
            url = second_page_url(client, url.removeprefix("NEXT:"))
            if url is None:
                results.append(scenario | {"available": False, "status": "no next-page link"})
                log(options, f"{scenario['name']}: no next-page link on the first page")
                continue
        try:
            figures = measure(client, url, options.requests, options.warmup)
        except Exception as error:  # others' pages in flight: report it, go on
            figures = {"available": False, "status": f"error: {type(error).__name__}: {error}"}
        row = scenario | {"url": url} | figures
        target = TARGETS_MS[scenario["group"]]
        row["target_ms"] = target
        if figures["available"]:
            row["met"] = figures["p95_ms"] <= target
            if options.explain or (options.explain_slow and not row["met"]):
                row["plan"] = explain(figures["slowest_sql"])
        results.append(row)
        log(options, line_of(row))
    memory = memory_mib()
    return {
        "database": connection.vendor,
        "database_version": database_version(),
        "conversations": facts["conversations"],
        "long_conversation_messages": facts["long_messages"],
        "crn": facts["crn"],
        "requests": options.requests,
        "warmup": options.warmup,
        "scenarios": results,
        "memory_mib": memory,
        "rss_target_met": memory.get("VmHWM", 0) < RSS_TARGET_MIB,
        "machine": summary(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "taken_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def database_version() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def line_of(row: dict[str, Any]) -> str:
    label = f"{row['group']:<13} {row['name'][:52]:<52}"
    if not row.get("available"):
        return f"{label} not available ({str(row.get('status'))[:160]})"
    verdict = "ok" if row["met"] else "OVER"
    return (
        f"{label} {row['median_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['target_ms']:>6.0f} "
        f"{verdict:>4} {row['cpu_median_ms']:>7.1f} {row['cpu_p95_ms']:>7.1f} "
        f"{row['statements']:>4} {row['sql_ms']:>7.1f} {row['slowest_sql_ms']:>7.1f}"
    )


def log(options: argparse.Namespace, text: str) -> None:
    if not options.quiet:
        print(text, file=sys.stderr, flush=True)


def print_report(result: dict[str, Any]) -> None:
    print(
        f"{result['machine']}; {result['database_version']}; {result['conversations']:,} "
        f"conversations; {result['requests']} requests after {result['warmup']} warm-up, "
        f"in process through Django's handler (test Client); {result['taken_at']}, "
        f"load {result['load_average'][0]:.2f}"
    )
    print(
        f"{'group':<13} {'scenario (wall ms, then CPU ms)':<52} {'median':>7} {'p95':>7} "
        f"{'target':>6} {'':>4} {'cpu med':>7} {'cpu p95':>7} {'SQL':>4} {'SQL ms':>7} "
        f"{'slowest':>7}"
    )
    for row in result["scenarios"]:
        print(line_of(row))
        if row.get("plan"):
            print("    slowest statement: " + row["slowest_sql"][:2000])
            print("    plan:\n" + "\n".join("      " + line for line in row["plan"].splitlines()))
    memory = result["memory_mib"]
    print(
        f"memory of this process: VmRSS {memory.get('VmRSS')} MiB, peak VmHWM "
        f"{memory.get('VmHWM')} MiB (target < {RSS_TARGET_MIB:.0f}: "
        f"{'met' if result['rss_target_met'] else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default="", help="default: the generated SQLite file")
    parser.add_argument("--requests", type=int, default=50, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per scenario")
    parser.add_argument("--only", default="", help="a regular expression over group and name")
    parser.add_argument("--explain", action="store_true", help="plan of every slowest statement")
    parser.add_argument(
        "--explain-slow", action="store_true", help="plan of the slowest statement when over target"
    )
    parser.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    parser.add_argument(
        "--diagnose", metavar="URL", default="", help="one request: its statements and plans"
    )
    parser.add_argument("--persona", choices=("agent", "supervisor"), default="supervisor")
    parser.add_argument(
        "--profile", metavar="URL", default="", help="cProfile one page (--requests, --warmup)"
    )
    parser.add_argument(
        "--profile-file", metavar="FILE", default="", help="--profile: also write the profile here"
    )
    parser.add_argument(
        "--timers", metavar="URL", default="", help="wall time of one page and of its parts"
    )
    parser.add_argument(
        "--slower-than", type=float, default=20.0, help="--diagnose: plans of statements over (ms)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--output", default="", help="also write the JSON result to this file")
    parser.add_argument("--quiet", action="store_true", help="no line per scenario while running")
    options = parser.parse_args()
    result = run(options)
    if options.output:
        Path(options.output).write_text(json.dumps(result, indent=2))
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)


if __name__ == "__main__":
    main()
