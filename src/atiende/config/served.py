"""The ASGI application as ``atiende serve`` loads it in each server process: ``config/asgi.py``'s,
with every object loaded by then frozen out of the garbage collector's reach, and the process's
place in the table through which several workers even out their connections claimed at once (a
worker that holds no connection yet must count in the even share, or it would never be given
one). See ``core/serving.py``. Tests and other servers import ``config/asgi.py`` and do neither."""

from atiende.config.asgi import application
from atiende.core.serving import connection_table, freeze_loaded_application

connection_table()
freeze_loaded_application()

__all__ = ["application"]
