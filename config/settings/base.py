"""Settings shared by every environment; everything that varies comes from the
environment (django-environ), so one code path serves the embedded quick start
and production.

Embedded default (nothing set): SQLite in ``var/`` and Celery over kombu's
filesystem transport, also in ``var/``. Production: set ``DATABASE_URL`` and
``CELERY_BROKER_URL`` and use ``config.settings.production``.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is a convenience for developers; real deployments set variables.
env.read_env(BASE_DIR / ".env", overwrite=False)

# Runtime state of the embedded mode (database, broker queues); git-ignored.
VAR_DIR = Path(env.str("SHELTERS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------

# Off unless explicitly set: a forgotten variable must never expose debug pages.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Development-only fallback; production.py refuses to start without a real one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_celery_beat",
    "axes",
    "csp",
    "shelters",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    # First: request latency for Prometheus, timing every middleware below it.
    "config.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shelters.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records the request's user on every history row written by the admin.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Content-Security-Policy header (see Security below).
    "csp.middleware.CSPMiddleware",
    # Login throttling; django-axes wants its middleware last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "shelters.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the embedded mode: WAL lets
    # readers proceed during a write, IMMEDIATE transactions and a busy timeout
    # make concurrent writers wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not memory) so that a real Celery worker started by a test can
    # open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Cache ------------------------------------------------------------------

# API throttling counts requests here: with several web processes it must be a
# shared cache (Redis) or each process counts on its own.
CACHE_URL = env.str("CACHE_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
SHARED_CACHE = CACHE_URL.startswith(("redis://", "rediss://"))
# Pages of the sites list (the read partners poll most) are kept this long in
# the cache, and dropped at once when a site or a latest estimate changes
# (services bump a version after commit). Only with a shared cache: with one
# cache per process a worker's change could not reach the web processes.
SITES_LIST_CACHE_SECONDS = env.int("SITES_LIST_CACHE_SECONDS", default=300 if SHARED_CACHE else 0)

# --- Authentication ---------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
# Our catalogue first (it wins where both translate a string), then Arabic for
# third-party apps that ship none (django-celery-beat's admin: count report
# schedules link to its periodic tasks). makemessages writes to the first.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_vendor"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders, so the quick start needs no
# collectstatic; production runs collectstatic and sets this off.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
MEDIA_ROOT = env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# --- REST API ---------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Partners: "Authorization: Token <token>" (stored hashed, expiring; knox).
        "api.authentication.TokenAuthentication",
        # Staff in the browsable API.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle", "rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_RATE_PER_TOKEN", default="600/minute"),
        "anon": env.str("API_RATE_ANONYMOUS", default="60/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_DAYS", default=365)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shelter tracking API",
    "DESCRIPTION": "Sites, population reports, departure notices, aid distributions and reconciled estimates.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the project's own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "GradeEnum": "shelters.models.sources.Grade",
        "CountReportStatusEnum": "shelters.models.count_reports.CountReport.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.allow_empty_query_parameters",
    ],
}
# A hard ceiling on request bodies (bytes): a bulk of 1,000 reports fits easily.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
# Bulk endpoints accept at most this many items per request.
API_MAX_BULK_ITEMS = env.int("API_MAX_BULK_ITEMS", default=1000)
# Sex/age cells below this are suppressed when shown to another organisation.
API_SMALL_CELL_THRESHOLD = env.int("API_SMALL_CELL_THRESHOLD", default=5)

# --- Celery -----------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")


def filesystem_broker_options(folder: Path) -> dict:
    """kombu's filesystem transport, with its queues under ``folder``."""
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {
        # One folder for both directions: producers and consumers share it.
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }


if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task: an unacknowledged message is redelivered
        # after this long, so a shorter value would run a slow task twice.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # How often a worker looks for messages whose consumer died (seconds,
        # times the throttle): they come back once older than the visibility timeout.
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    }
# Results are written to the database by the tasks themselves; no result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task ran, and requeue if the worker died under it:
# tasks are idempotent, so a redelivery is safe and a lost task is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables when beat starts; editable in the admin.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "shelters.tasks.record_heartbeat",
        "schedule": env.float("SHELTERS_HEARTBEAT_SECONDS", default=60.0),
    },
    # Every site, every night: extends each series to the new day, relearns
    # source reliability, and repairs anything a lost message missed.
    "nightly-reconciliation": {
        "task": "shelters.tasks.reconcile_all",
        "schedule": crontab(hour=env.int("SHELTERS_NIGHTLY_HOUR_UTC", default=1), minute=30),
    },
    "requeue-stale-reconciliations": {
        "task": "shelters.tasks.requeue_stale_reconciliations",
        "schedule": 300.0,
    },
    "requeue-lost-webhook-deliveries": {
        "task": "webhooks.tasks.requeue_lost_deliveries",
        "schedule": 300.0,
    },
}
# For tests and one-off scripts only: run tasks in-process instead of queueing.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Attempts after the first before a failing task is set aside (FailedTask, in the admin),
# and the base of the exponential wait between them (seconds).
SHELTERS_TASK_MAX_RETRIES = env.int("SHELTERS_TASK_MAX_RETRIES", default=6)
SHELTERS_TASK_RETRY_BACKOFF = env.int("SHELTERS_TASK_RETRY_BACKOFF", default=2)

# --- Logging ----------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint narrates every PDF at INFO; axes announces itself at every start (and
    # operator commands must print one line on error).
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Security -----------------------------------------------------------------

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one
# username from one IP address, that pair is refused for AXES_COOLOFF_MINUTES
# (HTTP 429 with a plain message). A successful login clears the count; staff
# can also clear it by deleting the "Access attempts" in the admin, or with
# `manage.py axes_reset`. API tokens (knox) never go through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials before checking them
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_COOLOFF_MESSAGE = _(
    "Too many failed logins for this account from your address. Wait a few minutes and try again, "
    "or ask an administrator to unlock it."
)


def _origin(url: str) -> str:
    """scheme://host[:port] of a tile URL template; a {s} subdomain becomes a wildcard."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}.", "__sub__."))
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.replace('__sub__.', '*.')}"


_TILE_ORIGIN = _origin(env.str("SHELTERS_MAP_TILE_URL", default=""))

# Content-Security-Policy (django-csp): only the project's own scripts run (no
# inline script, no CDN); inline styles are allowed because the admin uses them.
# Images may also come from the map's tile server when one is set.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", *([_TILE_ORIGIN] if _TILE_ORIGIN else [])],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Project ----------------------------------------------------------------

# Organisation that owns what staff enter and what the operator commands import
# when no --organization is given.
SHELTERS_DEFAULT_ORGANIZATION = env.str("SHELTERS_DEFAULT_ORGANIZATION", default="local-staff")
# Files with more rows than this show a progress bar on import.
SHELTERS_PROGRESS_MIN_ROWS = env.int("SHELTERS_PROGRESS_MIN_ROWS", default=500)

# --- E-mail (count reports to subscribed staff) ----------------------------------

# The console backend prints messages to the worker's log: the embedded default
# needs no mail server. Production sets an SMTP URL, e.g. smtp+tls://user:pass@host:587.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shelters@localhost")
SHELTERS_EMAIL_SUBJECT_PREFIX = env.str("SHELTERS_EMAIL_SUBJECT_PREFIX", default="Shelters")

# --- Map in the admin -----------------------------------------------------------

# Tiles are fetched by the staff member's browser. Empty: no background map (the
# sites still show, placed by their coordinates) — for offline offices and tests.
# For OpenStreetMap: https://tile.openstreetmap.org/{z}/{x}/{y}.png
SHELTERS_MAP_TILE_URL = env.str("SHELTERS_MAP_TILE_URL", default="")
SHELTERS_MAP_TILE_ATTRIBUTION = env.str("SHELTERS_MAP_TILE_ATTRIBUTION", default="&copy; OpenStreetMap contributors")

# --- Observability --------------------------------------------------------------

# /healthz/workers answers 503 when no worker has run beat's heartbeat task for
# this long: three intervals by default, so one late beat is not an outage.
SHELTERS_WORKER_MAX_SILENCE_SECONDS = env.float(
    "SHELTERS_WORKER_MAX_SILENCE_SECONDS", default=3 * CELERY_BEAT_SCHEDULE["worker-heartbeat"]["schedule"]
)
# /metrics: with a token, "Authorization: Bearer <token>" from anywhere; without, loopback only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# "json": one JSON object per log line (config/logging.py) for log shippers; anything else is plain.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").strip().lower()
LOGGING["formatters"]["json"] = {"()": "config.logging.JsonFormatter"}
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"
# Load balancers and Prometheus probe over plain HTTP inside the network: a
# redirect to HTTPS (production's SECURE_SSL_REDIRECT) would fail their checks.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/workers)?$", r"^metrics$"]
