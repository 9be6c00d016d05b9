"""Who performs an action: a staff user, or the system on behalf of a channel or a task."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemActor:
    """The platform itself acting: an inbound channel, a scheduled task, a demo seeder.

    Passed explicitly (never implied by ``None``) so that a forgotten actor is a type error, not
    a silent bypass of the permission check.
    """

    label: str

    @property
    def is_authenticated(self) -> bool:
        return False


def system_actor(label: str = "system") -> SystemActor:
    return SystemActor(label=label)
