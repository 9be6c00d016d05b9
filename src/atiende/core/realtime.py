"""The one door to real-time pushes (live inbox, collision warnings, chat).

Callers say what happened and who should hear it; the transport (Django Channels, with the Redis
layer when several processes must share events) stays behind this function.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def notify_on_commit(kind: str, data: dict[str, Any], audience: Iterable[str]) -> None:
    """After the current transaction commits, tell each group in ``audience`` that ``kind`` happened.

    Nothing is sent for a rolled-back change. A failing transport is logged, never raised: the
    change is already committed and clients resynchronise on their next load.
    """
    groups = list(audience)

    def send() -> None:
        try:
            from asgiref.sync import async_to_sync
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            if layer is None:
                return
            message = {"type": "atiende.event", "kind": kind, "data": data}
            for group in groups:
                async_to_sync(layer.group_send)(group, message)
        except Exception:
            logger.exception("real-time notice %s to %s was not delivered", kind, groups)

    transaction.on_commit(send)
