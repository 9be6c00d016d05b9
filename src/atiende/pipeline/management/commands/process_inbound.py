"""``atiende manage process_inbound``: run every stored message that waits through the service chain.

The batch path a worker takes (``process_inbound_batch``): one transaction per batch, one
savepoint per message. Stopped at any moment, even by SIGKILL, it loses nothing and repeats
nothing: the uncommitted batch's rows are still "received" and the next run takes them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import ngettext

from atiende.core.processes import prepare_working_process
from atiende.pipeline.actions import BATCH_SIZE, process_waiting_inbound


class Command(BaseCommand):
    help = "Process the stored inbound messages that wait, in batches, until none is left."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"messages committed together (default {BATCH_SIZE})",
        )
        parser.add_argument(
            "--waiting",
            type=float,
            default=0.0,
            help="only received messages that have waited this many seconds (default 0: all); "
            "retries are taken when they are due",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_working_process()  # (core/processes.py)
        total = process_waiting_inbound(
            waiting=timedelta(seconds=options["waiting"]), batch_size=options["batch_size"]
        )
        self.stdout.write(
            ngettext(
                "Processed %(count)d inbound message.",
                "Processed %(count)d inbound messages.",
                total,
            )
            % {"count": total}
        )
