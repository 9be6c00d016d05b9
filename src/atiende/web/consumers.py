"""The workspace's live connection (``/ws/live/``): new conversations and messages without a
reload, notices to one person, and who else is on a conversation (collision, CV6).

Groups a connection joins
    ``brand.<id>``        every brand where the user may see conversations; actions publish each
                          conversation change there (``core.realtime.notify_on_commit``).
    ``user.<id>``         notices for this person only: ``note.mentioned`` (``add_internal_note``
                          with mentions). It carries the ``brand`` and ``conversation`` it is
                          about; the consumer adds the conversation's ``url`` (found through the
                          scoped query, so an invisible one drops the notice) for the toast.
    ``conversation.<id>`` presence, joined only after the user asked to ``watch`` a conversation
                          and the scoped query found it visible.

What is forwarded
    An ``atiende.event`` carries one event (kind, data); an ``atiende.events``, several for the
    same group in order (a worker's batch: ``core.realtime.layer_messages``), each forwarded
    on its own. Each event is checked again here before it leaves: its ``brand`` must be one the user may see
    conversations in (an event without one is dropped), and note events (``note.*``) need the
    right to read internal notes in that brand, so a BPO client's viewer never learns that a note
    was written. The rights are read when the connection opens and read
    again, at most every ``ACCESS_TTL`` seconds, when an event or a client message arrives; a
    role removed or a session signed out therefore takes effect within that time (the groups are
    left, watched conversations dropped, a signed-out connection closed with 4401).

Memberships are renewed
    A group membership in the channel layer does not last: channels_redis forgets it after a
    day (``group_expiry``), and all of them go when Redis restarts or loses its keys. A tab
    left open would then hear nothing, and nothing would tell the agent. So each connection
    asks itself, every ``MEMBERSHIP_RENEWAL`` seconds, to join its groups again (joining is
    idempotent and renews the membership) and to re-read the user's rights, which also closes
    an idle connection whose session was signed out. The request goes through the connection's
    own channel, so it is handled in turn with events and browser messages, never beside them.

Presence is asked of the group, not stored
    A watcher that joins ``conversation.<id>`` announces itself ("viewing") with its channel name
    as ``reply_to``; every watcher already there answers that channel directly with its own
    state. So the newcomer learns who is there from the watchers themselves, through the channel
    layer — across processes when the layer is Redis — and nothing can go stale in a store when a
    process dies. The other half of that is a heartbeat: browsers send ``watch`` again every
    ``live.js`` heartbeat (30 s), which re-announces "viewing", and forget a watcher not heard from
    in 75 s. "left" is announced on ``unwatch`` and on disconnect. A person's own other tabs are
    not "others" and are not shown to them.

Messages from the browser: ``{"type": "watch" | "unwatch" | "typing", "conversation": <id>}``.
Messages to the browser: ``{"kind": "ready"}``, ``{"kind": <event kind>, "data": {...}}``,
``{"kind": "presence", "conversation", "watcher", "user", "state": "viewing" | "typing" |
"left"}`` and ``{"kind": "error", "code", "conversation"?}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.urls import reverse

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.brands.queries import brands_visible_to
from atiende.conversations.queries import conversations_visible_to

logger = logging.getLogger(__name__)

# 4xxx close codes are the application's own; 4401 tells live.js to stop reconnecting.
CLOSE_UNAUTHENTICATED = 4401
# Seconds between re-reads of a connected user's rights (roles, active account, session).
ACCESS_TTL = 60.0
# Seconds between a connection's renewals of its group memberships (see the module docstring):
# how long a tab stays deaf after Redis lost its keys. The rights are re-read that often anyway
# on a connection that hears events (ACCESS_TTL), so a minute costs a few group joins more.
MEMBERSHIP_RENEWAL = 60.0
# A browser sends "typing" at most every 3 s; this bounds a misbehaving one.
TYPING_INTERVAL = 2.0
# Conversations one connection may watch at once (a page watches one).
MAX_WATCHED = 10
NOTE_KIND_PREFIX = "note."
NOTICE_KINDS = frozenset({"note.mentioned"})


@dataclass(frozen=True)
class Access:
    """What a connected user may see, by brand, read at ``read_at`` (monotonic seconds)."""

    user_id: int
    name: str
    view: frozenset[int]
    notes: frozenset[int]
    work: frozenset[int]
    read_at: float = field(default_factory=time.monotonic)

    @property
    def groups(self) -> set[str]:
        return {f"brand.{brand_id}" for brand_id in self.view} | {f"user.{self.user_id}"}

    def may_receive(self, kind: str, data: dict[str, Any]) -> bool:
        brand_id = data.get("brand")
        if brand_id not in self.view:
            return False
        return not kind.startswith(NOTE_KIND_PREFIX) or brand_id in self.notes


def _brands_where(user: Any, capability: str) -> frozenset[int]:
    brand_ids = brand_ids_with(user, capability)
    if brand_ids is None:
        brand_ids = set(brands_visible_to(user).values_list("pk", flat=True))
    return frozenset(brand_ids)


@database_sync_to_async
def _access_of(user: Any) -> Access:
    return Access(
        user_id=user.pk,
        name=user.full_name or user.email,
        view=_brands_where(user, Capability.VIEW_CONVERSATIONS),
        notes=_brands_where(user, Capability.VIEW_INTERNAL_NOTES),
        work=_brands_where(user, Capability.WORK_CONVERSATIONS),
    )


@database_sync_to_async
def _url_of_visible_conversation(user: Any, conversation_id: Any) -> str | None:
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
        return None
    found = (
        conversations_visible_to(user)
        .filter(pk=conversation_id)
        .values_list("brand__slug", "number")
        .first()
    )
    if found is None:
        return None
    return reverse("web:conversation", kwargs={"brand_slug": found[0], "number": found[1]})


@database_sync_to_async
def _brand_of_visible_conversation(user: Any, conversation_id: int) -> int | None:
    return (
        conversations_visible_to(user)
        .filter(pk=conversation_id)
        .values_list("brand_id", flat=True)
        .first()
    )


async def _user_of_session(session_key: str | None) -> Any:
    """The user a session still signs in, read afresh (a signed-out session is anonymous)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return await get_user({"session": store})


def _conversation_id(content: Any) -> int | None:
    value = content.get("conversation") if isinstance(content, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab's live connection; see the module docstring for the protocol."""

    access: Access
    watcher: str
    joined: set[str]
    watching: dict[int, int]  # conversation id -> brand id
    last_typing: dict[int, float]
    renewal: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.joined = set()
        self.watching = {}
        self.last_typing = {}
        if user is None or not user.is_authenticated:
            # Accepted first so that the close code reaches the browser (a refused handshake
            # carries none) and live.js knows not to retry.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.watcher = secrets.token_urlsafe(9)
        self.access = await _access_of(user)
        await self._join(self.access.groups)
        await self.accept()
        await self.send_json({"kind": "ready"})
        self.renewal = asyncio.create_task(self._ask_for_renewals())

    async def disconnect(self, code: int) -> None:
        if self.renewal is not None:
            self.renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.renewal
        for conversation_id in list(self.watching):
            await self._unwatch(conversation_id)
        await self._leave(set(self.joined))

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if not text_data:
            await self.send_json({"kind": "error", "code": "bad_request"})
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not hasattr(self, "access") or not await self._access_is_current():
            return
        kind = content.get("type") if isinstance(content, dict) else None
        conversation_id = _conversation_id(content)
        if kind not in {"watch", "unwatch", "typing"} or conversation_id is None:
            await self.send_json({"kind": "error", "code": "bad_request"})
        elif kind == "watch":
            await self._watch(conversation_id)
        elif kind == "unwatch":
            await self._unwatch(conversation_id)
        else:
            await self._typing(conversation_id)

    # --- events from the channel layer ---------------------------------------------------------

    async def atiende_event(self, message: dict[str, Any]) -> None:
        if not hasattr(self, "access") or not await self._access_is_current():
            return
        await self._forward(message.get("kind"), message.get("data"))

    async def atiende_events(self, message: dict[str, Any]) -> None:
        """Several events for one group, sent together (``core.realtime.layer_messages``):
        each checked and forwarded on its own, in order."""
        if not hasattr(self, "access") or not await self._access_is_current():
            return
        events = message.get("events")
        for event in events if isinstance(events, list) else ():
            if isinstance(event, dict):
                await self._forward(event.get("kind"), event.get("data"))

    async def _forward(self, kind: Any, data: Any) -> None:
        if not (isinstance(kind, str) and isinstance(data, dict)):
            return
        if not self.access.may_receive(kind, data):
            return
        if kind in NOTICE_KINDS:
            url = await _url_of_visible_conversation(self.user, data.get("conversation"))
            if url is None:
                return
            anchor = f"#message-{data['message']}" if isinstance(data.get("message"), int) else ""
            data = {**data, "url": url + anchor}
        await self.send_json({"kind": kind, "data": data})

    async def _ask_for_renewals(self) -> None:
        while True:
            await asyncio.sleep(MEMBERSHIP_RENEWAL)
            try:
                await self.channel_layer.send(self.channel_name, {"type": "atiende.renew"})
            except Exception:
                # Redis away: the next renewal, once it is back, restores the memberships.
                logger.warning("live connection: could not ask for a renewal", exc_info=True)

    async def atiende_renew(self, message: dict[str, Any]) -> None:
        """Join every group again and re-read the rights (module docstring: renewal)."""
        if await self._access_is_current(reread=True):
            await self._join(set(self.joined))

    async def atiende_presence(self, message: dict[str, Any]) -> None:
        conversation_id = message["conversation"]
        if conversation_id not in self.watching or message["watcher"] == self.watcher:
            return
        if message.get("reply_to"):
            await self.channel_layer.send(
                message["reply_to"], self._presence(conversation_id, "viewing")
            )
        if message["user_id"] == self.access.user_id:
            return
        await self.send_json(
            {
                "kind": "presence",
                "conversation": conversation_id,
                "watcher": message["watcher"],
                "user": message["user"],
                "state": message["state"],
            }
        )

    # --- presence -------------------------------------------------------------------------------

    def _presence(self, conversation_id: int, state: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "atiende.presence",
            "conversation": conversation_id,
            "watcher": self.watcher,
            "user_id": self.access.user_id,
            "user": self.access.name,
            "state": state,
            **extra,
        }

    async def _watch(self, conversation_id: int) -> None:
        group = f"conversation.{conversation_id}"
        if conversation_id in self.watching:  # the heartbeat: still here
            await self.channel_layer.group_send(group, self._presence(conversation_id, "viewing"))
            return
        if len(self.watching) >= MAX_WATCHED:
            await self.send_json(
                {"kind": "error", "code": "too_many", "conversation": conversation_id}
            )
            return
        brand_id = await _brand_of_visible_conversation(self.user, conversation_id)
        if brand_id is None or brand_id not in self.access.view:
            await self.send_json(
                {"kind": "error", "code": "not_found", "conversation": conversation_id}
            )
            return
        self.watching[conversation_id] = brand_id
        await self._join({group})
        await self.channel_layer.group_send(
            group, self._presence(conversation_id, "viewing", reply_to=self.channel_name)
        )

    async def _unwatch(self, conversation_id: int) -> None:
        if self.watching.pop(conversation_id, None) is None:
            return
        self.last_typing.pop(conversation_id, None)
        group = f"conversation.{conversation_id}"
        await self._leave({group})
        await self.channel_layer.group_send(group, self._presence(conversation_id, "left"))

    async def _typing(self, conversation_id: int) -> None:
        brand_id = self.watching.get(conversation_id)
        if brand_id is None or brand_id not in self.access.work:
            return
        now = time.monotonic()
        if now - self.last_typing.get(conversation_id, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        self.last_typing[conversation_id] = now
        await self.channel_layer.group_send(
            f"conversation.{conversation_id}", self._presence(conversation_id, "typing")
        )

    # --- rights and groups ----------------------------------------------------------------------

    async def _access_is_current(self, *, reread: bool = False) -> bool:
        """Re-read the user's rights when they are older than ACCESS_TTL (or ``reread``); False
        (and the connection closed) once the session no longer signs the user in."""
        if not reread and time.monotonic() - self.access.read_at < ACCESS_TTL:
            return True
        user = await _user_of_session(self.scope["session"].session_key)
        if not user.is_authenticated or user.pk != self.access.user_id:
            for conversation_id in list(self.watching):
                await self._unwatch(conversation_id)
            await self._leave(set(self.joined))
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        self.user = user
        self.access = await _access_of(user)
        await self._leave(self.joined - self.access.groups - self._watch_groups())
        await self._join(self.access.groups - self.joined)
        for conversation_id, brand_id in list(self.watching.items()):
            if brand_id not in self.access.view:
                await self._unwatch(conversation_id)
        return True

    def _watch_groups(self) -> set[str]:
        return {f"conversation.{conversation_id}" for conversation_id in self.watching}

    async def _join(self, groups: set[str]) -> None:
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined |= groups

    async def _leave(self, groups: set[str]) -> None:
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined -= groups
