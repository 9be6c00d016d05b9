"""The conversation status lifecycle (CV2), in one place and in plain Python.

new → open → pending (waiting on the customer) → on hold (waiting on a third party) → solved →
closed. Every status change in the product is checked here; actions ask, they never decide.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    # Reopened by hand or by a customer reply; closing is final.
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    # A closed conversation is history: a new message starts a linked follow-up instead.
    Status.CLOSED: frozenset(),
}

# Statuses in which the case still needs work from us or from someone we wait for.
UNSOLVED = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})


class TransitionNotAllowed(ValueError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"A conversation cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return Status(target) in ALLOWED_TRANSITIONS[Status(current)]


def check_transition(current: str, target: str) -> Status:
    if not can_transition(current, target):
        raise TransitionNotAllowed(current, target)
    return Status(target)


def status_after_customer_message(current: str) -> Status | None:
    """The status a customer's new message moves a conversation to.

    ``None`` means the message cannot join this conversation (it is closed) and must start a
    follow-up. A customer answering while we wait on them, on a third party, or after we called
    it solved puts the case back in front of an agent.
    """
    status = Status(current)
    if status is Status.CLOSED:
        return None
    if status in {Status.PENDING, Status.ON_HOLD, Status.SOLVED}:
        return Status.OPEN
    return status


def status_after_agent_reply(current: str, requested: str | None = None) -> Status:
    """The status after an agent replies: the one they chose, else a new case becomes open."""
    status = Status(current)
    if requested is not None and requested != status:
        return check_transition(status, requested)
    if status is Status.NEW:
        return Status.OPEN
    if status is Status.CLOSED:
        raise TransitionNotAllowed(current, current)
    return status
