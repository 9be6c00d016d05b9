"""WebSocket routes of the agent workspace (mounted by ``config/asgi.py``)."""

from django.urls import path

from atiende.web.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi(), name="live"),
]
