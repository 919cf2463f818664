"""Seedbed settings: one module, read from the environment (django-environ).

Development defaults are safe for a laptop; `DEBUG=false` with real secrets passes
`manage.py check --deploy`. Bad values fail loudly at start-up.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `make run` writes generated secrets here on first start; the real environment wins.
env.read_env(BASE_DIR / ".local" / "env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-change-me" if DEBUG else None)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "apps.core",
    "apps.specs",
    "apps.runs",
    "apps.datasets",
    "apps.inference",
    "apps.withpi",
    "apps.collinear",
    "apps.dataframer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.api_paths.api_trailing_slash_middleware",
    "apps.core.badinput.BadInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "apps.core.context_processors.current_project",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://seedbed@127.0.0.1:54329/seedbed"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A web process keeps open connections in a pool (psycopg_pool through Django's "pool"
# option): opening one costs ~6 ms on 2 cores, on every request otherwise. Off by default:
# Celery's Django fixup closes a prefork worker's pool around every task, so only the web
# process gains from one, and the Procfile turns it on there.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=0)
if DATABASE_POOL_SIZE:
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise environ.ImproperlyConfigured(
            "Set DATABASE_POOL_SIZE or CONN_MAX_AGE, not both: pooled connections are "
            "returned to the pool after each request."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 10,  # seconds a request waits for a free connection before failing
    }
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise environ.ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (15 or newer).")

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` writes here (make run does at every start) and WhiteNoise serves it
# with hashed names and far-future caching when DEBUG is off.
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media"))
MEDIA_URL = "media/"
FORMS_URLFIELD_ASSUME_HTTPS = True
# The largest body the API's limits allow: 1,000 texts of 20,000 characters to label
# (~20 MB as JSON). File uploads stream to disk and are not counted.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=24 * 1024 * 1024)

# Provider API keys are encrypted at rest (django-fernet-encrypted-fields). Keys are
# derived from SECRET_KEY and these salts; prepend a new salt to rotate.
SALT_KEY = env.list("FIELD_ENCRYPTION_SALTS", default=["seedbed-dev-salt"] if DEBUG else None)

# --- Security hardening (active when DEBUG is off) -----------------------------------
# HTTPS: Seedbed is reached over TLS (directly or behind a proxy that sets
# X-Forwarded-Proto). On by default in production; `make run` turns it off, since it
# serves plain HTTP on loopback. Each setting below can still be set on its own.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",  # depth, NaN and NUL checked: apps/core/inputs.py
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.SeedbedAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seedbed API",
    "DESCRIPTION": "Synthetic training-data generation: specs, runs, datasets, inference.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: a file field is then an upload (binary)
    # in the request, and "Try it out" offers a file picker.
    "COMPONENT_SPLIT_REQUEST": True,
    # Group operations by resource (datasets, runs, ...), whether under /api/v1/ or the
    # Pioneer-compatible paths at the root.
    "SCHEMA_PATH_PREFIX": r"/(api/v1/)?",
    # Several models have a `status` or `task_type` with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "TaskTypeEnum": "apps.specs.models.TaskType",
        "RunStatusEnum": "apps.runs.models.RunStatus",
        "SpecVersionStatusEnum": "apps.specs.models.SpecVersionStatus",
        "ExportStatusEnum": "apps.datasets.models.ExportStatus",
        "DataframerSpecStatusEnum": "apps.dataframer.schemas.SPEC_STATUSES",
        "DataframerRunStatusEnum": "apps.dataframer.schemas.RUN_STATUSES",
    },
}

# --- Celery --------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# kombu's Redis transport with a fix that keeps the worker alive through a broker outage.
CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"
CELERY_RESULT_BACKEND = None  # the run row is the truth, never the result backend
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Tasks are short chunks; the hard limit stays well under the visibility timeout so a
# message is never redelivered while its task still runs.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Each kind of job names its queue when its steps are sent (apps/core/jobs.py).
CELERY_TASK_ROUTES: dict[str, dict] = {}
# A step of a job may take this long before it commits what it has and abandons what
# is still in flight (a chain of outline, draft, judge and revisions on a slow provider);
# the job step task's time limits sit above it and far below the visibility timeout.
RUN_STEP_MAX_SECONDS = env.float("RUN_STEP_MAX_SECONDS", default=600.0)
JOB_STEP_SOFT_TIME_LIMIT = int(RUN_STEP_MAX_SECONDS) + 300
# A run whose heartbeat is older than this is taken to have lost its worker and is resumed.
RUN_STALE_SECONDS = env.float("RUN_STALE_SECONDS", default=60.0)
# A chunk starts calls for this long, then commits; shorter means livelier pages.
RUN_CHUNK_SECONDS = env.float("RUN_CHUNK_SECONDS", default=5.0)
# A provider's Retry-After up to this many seconds is waited out inside the call; a longer
# one makes the run wait between chunks (no worker held, no call before that time).
RUN_RETRY_AFTER_IN_CALL_MAX = env.float("RUN_RETRY_AFTER_IN_CALL_MAX", default=5.0)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "job-reaper": {
        "task": "apps.core.tasks.job_reaper_task",
        "schedule": env.float("RUN_REAPER_INTERVAL", default=15.0),
    },
}

# --- Providers -----------------------------------------------------------------------
EMBEDDED_LLM_URL = env.str("EMBEDDED_LLM_URL", default="http://127.0.0.1:8765/v1")
EMBEDDED_LLM_MODEL = env.str("EMBEDDED_LLM_MODEL", default="smollm2-135m-instruct")
# host or host:port entries that may resolve to private/loopback addresses.
PROVIDER_HOST_ALLOWLIST = env.list(
    "PROVIDER_HOST_ALLOWLIST",
    default=[EMBEDDED_LLM_URL.split("//", 1)[1].split("/", 1)[0]],
)

# --- Inference gateway -----------------------------------------------------------------
# History rows are written in batches this often (a busy gateway writes one COPY per
# batch instead of one INSERT per call); queued rows are written at shutdown.
INFERENCE_HISTORY_FLUSH_SECONDS = env.float("INFERENCE_HISTORY_FLUSH_SECONDS", default=0.05)
# A history id the gateway handed out but has not written yet (a client asking for the
# row right after its call) is waited for this long before the answer is a 404.
INFERENCE_PENDING_WAIT_SECONDS = env.float("INFERENCE_PENDING_WAIT_SECONDS", default=2.0)

# --- Login lockout, request bodies, Content-Security-Policy ----------------------------
# These extend the lists above; AxesMiddleware goes last, as django-axes requires.
INSTALLED_APPS += ["axes", "csp"]
MIDDLEWARE += ["csp.middleware.CSPMiddleware", "axes.middleware.AxesMiddleware"]
# django-axes checks the lockout before any other backend sees the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per (username, address) pair, so a stranger guessing someone's
# password cannot lock that person out everywhere. The database handler keeps counts
# through a Redis restart, shows them in the admin, and `axes_reset` clears them all
# (the cache handler cannot).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The address is REMOTE_ADDR, which uvicorn takes from X-Forwarded-For only when the
# proxy's address is in its FORWARDED_ALLOW_IPS (loopback by default).

# The largest body of any request outside the gateway, file uploads included (dataset
# imports go up to 50 MB); see apps/core/bodylimit.py.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=64 * 1024 * 1024)

# Scripts and styles only from this site's own files: no inline script, no eval (htmx runs
# with allowEval off). Inline style *attributes* stay allowed for the label bars' widths
# and hues; they cannot run code. The API docs page relaxes style-src (apps/core/docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},
}
