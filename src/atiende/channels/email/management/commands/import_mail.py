"""``atiende import-mail PATH...``: bring mail archives in through the service chain.

Each message is stored (committed) and processed exactly as if it had arrived by IMAP or SMTP, so
a second import of the same files reports every message as a duplicate and changes nothing. The
messages are read a batch at a time, stored together (``receive_emails``: one commit), and only
then processed as one batch, as a worker processes a backlog (``process_inbound_batch``: several
times the messages per second of one at a time), and reported in the order they were read.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from atiende.brands.models import Brand
from atiende.channels.email.archives import count_messages, messages_in
from atiende.channels.email.intake import receive_emails
from atiende.channels.email.routing import brand_for_message
from atiende.core.processes import prepare_working_process
from atiende.pipeline.actions import BATCH_SIZE, Receipt, process_inbound_batch
from atiende.pipeline.models import InboundMessage, InboundOutcome

# Mails read and held in memory before they are stored together: at most a batch of them, and
# not many more bytes than this (a few large mails are stored on their own).
WAITING_BYTES = 64 * 1024 * 1024


class Command(BaseCommand):
    help = "Import .eml files, folders of them and mbox files through the service chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help=".eml files, folders or mbox files")
        parser.add_argument(
            "--brand", help="slug of the brand the mail belongs to (default: by recipient)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON line per message")

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_working_process()  # (core/processes.py)
        paths: list[Path] = options["paths"]
        brand = self._brand(options["brand"])
        try:
            total = count_messages(paths)
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        tally: Counter[str] = Counter()
        progress = tqdm(total=total, unit="msg", file=sys.stderr, disable=None, desc="Importing")
        # Read, not yet stored: (report, the mail to store or None when it has no brand).
        waiting: list[tuple[dict[str, Any], tuple[Brand, bytes, str] | None]] = []
        waiting_bytes = 0

        def store_and_report_waiting() -> None:
            if not waiting:
                return
            for result in self._store_and_process(waiting):
                tally[result["status"]] += 1
                if options["json"]:
                    self.stdout.write(json.dumps(result, ensure_ascii=False))
            waiting.clear()

        for archived in messages_in(paths):
            waiting.append(self._read_one(archived.label, archived.raw, brand))
            waiting_bytes += len(archived.raw)
            progress.update(1)
            if len(waiting) >= BATCH_SIZE or waiting_bytes >= WAITING_BYTES:
                store_and_report_waiting()
                waiting_bytes = 0
        store_and_report_waiting()
        progress.close()
        summary = (
            ", ".join(f"{count} {status}" for status, count in sorted(tally.items())) or "nothing"
        )
        (self.stderr if options["json"] else self.stdout).write(
            f"Imported {sum(tally.values())} messages: {summary}."
        )

    def _brand(self, slug: str | None) -> Brand | None:
        if slug is None:
            return None
        try:
            return Brand.objects.get(slug=slug)
        except Brand.DoesNotExist:
            raise CommandError(f"There is no brand {slug!r}") from None

    def _read_one(
        self, label: str, raw: bytes, brand: Brand | None
    ) -> tuple[dict[str, Any], tuple[Brand, bytes, str] | None]:
        result: dict[str, Any] = {
            "file": label,
            "status": "",
            "conversation": None,
            "message_id": None,
            "error": None,
        }
        target = brand or brand_for_message(raw)
        if target is None:
            result.update(
                status=InboundOutcome.REJECTED.value,
                error="No brand receives mail for its recipients; pass --brand",
            )
            return result, None
        return result, (target, raw, f"import:{label}")

    def _store_and_process(
        self, waiting: list[tuple[dict[str, Any], tuple[Brand, bytes, str] | None]]
    ) -> list[dict[str, Any]]:
        """Store the mails read (one commit), then process the new ones as one batch; each one's
        report, in reading order."""
        receipts = iter(receive_emails([mail for _result, mail in waiting if mail], process=False))
        stored = [(result, next(receipts) if mail else None) for result, mail in waiting]
        new_ids = [receipt.inbound.pk for _result, receipt in stored if receipt and receipt.created]
        processed = {row.pk: row for row in process_inbound_batch(new_ids)}
        # Every other message (delivered before, or processed meanwhile by a worker's sweep) as
        # it stands now, read for all of them at once: read one by one, a second import of an
        # archive took two queries per message.
        others = _as_reported(
            [
                receipt.inbound.pk
                for _r, receipt in stored
                if receipt and receipt.inbound.pk not in processed
            ]
        )
        reports = []
        for result, receipt in stored:
            if receipt is not None:
                pk = receipt.inbound.pk
                self._describe(result, receipt, processed.get(pk) or others[pk])
            reports.append(result)
        return reports

    def _describe(self, result: dict[str, Any], receipt: Receipt, inbound: InboundMessage) -> None:
        # The brand the receipt was stored under (read with it), not one query per message.
        prefix = receipt.inbound.brand.number_prefix
        status = (
            InboundOutcome.DUPLICATE.value
            if not receipt.created
            else (inbound.outcome or "needs_attention")
        )
        conversation = inbound.conversation
        result.update(
            status=status,
            conversation=f"{prefix}-{conversation.number}" if conversation else None,
            message_id=inbound.message.external_id
            if inbound.message
            else _message_id(inbound.dedupe_key),
            error=inbound.error or None
            if status in {InboundOutcome.REJECTED, "needs_attention"}
            else None,
        )


def _as_reported(inbound_ids: list[int]) -> dict[int, InboundMessage]:
    """The rows as a report describes them, with their conversation's number and their message's
    Message-ID (not the raw mail, nor the message's text)."""
    if not inbound_ids:
        return {}
    return (
        InboundMessage.objects.select_related("conversation", "message")
        .only(
            "outcome",
            "error",
            "dedupe_key",
            "conversation__number",
            "message__external_id",
        )
        .in_bulk(inbound_ids)
    )


def _message_id(dedupe_key: str) -> str | None:
    return dedupe_key[4:] if dedupe_key.startswith("mid:") else None
