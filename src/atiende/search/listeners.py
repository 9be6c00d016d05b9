"""Keeping the index current: called inside the transaction of the action that wrote.

An index row therefore commits or rolls back with the change it mirrors; there is no nightly job
and no window in which a new message cannot be found.

Inside a batch (a worker processing many inbound messages in one transaction) the rows to rewrite
are collected and rewritten once at the batch's end, still inside its transaction: a few set-based
statements instead of a few per message. The rewrite reads everything from the tables it mirrors,
so a message whose savepoint rolled back leaves nothing to index, and a row written twice in the
batch is indexed as it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from atiende.conversations.events import ConversationEventType
from atiende.conversations.models import Conversation, ConversationEvent
from atiende.core.batching import write_at_batch_end
from atiende.customers.events import CustomerEventType
from atiende.customers.models import Customer, CustomerEvent
from atiende.search import index

# Events that add or change one message and nothing else that is indexed.
_ONE_MESSAGE = {
    ConversationEventType.MESSAGE_RECEIVED,
    ConversationEventType.MESSAGE_SENT,
    ConversationEventType.NOTE_ADDED,
}
# Events that change nothing indexed: status, channel and the like are read from the
# conversation itself when a search filters by them.
_NOTHING_INDEXED = {
    ConversationEventType.STATUS_CHANGED,
    ConversationEventType.PRIORITY_CHANGED,
    ConversationEventType.ASSIGNED,
    ConversationEventType.CATEGORIZED,
    ConversationEventType.TAGGED,
    ConversationEventType.DELIVERY_UPDATED,
}
_CUSTOMER_NOT_INDEXED = {
    # A new customer has no conversation yet whose document would name them.
    CustomerEventType.CREATED,
    CustomerEventType.ORDER_RECORDED,
    CustomerEventType.IDENTITY_FAILING,
    CustomerEventType.ORGANIZATION_CREATED,
}


def _message_ids(payload: Any) -> list[int]:
    if not isinstance(payload, dict):
        return []
    found = [payload.get("message")]
    listed = payload.get("messages")
    if isinstance(listed, list):
        found.extend(listed)
    return [value for value in found if isinstance(value, int) and not isinstance(value, bool)]


def _index(write: Callable[[Iterable[int]], None], ids: Iterable[int]) -> None:
    """``write(ids)`` now, or with the other ids of the batch at its end."""
    write_at_batch_end(("search", write.__name__), write, ids)


def on_conversation_event(conversation: Conversation, event: ConversationEvent) -> None:
    if event.type in _NOTHING_INDEXED:
        return
    if event.type in _ONE_MESSAGE and _message_ids(event.payload):
        _index(index.index_messages, _message_ids(event.payload))
        return
    # Created, merged, split, undone, or a kind of event this listener does not know: rewrite
    # the conversation's documents (its own and its messages') and any message the payload
    # names, which may now belong to another conversation (a new one's are all its own).
    _index(index.index_conversations, [conversation.pk])
    message_ids = _message_ids(event.payload)
    if message_ids and event.type != ConversationEventType.CREATED:
        _index(index.index_messages, message_ids)


def on_conversations_imported(conversations: Sequence[Conversation]) -> None:
    index.index_conversations(conversation.pk for conversation in conversations)


def on_customer_event(customer: Customer, event: CustomerEvent) -> None:
    if event.type in _CUSTOMER_NOT_INDEXED:
        return
    _index(index.index_conversations_of_customers, [customer.pk])
