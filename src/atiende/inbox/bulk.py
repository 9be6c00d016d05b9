"""Bulk actions of the inbox: one existing action per selected conversation.

Each conversation is changed by its own action in its own transaction, so one refused row (a
status it cannot move to, a brand where the user may not assign) is reported by itself and the
others are still done. Nothing here writes a model directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from atiende.accounts.models import Team, User
from atiende.conversations import actions as conversation_actions
from atiende.conversations.lifecycle import TransitionNotAllowed
from atiende.conversations.models import Conversation


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _reason(error: Exception) -> str:
    if isinstance(error, PermissionDenied):
        return _("you may not do this in its brand")
    if isinstance(error, TransitionNotAllowed):
        return _("its status cannot change that way")
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    raise error


def _each(
    conversations: Sequence[Conversation],
    result: BulkResult,
    change: Callable[[Conversation], Any],
) -> BulkResult:
    for conversation in conversations:
        try:
            change(conversation)
        except (PermissionDenied, ValidationError, TransitionNotAllowed) as error:
            result.failed.append((conversation.reference, _reason(error)))
        else:
            result.done.append(conversation.reference)
    return result


def assign_all(
    conversations: Sequence[Conversation],
    *,
    actor: User,
    assignee: User | None = None,
    team: Team | None = None,
) -> BulkResult:
    """To a person (keeping the team), or to a team's queue (no one in it yet)."""

    def assign(conversation: Conversation) -> Any:
        if team is not None:
            return conversation_actions.assign_conversation(
                conversation=conversation, actor=actor, assignee=None, team=team
            )
        return conversation_actions.assign_conversation(
            conversation=conversation, actor=actor, assignee=assignee
        )

    return _each(conversations, BulkResult(), assign)


def change_status_of_all(
    conversations: Sequence[Conversation], *, actor: User, status: str
) -> BulkResult:
    result = BulkResult()
    return _each(
        conversations,
        result,
        lambda conversation: conversation_actions.change_status(
            conversation=conversation, status=status, actor=actor
        ),
    )


def tag_all(conversations: Sequence[Conversation], *, actor: User, tag: str) -> BulkResult:
    """Add ``tag`` to each conversation, keeping the tags it has."""

    return _each(
        conversations,
        BulkResult(),
        lambda conversation: conversation_actions.set_conversation_tags(
            conversation=conversation, tags=[tag], actor=actor, keep=True
        ),
    )


def merge_all(conversations: Sequence[Conversation], *, actor: User) -> BulkResult:
    """Merge every selected conversation into the first one selected (the topmost in the list)."""
    result = BulkResult()
    if len(conversations) < 2:
        result.failed.extend(
            (conversation.reference, _("select at least two conversations to merge"))
            for conversation in conversations
        )
        return result
    target, *sources = conversations
    return _each(
        sources,
        result,
        lambda source: conversation_actions.merge_conversations(
            source=source, target=target, actor=actor
        ),
    )
