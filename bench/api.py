"""The API under concurrent load: get, list and reply through ``atiende serve``, driven by wrk.

Run from the project root (see bench/README.md)::

    .venv/bin/python bench/api.py                    # SQLite, fresh temporary data folder
    .venv/bin/python bench/api.py --quick            # a small smoke run
    .venv/bin/python bench/api.py --database-url postgres://atiende:atiende@127.0.0.1:5432/atiende_apibench

Each run sets up its own instance (a temporary ATIENDE_DATA_DIR; for PostgreSQL it creates the
database named in the URL and drops it afterwards), migrates, seeds the demo's two brands through
the product's actions (``atiende.demo.seed``: staff, customers, orders and about 2,400
conversations with their messages at ``--scale 1``), issues a personal API token for the demo
supervisor (who sees both brands) with ``atiende manage issue_api_token``, and starts the server
as the README's production section does (``atiende serve --host ... --port ... --workers 4``),
with ``ATIENDE_API_RATE_LIMIT=0``: no rate limit during the bench.

Then wrk drives each scenario with 16 connections for a fixed time, after a warm-up:

- get: ``GET /api/v1/conversations/{id}``, the ids of every conversation in turn;
- list: ``GET /api/v1/conversations?limit=25``;
- reply: ``POST /api/v1/conversations/{id}/messages``, a unique ``Idempotency-Key`` each, over the
  conversations that are not closed.

The figures (requests per second; latency p50, p90, p95, p99) are the median of ``--runs`` runs
of each scenario, the runs interleaved (get, list, reply, get, list, reply...). The server's
memory (RSS of every server process) is read after each run, and how many of wrk's connections
each worker holds (``ss``) and the CPU each spent. Finally, in this process, the SQL
statements of one request of each scenario are counted and one GET is profiled.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "api_wrk.lua"
SUPERVISOR = "supervisor@demo.atiende.dev"
SCENARIOS = ("get", "list", "reply")
# What the README's production section runs: ``atiende serve ... --workers 4``.
README_WORKERS = 4
CONNECTIONS = 16
WRK_THREADS = 2


# --- Database and instance ------------------------------------------------------------------


def _pg_admin_url(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/") or "atiende_apibench"
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


def server_environment(
    database_url: str, data_dir: Path, settings_module: str = "atiende.config.settings"
) -> dict[str, str]:
    """The environment of the bench and of its server: this instance, no rate limit, no Redis."""
    environment = dict(os.environ)
    environment.update(
        {
            "ATIENDE_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": settings_module,
            # The bench measures the API, not the limiter: 0 turns the per-token limit off.
            "ATIENDE_API_RATE_LIMIT": "0",
        }
    )
    for name in ("REDIS_URL", "ATIENDE_DEBUG", "ALLOWED_HOSTS"):
        environment.pop(name, None)
    if database_url:
        environment["DATABASE_URL"] = database_url
    else:
        environment.pop("DATABASE_URL", None)
    return environment


def setup_instance(environment: dict[str, str], scale: float) -> dict[str, Any]:
    """Migrate, seed, issue a token; the ids each scenario uses."""
    os.environ.clear()
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from atiende.conversations.models import Conversation, Message
    from atiende.conversations.queries import conversations_visible_to
    from atiende.core.actors import system_actor
    from atiende.demo.logins import DEMO_ACCOUNTS, _grant_missing_roles, ensure_account
    from atiende.demo.seed import seed

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    seed(scale=scale, progress=False)
    actor = system_actor("bench")
    account = next(account for account in DEMO_ACCOUNTS if account.email == SUPERVISOR)
    user = ensure_account(account, actor=actor)
    _grant_missing_roles(user, account, actor=actor)
    token = io.StringIO()
    call_command("issue_api_token", "--user", SUPERVISOR, "--name", "bench", stdout=token)
    visible = conversations_visible_to(user)
    ids = list(visible.order_by("id").values_list("id", flat=True))
    # Email cases of customers with an email address: a reply on a social or phone case needs
    # an identity on that network, which not every demo customer has (a 422, not a reply).
    reply_ids = list(
        visible.exclude(status="closed")
        .filter(channel="email", customer__identities__kind="email")
        .distinct()
        .order_by("id")
        .values_list("id", flat=True)
    )
    return {
        "token": token.getvalue().strip(),
        "ids": ids,
        "reply_ids": reply_ids,
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "setup_seconds": round(time.perf_counter() - started, 1),
    }


# --- The server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    environment: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    """``atiende serve`` as the README's production section starts it, in its own session."""
    command = [
        str(Path(sys.executable).parent / "atiende"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603  (our own command line)
            command,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass


def call(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1 only)
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status), ""
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")[:500]


def wait_until_ready(
    server: subprocess.Popen[bytes], base: str, token: str, path: str, log: Path
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < 120:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if call(base, token, path)[0] == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within 120 s:\n{log.read_text()[-3000:]}")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds_by_process(root: int) -> dict[int, float]:
    """User + system CPU time of each of the server's processes so far (live ones)."""
    tree, pending, seconds = _children(), [root], {}
    while pending:
        pid = pending.pop()
        pending.extend(tree.get(pid, []))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def connections_by_process(port: int) -> dict[int, int]:
    """How many established connections to ``port`` each process holds (``ss``; empty if it is
    not installed): wrk opens its 16 at the start of a run and keeps them, and which worker
    accepted each decides how the load is shared."""
    if shutil.which("ss") is None:
        return {}
    output = subprocess.run(  # noqa: S603  (ss with our arguments)
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    counts: dict[int, int] = {}
    for pid in re.findall(r"pid=(\d+)", output):
        counts[int(pid)] = counts.get(int(pid), 0) + 1
    return counts


def load_per_worker(
    connections: dict[int, int], cpu_before: dict[int, float], cpu_after: dict[int, float]
) -> list[dict[str, Any]]:
    """For every worker that held connections or spent CPU in a run: its connections and CPU
    seconds, busiest first."""
    pids = set(connections) | {
        pid for pid, spent in cpu_after.items() if spent - cpu_before.get(pid, 0.0) > 0.05
    }
    workers = [
        {
            "pid": pid,
            "connections": connections.get(pid, 0),
            "cpu_s": round(cpu_after.get(pid, 0.0) - cpu_before.get(pid, 0.0), 2),
        }
        for pid in pids
    ]
    return sorted(workers, key=lambda worker: (-worker["connections"], -worker["cpu_s"]))


def server_processes(root: int) -> list[dict[str, Any]]:
    """The server's process tree: pid, RSS (MiB), threads of every process."""
    tree, pending, processes = _children(), [root], []
    while pending:
        pid = pending.pop()
        pending.extend(tree.get(pid, []))
        try:
            threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
        except OSError:
            continue
        processes.append(
            {"pid": pid, "rss_mib": round(_rss_kib(pid) / 1024, 1), "threads": threads}
        )
    return processes


# --- wrk ------------------------------------------------------------------------------------


def wrk(
    base: str,
    token: str,
    mode: str,
    ids_file: Path,
    seconds: float,
    run: str,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{min(WRK_THREADS, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        base,
        "--",
        mode,
        str(ids_file),
        run,
    ]
    output = subprocess.run(  # noqa: S603  (wrk with our arguments)
        command,
        env={**os.environ, "ATIENDE_BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next((line for line in output.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures:\n{output}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    kinds = {
        kind: raw[key]
        for kind, key in (
            ("connect", "connect_errors"),
            ("read", "read_errors"),
            ("write", "write_errors"),
            ("non-2xx", "status_errors"),
            ("timeout", "timeouts"),
        )
        if raw[key]
    }
    return {
        "requests": raw["requests"],
        "per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "errors": sum(kinds.values()),
        "error_kinds": kinds,
        "non_2xx": raw["status_errors"],
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "per_second",
        "mean_ms",
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "server_cpu_ms_per_request",
    )
    merged: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in keys}
    merged["requests"] = sum(run["requests"] for run in runs)
    merged["errors"] = sum(run["errors"] for run in runs)
    kinds: dict[str, int] = {}
    for run in runs:
        for kind, count in run["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
    merged["error_kinds"] = kinds
    merged["runs"] = runs
    return merged


# --- In-process analysis --------------------------------------------------------------------

# cProfile entries whose cumulative time says where a GET goes (file suffix, function name).
PROFILE_PARTS = {
    "auth (TokenAuth.authenticate)": ("atiende/api/auth.py", "authenticate"),
    "view: read the conversation as the caller may see it (conversation_output)": (
        "atiende/api/references.py",
        "conversation_output",
    ),
    "  of which building the output (_outputs)": ("atiende/api/references.py", "_outputs"),
    "reads compiled once (PreparedRead.rows)": ("atiende/core/prepared.py", "rows"),
    "ninja: validate and render the response": ("ninja/operation.py", "_result_to_response"),
    "SQL: compile (SQLCompiler.as_sql)": ("django/db/models/sql/compiler.py", "as_sql"),
    "SQL: execute (CursorWrapper._execute)": ("django/db/backends/utils.py", "_execute"),
    "request/response middleware and handler": ("django/core/handlers/base.py", "get_response"),
}


def analyse(token: str, ids: list[int], reply_ids: list[int], profile_file: str) -> dict[str, Any]:
    """SQL statements per request of each scenario, and a profile of GETs, in this process.

    Through Django's test client (WSGI, one thread): the same middleware, auth and view as the
    server's HTTP threads run, without uvicorn and the hand-off to a thread, on one database
    connection kept open (as each of the server's threads keeps its own).
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    requests = {
        "get": lambda n: client.get(f"/api/v1/conversations/{ids[n % len(ids)]}"),
        "list": lambda n: client.get("/api/v1/conversations?limit=25"),
        "reply": lambda n: client.post(
            f"/api/v1/conversations/{reply_ids[n % len(reply_ids)]}/messages",
            {"body_text": f"Analysis reply {n}."},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"analysis-{n}-{time.time_ns()}",
        ),
    }
    queries: dict[str, Any] = {}
    for name, send in requests.items():
        send(0)  # warm
        with CaptureQueriesContext(connection) as captured:
            response = send(1)
        assert response.status_code in (200, 201), (name, response.status_code, response.content)
        queries[name] = {
            "statements": len(captured.captured_queries),
            "sql": [query["sql"][:160] for query in captured.captured_queries],
        }
    count = 300
    for n in range(20):
        requests["get"](n)
    started = time.perf_counter()
    for n in range(count):
        requests["get"](n)
    plain_ms = (time.perf_counter() - started) / count * 1000
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(count):
        requests["get"](n)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    parts = {}
    for label, (suffix, function) in PROFILE_PARTS.items():
        cumulative = sum(
            values[3]
            for (filename, _line, name), values in stats.stats.items()  # type: ignore[attr-defined]
            if name == function and filename.endswith(suffix)
        )
        parts[label] = {
            "ms_per_request": round(cumulative / count * 1000, 3),
            "share": round(cumulative / total, 3),
        }
    if profile_file:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(70)
        Path(profile_file).write_text(buffer.getvalue())
    return {
        "queries": queries,
        "get_read_plan": read_plan_times(ids),
        "get_in_process_ms": round(plain_ms, 3),
        "get_profile": parts,
        "get_profiled_ms": round(total / count * 1000, 3),
    }


def read_plan_times(ids: list[int]) -> dict[str, float] | None:
    """PostgreSQL: the median planning and execution time of the GET's conversation read (the
    statement ``api.references`` prepares), from ``EXPLAIN (ANALYZE, SUMMARY)`` on a fresh
    statement each time: what preparing it saves. ``None`` on SQLite."""
    from django.db import connection

    from atiende.api.references import one_conversation_read
    from atiende.conversations.models import Conversation

    if connection.vendor != "postgresql":
        return None
    brand_ids = sorted(set(Conversation.objects.values_list("brand_id", flat=True)))
    planning, execution = [], []
    with connection.cursor() as cursor:
        for n in range(30):
            queryset = one_conversation_read(ids[n % len(ids)], brand_ids)
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN (ANALYZE, SUMMARY) {sql}", params)
            for (line,) in cursor.fetchall():
                if line.startswith("Planning Time:"):
                    planning.append(float(line.split()[2]))
                elif line.startswith("Execution Time:"):
                    execution.append(float(line.split()[2]))
    return {
        "planning_ms": round(statistics.median(planning), 3),
        "execution_ms": round(statistics.median(execution), 3),
    }


# --- Machine --------------------------------------------------------------------------------


def machine(database_url: str) -> dict[str, Any]:
    cpu = cpu_model()
    import django
    import uvicorn

    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "uvicorn": uvicorn.__version__,
        "sqlite": sqlite3.sqlite_version,
        "database": "postgresql" if database_url else "sqlite",
        "wrk": subprocess.run(
            ["wrk", "--version"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()[0],
        "load_average_before": os.getloadavg(),
    }
    if database_url:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    return info


# --- The run --------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: this bench drives the load with it. Install it "
            "(Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk) and run again."
        )
    data_dir = Path(tempfile.mkdtemp(prefix="atiende-apibench-"))
    if options.database_url:
        _pg_recreate(options.database_url)
    server = None
    try:
        environment = server_environment(options.database_url, data_dir, options.settings)
        log(options, f"setting up in {data_dir} (scale {options.scale})")
        instance = setup_instance(environment, options.scale)
        info = machine(options.database_url)
        from django.db import connections

        connections.close_all()
        token = instance.pop("token")
        ids_file, reply_file = data_dir / "ids.txt", data_dir / "reply_ids.txt"
        ids_file.write_text("".join(f"{pk}\n" for pk in instance["ids"]))
        reply_file.write_text("".join(f"{pk}\n" for pk in instance["reply_ids"]))
        log(
            options,
            f"{instance['conversations']} conversations, {instance['messages']} messages "
            f"({instance['setup_seconds']} s); {len(instance['reply_ids'])} open to replies",
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = data_dir / "server.log"
        server = start_server(environment, port, options.workers, server_log)
        ready = wait_until_ready(
            server, base, token, f"/api/v1/conversations/{instance['ids'][0]}", server_log
        )
        status, answer = call(
            base,
            token,
            f"/api/v1/conversations/{instance['reply_ids'][0]}/messages",
            {"body_text": "Preflight."},
        )
        if status != 201:
            raise SystemExit(f"a reply answered {status}, not 201: {answer}")
        log(options, f"server ready after {ready:.1f} s on {base}, {options.workers} workers")

        files = {"get": ids_file, "list": ids_file, "reply": reply_file}
        for scenario in SCENARIOS:
            wrk(base, token, scenario, files[scenario], options.warmup, f"warm{time.time_ns()}")
        results: dict[str, list[dict[str, Any]]] = {scenario: [] for scenario in SCENARIOS}
        rss: list[list[dict[str, Any]]] = []
        for number in range(options.runs):
            for scenario in SCENARIOS:
                cpu_before = cpu_seconds_by_process(server.pid)
                held: dict[int, int] = {}
                # Halfway through the run: wrk opens its connections at the start, and the
                # server's workers even out their shares within about a second.
                census = threading.Timer(
                    options.duration / 2,
                    lambda held=held: held.update(connections_by_process(port)),
                )
                census.start()
                figures = wrk(
                    base,
                    token,
                    scenario,
                    files[scenario],
                    options.duration,
                    f"r{number}-{time.time_ns()}",
                )
                census.join()
                cpu_after = cpu_seconds_by_process(server.pid)
                cpu = sum(cpu_after.values()) - sum(cpu_before.values())
                figures["server_cpu_ms_per_request"] = round(
                    cpu * 1000 / max(1, figures["requests"]), 2
                )
                figures["workers"] = load_per_worker(held, cpu_before, cpu_after)
                figures["load_average"] = round(os.getloadavg()[0], 2)
                results[scenario].append(figures)
                rss.append(server_processes(server.pid))
                log(
                    options,
                    f"run {number + 1} {scenario:<5} {figures['per_second']:>7.1f} req/s  "
                    f"p50 {figures['p50_ms']:.1f}  p95 {figures['p95_ms']:.1f}  "
                    f"p99 {figures['p99_ms']:.1f} ms  errors {figures['errors']}  "
                    f"server CPU {figures['server_cpu_ms_per_request']} ms/request",
                )
                log(
                    options,
                    "      connections / CPU s per worker: "
                    + ", ".join(f"{w['connections']} / {w['cpu_s']}" for w in figures["workers"]),
                )
        processes = server_processes(server.pid)
        stop_server(server)
        server = None
        server_errors = error_lines(server_log)

        # Back in this process, with the data the load left behind.
        analysis = analyse(token, instance["ids"], instance["reply_ids"], options.profile)
        connections.close_all()
        return {
            "database": info["database"],
            "settings": options.settings,
            "workers": options.workers,
            "connections": CONNECTIONS,
            "duration_s": options.duration,
            "instance": instance
            | {"ids": len(instance["ids"])}
            | {"reply_ids": len(instance["reply_ids"])},
            "scenarios": {scenario: median_run(runs) for scenario, runs in results.items()},
            "server": {
                "processes": processes,
                "rss_mib_total_max": round(
                    max(sum(p["rss_mib"] for p in sample) for sample in rss), 1
                ),
                "rss_mib_total_end": round(sum(p["rss_mib"] for p in processes), 1),
            },
            "server_errors": server_errors,
            "analysis": analysis,
            "machine": info | {"load_average_after": os.getloadavg()},
        }
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)
        if options.database_url and not options.keep:
            from django.db import connections

            connections.close_all()
            _pg_recreate(options.database_url, drop_only=True)


def error_lines(server_log: Path) -> dict[str, int]:
    """The distinct errors the server logged (an exception's last line, a 5xx), with counts."""
    counts: dict[str, int] = {}
    for line in server_log.read_text(errors="replace").splitlines():
        text = line.strip()
        if not text or text.startswith(("INFO:", "File ", "^", "Traceback", "During handling")):
            continue
        if '" 5' in text or "Error" in text or "Exception" in text or text.startswith("ERROR"):
            text = re.sub(r"^\d{4}-\d\d-\d\d [\d:,]+ ", "", text)
            key = text if '" 5' not in text else "HTTP " + text.split('" ', 1)[1]
            counts[key[:200]] = counts.get(key[:200], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:10])


def log(options: argparse.Namespace, text: str) -> None:
    if not options.quiet:
        print(text, file=sys.stderr, flush=True)


def print_report(result: dict[str, Any]) -> None:
    info = result["machine"]
    version = info.get("postgresql") or info["sqlite"]
    print(
        f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, Django {info['django']}, "
        f"uvicorn {info['uvicorn']}, {info['database']} {version}, {info['wrk']}"
    )
    instance = result["instance"]
    print(
        f"{instance['conversations']} conversations, {instance['messages']} messages; "
        f"atiende serve --workers {result['workers']}; wrk {result['connections']} connections, "
        f"{result['duration_s']} s per run, median of {len(result['scenarios']['get']['runs'])}"
    )
    print(
        f"  {'scenario':<8} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'server CPU ms/req':>18}"
    )
    for name, figures in result["scenarios"].items():
        print(
            f"  {name:<8} {figures['per_second']:>8.1f} {figures['p50_ms']:>8.1f} "
            f"{figures['p90_ms']:>8.1f} {figures['p95_ms']:>8.1f} {figures['p99_ms']:>8.1f} "
            f"{figures['errors']:>7} {figures['server_cpu_ms_per_request']:>18.2f}"
        )
    server = result["server"]
    layout = ", ".join(
        f"pid {p['pid']}: {p['rss_mib']} MiB, {p['threads']} threads" for p in server["processes"]
    )
    print(f"  server RSS: {server['rss_mib_total_max']} MiB at most, all processes ({layout})")
    for name, figures in result["scenarios"].items():
        spread = "; ".join(
            "/".join(str(worker["connections"]) for worker in run["workers"])
            for run in figures["runs"]
        )
        print(f"  {name}: wrk's connections per worker, each run: {spread}")
    for name, figures in result["scenarios"].items():
        if figures["error_kinds"]:
            kinds = ", ".join(f"{kind} {count}" for kind, count in figures["error_kinds"].items())
            print(f"  {name}: wrk's errors by kind: {kinds}")
    for text, count in result["server_errors"].items():
        print(f"  server error x{count}: {text}")
    analysis = result["analysis"]
    print(
        "  SQL statements per request: "
        + ", ".join(f"{name} {q['statements']}" for name, q in analysis["queries"].items())
    )
    if analysis["get_read_plan"]:
        plan = analysis["get_read_plan"]
        print(
            f"  the GET's conversation read unprepared (EXPLAIN ANALYZE, median of 30): planning "
            f"{plan['planning_ms']} ms, execution {plan['execution_ms']} ms"
        )
    print(f"  one GET in process: {analysis['get_in_process_ms']} ms; under cProfile:")
    for label, part in analysis["get_profile"].items():
        print(f"    {label:<50} {part['ms_per_request']:>7.3f} ms  {part['share']:>6.1%}")
    print(
        f"  load average before {info['load_average_before'][0]:.2f}, "
        f"after {info['load_average_after'][0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small data, short runs")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--scale", type=float, default=1.0, help="demo seed scale (default 1)")
    parser.add_argument(
        "--workers",
        type=int,
        default=README_WORKERS,
        help=f"atiende serve --workers (default {README_WORKERS}, as the README)",
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds per run (default 20)")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up seconds per scenario")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; medians")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--profile", metavar="FILE", default="", help="cProfile of GETs into FILE")
    parser.add_argument(
        "--settings",
        default="atiende.config.settings",
        help="settings module of the set-up and the server (experiments; on PYTHONPATH)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    options = parser.parse_args()
    if options.quick:
        options.scale, options.duration, options.warmup, options.runs = 0.1, 3, 1, 1
    result = run(options)
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)


if __name__ == "__main__":
    main()
