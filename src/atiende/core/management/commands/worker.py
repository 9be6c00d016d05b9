"""``atiende worker``: the background task consumer (huey).

Run exactly one worker with periodic tasks (mail polling, clean-ups); start any others with
``--no-periodic`` so periodic jobs are not enqueued twice.

SIGTERM (what systemd, Docker and ``atiende demo`` send) stops gracefully: tasks already running
may finish for up to ``--shutdown-timeout`` seconds. SIGINT (Ctrl-C) stops at once; an interrupted
task's transaction rolls back and huey reports it as interrupted.

On start a worker queues the recovery of inbound messages that a killed worker left half-done
(``pipeline.tasks.recover_inbound_task``), so they do not wait for the minute's sweep, and
sets itself up for work (``core/processes.py``: its SQLite connections with temporary files in
memory and a larger page cache, what it has loaded frozen out of the garbage collector's reach,
the young generation collected less often).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import autodiscover_modules

from atiende.core.processes import prepare_working_process


class Command(BaseCommand):
    help = "Run the background task consumer."

    def add_arguments(self, parser: CommandParser) -> None:
        huey_settings = cast(dict[str, Any], settings.HUEY)
        default_threads = huey_settings.get("consumer", {}).get("workers", 2)
        parser.add_argument(
            "--threads",
            type=int,
            default=default_threads,
            help=f"tasks run at once, one thread each (default {default_threads}, from "
            "ATIENDE_WORKER_THREADS)",
        )
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="do not enqueue periodic tasks (for every consumer but one)",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=10.0,
            help="seconds running tasks may take to finish after SIGTERM (default 10)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # run_huey gives the "huey" logger its own handler unless it has one; ours already reach
        # the console through the root logger, so that would print every line twice.
        logging.getLogger("huey").addHandler(logging.NullHandler())
        # Messages a previous worker was processing when it died are taken up first thing.
        from atiende.pipeline.tasks import recover_inbound_task

        recover_inbound_task()
        # What the consumer would import as it starts (every app's tasks), imported first, so
        # that it is frozen out of the collector's reach with the rest (core/processes.py).
        autodiscover_modules("tasks")
        prepare_working_process()
        call_command(
            "run_huey",
            workers=options["threads"],
            worker_type="thread",
            periodic=not options["no_periodic"],
            graceful_signal="TERM",
            shutdown_timeout=options["shutdown_timeout"],
            verbosity=options["verbosity"],
        )
