"""ASGI entry point: HTTP through Django's WSGI handler on a fixed pool of threads, WebSockets
through Channels.

Every view is synchronous. Django's own ASGI handler runs each request in a thread of its own
(a new thread, a new database connection, several hops between the event loop and the thread);
handing HTTP to the WSGI handler on ``HTTP_THREADS`` long-lived threads per process instead
(core/wsgi_threads.py) lets each thread keep its database connection and costs two hops per
request (measured: bench/README.md, "API under load"). The event loop still parses HTTP and
serves the WebSockets.

WebSocket routes are collected from the apps that provide them: the workspace's live connection
(``web/routing.py``). A path no app routes is refused.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atiende.config.settings")
django_application = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from atiende.core.wsgi_threads import WsgiOnThreads  # noqa: E402
from atiende.web.routing import websocket_urlpatterns as workspace_routes  # noqa: E402

websocket_urlpatterns = [*workspace_routes]

application = ProtocolTypeRouter(
    {
        "http": WsgiOnThreads(
            django_application,
            threads=settings.HTTP_THREADS,
            max_body_bytes=settings.HTTP_MAX_BODY_BYTES,
        ),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
