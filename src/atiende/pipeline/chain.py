"""Stages of the service chain and the rules for ordering them (PL1).

A stage is a small function over an :class:`InboundContext`. It declares which context fields it
reads and which it writes; a chain (an ordered list of stage names) is valid only if every field a
stage reads is written by an earlier stage or is given at the start. Like a packet passing a
firewall and then deep inspection, an inbound message runs the stages in order, and any stage may
finish it early (a duplicate, an automatic reply).

Channel plug-ins and later features (SLA, routing, triggers) register their stages here; a brand
orders them in its ServiceChain, or gets the channel's default order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# What every chain starts with: the stored raw message and where it belongs.
GIVEN = frozenset({"inbound", "raw", "brand", "channel"})


@dataclass
class InboundContext:
    """What the stages know about one inbound message so far.

    Stages set attributes named in their ``writes``. :meth:`conclude` records what became of the
    message and lets later stages run (acknowledge, SLA, routing); :meth:`finish` also ends the
    chain after the current stage (a duplicate, an automatic reply, a bounce).
    """

    inbound: Any
    raw: bytes
    brand: Any
    channel: str
    values: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""
    stopped: bool = False
    # What stages noticed on the way, in words (a dropped attachment, a broken header...).
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(f"No stage has set {name!r} yet") from None

    def set(self, **values: Any) -> None:
        self.values.update(values)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def conclude(self, outcome: str) -> None:
        self.outcome = outcome

    def finish(self, outcome: str, note: str = "") -> None:
        self.outcome = outcome
        self.stopped = True
        if note:
            self.notes.append(note)


StageFunction = Callable[[InboundContext], None]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFunction
    reads: frozenset[str]
    writes: frozenset[str]
    # The channels this stage applies to; empty for every channel.
    channels: frozenset[str] = frozenset()
    description: str = ""


# Reads a batch's rows of one channel before its first message runs, to answer many messages'
# lookups with a few set-based queries (see process_inbound_batch). It may only read; what it
# finds it leaves in the batch's memo for the channel's stages, which must give the same result
# without it (a preparer that fails is logged and the stages query one message at a time).
BatchPreparer = Callable[[Sequence[Any]], None]


class ChainError(ValueError):
    """A chain that cannot run: an unknown stage, a repeat, or a stage before what it needs."""


_stages: dict[str, Stage] = {}
_default_orders: dict[str, tuple[str, ...]] = {}
_batch_preparers: dict[str, BatchPreparer] = {}


def register_stage(stage: Stage) -> None:
    existing = _stages.get(stage.name)
    if existing is not None and existing != stage:
        raise ValueError(f"Stage {stage.name!r} is already registered differently")
    _stages[stage.name] = stage


def set_default_order(channel: str, names: Sequence[str]) -> None:
    validate(channel, names)
    _default_orders[channel] = tuple(names)


def set_batch_preparer(channel: str, preparer: BatchPreparer) -> None:
    _batch_preparers[channel] = preparer


def batch_preparer(channel: str) -> BatchPreparer | None:
    return _batch_preparers.get(channel)


def stage(name: str) -> Stage:
    try:
        return _stages[name]
    except KeyError:
        raise ChainError(f"There is no stage called {name!r}") from None


def default_order(channel: str) -> tuple[str, ...]:
    try:
        return _default_orders[channel]
    except KeyError:
        raise ChainError(f"The {channel!r} channel has no service chain") from None


def validate(channel: str, names: Iterable[str]) -> list[Stage]:
    """The stages of ``names`` in order, or ChainError saying which dependency the order breaks."""
    available = set(GIVEN)
    seen: set[str] = set()
    ordered = []
    for name in names:
        current = stage(name)
        if name in seen:
            raise ChainError(f"Stage {name!r} appears twice")
        if current.channels and channel not in current.channels:
            raise ChainError(f"Stage {name!r} does not apply to the {channel} channel")
        missing = sorted(current.reads - available)
        if missing:
            raise ChainError(
                f"Stage {name!r} needs {', '.join(missing)}, which no earlier stage provides"
            )
        available |= current.writes
        seen.add(name)
        ordered.append(current)
    if not ordered:
        raise ChainError("A service chain needs at least one stage")
    return ordered
