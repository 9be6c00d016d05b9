"""Settings for the test suite: the real settings with what tests must control overridden."""

import os

from atiende.config.settings import *  # noqa: F403
from atiende.config.settings import ALLOWED_HOSTS, DATABASES, HUEY, SQLITE_ENGINE, STORAGES

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
# Tasks run inline; the worker process itself is exercised by the demo test.
HUEY = {**HUEY, "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Hashed static names need collectstatic; tests serve the files as they are.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# whitenoise warns about a missing STATIC_ROOT on every request; tests serve from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Each test run (and each xdist worker, a process of its own) gets its own SQLite test database,
# so two runs in one checkout never share a file.
if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE:
    _test_name = DATABASES["default"]["TEST"]["NAME"]
    DATABASES["default"]["TEST"] = {
        "NAME": _test_name.replace(".sqlite3", f"-{os.getpid()}.sqlite3")
    }
