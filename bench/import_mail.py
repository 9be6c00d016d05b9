"""``atiende import-mail`` over an mbox of generated mail: messages per second, wall and CPU.

Run from the project root (see bench/README.md)::

    .venv/bin/python bench/import_mail.py            # 1,500 mails, SQLite, a fresh data folder
    .venv/bin/python bench/import_mail.py -n 5000
    .venv/bin/python bench/import_mail.py --again    # and a second import of the same archive

The mail is bench/ingest.py's generator (new cases and replies, Spanish and English, some with
attachments), written as one mbox; the command imports it into a brand made as bench/ingest.py
makes one. To compare code, run another tree's copy of this file with ``PYTHONPATH=TREE/src``.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1500, help="generated mails (default 1500)")
    parser.add_argument(
        "--again",
        action="store_true",
        help="then import the same archive a second time (every mail a duplicate) and time that",
    )
    options = parser.parse_args()
    ingest.setup_django("", Path(tempfile.mkdtemp(prefix="atiende-import-")), "")
    brand = ingest.create_brand()
    mbox = Path(tempfile.mkdtemp(prefix="atiende-import-mbox-")) / "archive.mbox"
    with mbox.open("wb") as archive:
        for raw in ingest.generate(options.n):
            # mbox quoting: a body line starting "From " would begin a new message.
            body = raw.replace(b"\nFrom ", b"\n>From ")
            archive.write(b"From bench@example.com Mon Nov 23 10:00:00 2026\n" + body + b"\n")

    from django.core.management import call_command

    for label in ("first import", "second import")[: 2 if options.again else 1]:
        summary = io.StringIO()
        started, cpu_started = time.perf_counter(), time.process_time()
        call_command("import_mail", str(mbox), "--brand", brand.slug, stdout=summary)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"{label}: {options.n} mails in {wall:.1f} s: {options.n / wall:.1f} msg/s "
            f"({options.n / cpu:.1f} msg/CPU-s). {summary.getvalue().strip()}"
        )


if __name__ == "__main__":
    main()
