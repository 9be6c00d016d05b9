"""Running the demo's web server and worker as child processes, and stopping them together.

The children are ``python -m atiende serve`` and ``python -m atiende worker``, the same commands a
deployment runs, so the demo exercises the real process model rather than a threaded imitation.
"""

from __future__ import annotations

import ctypes
import functools
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()


def _parent_death_signal() -> Callable[[], object] | None:
    """A function for the child to run before exec: get SIGTERM when the demo process dies.

    Without it a demo killed with SIGKILL leaves a server holding the port and a worker holding
    the queue. prctl is looked up here, in the parent, so the forked child only makes one C call.
    """
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return functools.partial(prctl, PR_SET_PDEATHSIG, signal.SIGTERM)


def start_child(name: str, arguments: Sequence[str]) -> Child:
    """Start ``python -m atiende ARGUMENTS``; it shares our stdout and stderr."""
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and module; arguments we build)
        [sys.executable, "-m", "atiende", *arguments],
        stdin=subprocess.DEVNULL,
        preexec_fn=_parent_death_signal(),
    )
    return Child(name=name, process=process)


def _address(host: str) -> str:
    return WILDCARD_TO_LOOPBACK.get(host, host).strip("[]")


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in _address(host) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((_address(host), port), timeout=0.5):
            return True
    except OSError:
        return False


class StopSignal:
    """Turns SIGINT and SIGTERM into an event the supervising loop waits on."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


def first_exited(children: Sequence[Child]) -> Child | None:
    return next((child for child in children if child.exit_code is not None), None)


def wait_until_listening(
    host: str, port: int, children: Sequence[Child], stop: StopSignal, timeout: float
) -> Child | None:
    """Block until the server accepts connections; returns a child that died meanwhile, if any.

    Raises TimeoutError when nothing answers within ``timeout`` seconds; returns early (``None``)
    when a stop is requested.
    """
    deadline = time.monotonic() + timeout
    while not port_answers(host, port):
        dead = first_exited(children)
        if dead is not None or stop.wait(0.2):
            return dead
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing answered on {host}:{port} after {timeout:.0f} s")
    return None


def supervise(children: Sequence[Child], stop: StopSignal) -> Child | None:
    """Wait for a stop request (``None``) or for a child to exit on its own (that child)."""
    while not stop.wait(0.5):
        dead = first_exited(children)
        if dead is not None:
            # A Ctrl-C in a terminal reaches the children too; if one exits for that reason, our
            # own handler sets the event within moments. Only then is the exit expected.
            return None if stop.wait(0.5) else dead
    return None


def stop_children(children: Sequence[Child], timeout: float = 15.0) -> None:
    """Ask every child to stop (SIGTERM), wait up to ``timeout`` seconds in all, then kill."""
    for child in children:
        if child.exit_code is None:
            child.process.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
