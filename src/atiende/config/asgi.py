"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSocket routes are collected from the apps that provide them: the workspace's live connection
(``web/routing.py``). A path no app routes is refused.
"""

import os
import warnings

from django.core.asgi import get_asgi_application

# whitenoise serves static files with a synchronous iterator; under ASGI Django warns about it on
# every file. Harmless here (the files are small and cached), so the warning is only noise.
warnings.filterwarnings(
    "ignore",
    message="StreamingHttpResponse must consume synchronous iterators",
    module="django.core.handlers.asgi",
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atiende.config.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from atiende.web.routing import websocket_urlpatterns as workspace_routes  # noqa: E402

websocket_urlpatterns = [*workspace_routes]

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
