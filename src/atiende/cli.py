"""The ``atiende`` command: the demo, the server, the worker, and every management command.

Usage:

- ``atiende demo [--host H] [--port P] [--no-serve]``: a complete demo instance. It migrates,
  seeds the demo data, prints the sign-in, then runs the web server and a worker until Ctrl-C
  (``--no-serve``: prepare and print only).
- ``atiende serve [--host H] [--port P] [--workers N]``: the web server (HTTP and WebSockets).
- ``atiende worker [--threads N] [--no-periodic]``: the background task consumer; run periodic
  jobs on exactly one worker.
- ``atiende import-mail PATH... [--brand SLUG] [--json]``: import .eml files, folders and mbox
  files through the service chain.
- ``atiende smtpd [--host H] [--port P]``: receive mail over SMTP for the brands' addresses.
- ``atiende poll-mail [--once] [--interval SECONDS]``: read the brands' IMAP mailboxes (IDLE where
  the server offers it for a single mailbox).
- ``atiende process-inbound [--batch-size N]``: process every stored inbound message that is
  waiting, in batches, then stop (after an outage, or to drain a large import).
- ``atiende manage COMMAND [ARGS...]``: any Django management command (migrate, ...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SETTINGS_MODULE = "atiende.config.settings"
# atiende NAME runs the management command of that name ("import-mail" runs import_mail).
SHORTCUTS = {"demo", "serve", "worker", "import-mail", "smtpd", "poll-mail", "process-inbound"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.core.management import execute_from_command_line

    if not args or args[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    if args[0] == "--version":
        from atiende import __version__

        print(f"atiende {__version__}")
        return 0
    if args[0] == "manage":
        execute_from_command_line(["atiende manage", *args[1:]])
        return 0
    if args[0] in SHORTCUTS:
        execute_from_command_line(["atiende", args[0].replace("-", "_"), *args[1:]])
        return 0
    print(f"atiende: unknown command {args[0]!r}\n{__doc__}", file=sys.stderr)
    return 2
