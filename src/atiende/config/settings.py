"""Atiende's one settings module, driven by the environment.

With no environment at all it runs a complete instance on SQLite in ``./var``. Settings hold only
server capabilities and secrets; organisation policy (statuses, SLAs, routing...) lives in the
database. Every variable is listed in docs/configuration.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from atiende.config.environment import data_dir, env_bool, env_list, secret_key

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()

SECRET_KEY = secret_key(DATA_DIR)
DEBUG = env_bool("ATIENDE_DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "channels",
    "huey.contrib.djhuey",
    # Swagger UI's assets (/api/docs) are served from django-ninja's static files, not a CDN.
    "ninja",
    "atiende.core",
    "atiende.brands",
    "atiende.accounts",
    "atiende.customers",
    "atiende.channels",
    "atiende.channels.email",
    "atiende.pipeline",
    "atiende.conversations",
    "atiende.sla",
    "atiende.search",
    "atiende.api",
    "atiende.webhooks",
    "atiende.inbox",
    "atiende.web",
    "atiende.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "atiende.accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "atiende.config.urls"
WSGI_APPLICATION = "atiende.config.wsgi.application"
ASGI_APPLICATION = "atiende.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Django's SQLite backend, remembering its statements' placeholder conversion (see its module).
SQLITE_ENGINE = "atiende.core.sqlite"
# SQLite runs in WAL mode with IMMEDIATE transactions: writers queue on the database lock at
# BEGIN instead of failing half-way with "database is locked" when the web process and the
# workers write at once. synchronous=FULL syncs the log at every commit, as PostgreSQL does by
# default: a message is acknowledged (SMTP 250, a webhook's 2xx, an IMAP mail marked fetched)
# once stored, so its commit must survive a power cut, not only a crash of the process
# (NORMAL's promise). It costs one fsync per commit (about 0.3 ms a stored message on the bench
# machine, bench/README.md).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # A pool of connections per process, not persistent connections: it bounds what a process
    # holds whatever runs it (Django's ASGI handler, used by some tests and tools, gives every
    # request a thread of its own, where CONN_MAX_AGE left one idle connection per request until
    # PostgreSQL ran out of slots: bench/README.md, API under load).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("ATIENDE_DB_POOL_SIZE", "10")),
            "timeout": 20,
        }
        # Statements run through core/prepared.py (server-side binding) are prepared on their
        # connection after this many runs; every other statement binds on the client and is
        # never prepared. Off for a pooler that cannot carry prepared statements.
        preparing = env_bool("ATIENDE_DB_PREPARED_STATEMENTS", default=True)
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5 if preparing else None
        if preparing:
            # A prepared statement keeps one plan for every value. PostgreSQL's default plans it
            # anew on each run whenever a plan for the values at hand looks cheaper, and for the
            # inbox's counts it always did: milliseconds of planning for half a millisecond of
            # running (bench/README.md, "Workspace at a million conversations"). Only statements
            # whose plan does not depend on their values are prepared (core/prepared.py).
            connect_options = DATABASES["default"]["OPTIONS"]
            connect_options["options"] = (
                f"{connect_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
            )
    else:
        # A sqlite:/// URL (tests hand one to their child processes): the embedded settings.
        DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
else:
    DATABASES = {
        "default": {
            "ENGINE": SQLITE_ENGINE,
            "NAME": str(DATA_DIR / "atiende.sqlite3"),
            "OPTIONS": SQLITE_OPTIONS,
            # Tests use a file, not ":memory:", so that threads see one database in WAL mode,
            # as the web process and the workers do in production.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] in ("django.db.backends.sqlite3", SQLITE_ENGINE):
    DATABASES["default"]["ENGINE"] = SQLITE_ENGINE
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    # A connection per thread, kept: the web server's HTTP threads and the workers' threads are
    # long-lived (config/asgi.py), and a new SQLite connection costs the file's open, the
    # PRAGMAs and the parse of the whole schema on its first statement, about a third of a
    # small API request.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Threads per web server process that run HTTP requests (config/asgi.py).
HTTP_THREADS = int(os.environ.get("ATIENDE_HTTP_THREADS", "10"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, real time and background tasks ----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # A consumer waits for messages with a blocking BZPOPMIN of up to 5 s; redis-py 8 cuts any
    # read after 5 s by default, which tore every idle WebSocket down (channels_redis#422).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("ATIENDE_QUEUE_NAME", "atiende"),
        "url": REDIS_URL,
        "immediate": False,
        "utc": True,
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "atiende",
        "filename": str(DATA_DIR / "tasks.sqlite3"),
        "immediate": False,
        "utc": True,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
HUEY["consumer"] = {
    "workers": int(os.environ.get("ATIENDE_WORKER_THREADS", "2")),
    "worker_type": "thread",
}

# --- Accounts and login -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("ATIENDE_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Languages and time -----------------------------------------------------------------------
# The browser's Accept-Language picks between these until a user chooses one in their profile.
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and uploads -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# An attachment larger than this is refused with a clear error (a server capability: it bounds
# disk and memory per upload).
ATIENDE_MAX_ATTACHMENT_BYTES = int(
    os.environ.get("ATIENDE_MAX_ATTACHMENT_BYTES", str(25 * 1024 * 1024))
)
# A whole inbound message (its attachments encoded) larger than this is refused at the door.
ATIENDE_MAX_MESSAGE_BYTES = int(os.environ.get("ATIENDE_MAX_MESSAGE_BYTES", str(40 * 1024 * 1024)))
# The web server refuses (413) a request body larger than the largest thing a request may carry
# (a raw message, or an attachment in a form), before Django reads it.
HTTP_MAX_BODY_BYTES = max(ATIENDE_MAX_MESSAGE_BYTES, ATIENDE_MAX_ATTACHMENT_BYTES) + 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Outgoing mail ------------------------------------------------------------------------------
# Agents' email replies go through this SMTP server. Without ATIENDE_SMTP_HOST (the demo, a
# laptop) they are written as .eml files to ATIENDE_DATA_DIR/outbox, so nothing is sent by mistake.
EMAIL_HOST = os.environ.get("ATIENDE_SMTP_HOST", "")
EMAIL_PORT = int(os.environ.get("ATIENDE_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("ATIENDE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("ATIENDE_SMTP_PASSWORD", "")
EMAIL_USE_SSL = env_bool("ATIENDE_SMTP_SSL")
EMAIL_USE_TLS = env_bool("ATIENDE_SMTP_STARTTLS")
EMAIL_TIMEOUT = int(os.environ.get("ATIENDE_SMTP_TIMEOUT", "30"))
# Sender of Atiende's own notices to staff (SLA warnings...); replies to customers leave from
# each brand's address instead.
DEFAULT_FROM_EMAIL = os.environ.get("ATIENDE_NOTIFICATION_FROM", "Atiende <atiende@localhost>")
# Where people reach this installation (https://help.example.com): links in notices use it.
ATIENDE_PUBLIC_URL = os.environ.get("ATIENDE_PUBLIC_URL", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "outbox"

# --- API -----------------------------------------------------------------------------------------
# Requests allowed per token in each window of ATIENDE_API_RATE_WINDOW seconds (0: no limit),
# counted in the cache (shared through Redis when REDIS_URL is set); past it the API answers 429
# with Retry-After.
ATIENDE_API_RATE_LIMIT = int(os.environ.get("ATIENDE_API_RATE_LIMIT", "600"))
ATIENDE_API_RATE_WINDOW = int(os.environ.get("ATIENDE_API_RATE_WINDOW", "60"))

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ATIENDE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
