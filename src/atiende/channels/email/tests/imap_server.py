"""A real IMAP server on loopback for polling tests: a private dovecot, started and stopped per test.

It needs no system configuration: its own config file in a temporary folder, a plaintext listener
on 127.0.0.1 at a free port (no TLS, plain and login mechanisms allowed), one user in a
passwd-file, maildir storage, and its runtime files (``base_dir``, ``state_dir``, log) in the same
folder. Written for dovecot 2.3 (Debian 12's ``dovecot-imapd``); 2.4 renamed most of these options.

Without dovecot the tests are skipped, except under CI (``CI`` set), where they fail: a CI run that
silently skipped the IMAP tests would prove nothing.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from atiende.core.testing import free_port

USER = "soporte@tiendasol.test"
PASSWORD = "imap-test-password"

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
# Dovecot refuses mail users below 500 (system accounts) unless told otherwise.
first_valid_uid = {mail_user}
mail_location = maildir:{root}/mail/%n
# Dovecot notices new mail during IDLE by inotify, and by this check where inotify is missing.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# No growing delay after each failed login (the brute-force penalty): tests fail logins on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@dataclass
class ImapServer:
    host: str
    port: int
    username: str
    password: str
    log: Path

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver ``raw`` into ``folder`` with a real IMAP APPEND."""
        with self.client() as client:
            client.append(folder, raw)


def dovecot_binary() -> str:
    """The dovecot executable, or a failed (CI) or skipped (elsewhere) test."""
    found = shutil.which("dovecot") or next(
        (path for path in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(path).exists()),
        None,
    )
    if found is None:
        message = "dovecot is not installed: apt-get install dovecot-imapd"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required under CI)")
        pytest.skip(message)
    return found


def _users() -> dict[str, str]:
    """The system users dovecot runs as: its own unprivileged ones under root, else ourselves."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return {
            "login_user": "dovenull",
            "internal_user": "dovecot",
            "mail_user": str(mail.pw_uid),
            "mail_group": str(mail.pw_gid),
        }
    me = getpass.getuser()
    return {
        "login_user": me,
        "internal_user": me,
        "mail_user": str(os.getuid()),
        "mail_group": str(os.getgid()),
    }


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                if probe.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    output = ""
    if process.poll() is not None and process.stdout is not None:
        output = process.stdout.read().decode(errors="replace")
    details = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"dovecot did not start on port {port}:\n{output}\n{details}")


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextmanager
def running_imap_server() -> Iterator[ImapServer]:
    binary = dovecot_binary()
    root = Path(tempfile.mkdtemp(prefix="atiende-dovecot-"))
    # The mail user (dovecot's own under root) must reach its maildir below the temporary folder.
    root.chmod(0o755)
    users = _users()
    mail = root / "mail"
    mail.mkdir()
    if os.geteuid() == 0:
        os.chown(mail, int(users["mail_user"]), int(users["mail_group"]))
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(_CONFIG.format(root=root, port=port, **users))
    log = root / "dovecot.log"
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        # Its own process group: stopping it reaches its login and mail processes at once,
        # where the master alone waits a second for them to go.
        start_new_session=True,
    )
    try:
        _wait_for(port, process, log)
        yield ImapServer("127.0.0.1", port, USER, PASSWORD, log)
    finally:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(root, ignore_errors=True)
