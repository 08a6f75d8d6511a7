"""Django settings for DMP Portal.

Everything comes from environment variables (documented in ``.env.example``). With nothing set,
the portal runs on its embedded default: SQLite, files on local disk, e-mail printed to the
console, local-memory cache. ``DEBUG`` is off unless ``DJANGO_DEBUG`` asks for it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from dmp_portal.env import (
    FRANCECONNECT_SCOPES,
    OIDC_ACR_LEVELS,
    PSC_SCOPES,
    env_bool,
    env_database,
    env_int,
    env_list,
    env_oid,
    env_oidc_app,
    env_redis_url,
    env_str,
)

# Django's generic classes (ModelAdmin[Model], ModelChoiceField[Model], BaseFormSet[Form]) are
# written with their type arguments for mypy --strict; this makes them subscriptable at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DMP_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
# The embedded default (quick start, tests) may run without a SECRET_KEY; production may not.
EMBEDDED = env_bool("DMP_EMBEDDED", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it (50+ random characters) or, for a local "
            "demonstration only, DMP_EMBEDDED=1."
        )
    SECRET_KEY = "insecure-embedded-default-key-never-use-in-production-" + "x" * 20
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if (DEBUG or EMBEDDED) else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: list the host names, comma-separated.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    # Pro Santé Connect and FranceConnect: allauth's OpenID Connect provider, with the
    # portal's stricter checks (identity.oidc); no app is configured unless the environment
    # names an issuer.
    "allauth.socialaccount.providers.openid_connect",
    "guardian",
    "storages",
    "django_tasks_db",  # the database task backend (DMP_TASK_BACKEND=database)
    "oauth2_provider",
    "dmp_portal",
    "identity",
    "records",
    "imaging",
]

MIDDLEWARE = [
    # First: every request gets its id, and one log line when it is answered (dmp_portal/logs.py).
    "dmp_portal.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the portal's own process (compressed, hashed, cached for a year), so
    # that DEBUG off still has its CSS and JavaScript without another server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dmp_portal.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "records.sso.ActingStructureMiddleware",
    "records.family.ActingForMiddleware",
    "dmp_portal.middleware.RateLimitedMiddleware",
    "dmp_portal.middleware.SessionTimeoutMiddleware",
    "dmp_portal.middleware.ProfessionalSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dmp_portal.urls"
WSGI_APPLICATION = "dmp_portal.wsgi.application"
ASGI_APPLICATION = "dmp_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dmp_portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", str(VAR_DIR / "dmp.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Backups (manage.py dmp_backup): JSON with times to the microsecond (the trail's digests).
SERIALIZATION_MODULES = {"dmpjson": "dmp_portal.serializers"}

# --- Cache (rate limits, sessions' helpers) ---------------------------------------------------
_REDIS_URL = env_redis_url("REDIS_URL")
if _REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _REDIS_URL,
            "KEY_PREFIX": "dmp",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication -----------------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    # allauth's, loading the professional profile with the user (identity/backends.py).
    "identity.backends.AuthenticationBackend",
    # Guardian's backend answers object permissions; clinical access never goes through
    # user.has_perm (see records/access.py), this only lets guardian's shortcuts work.
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_MONKEY_PATCH_USER = False
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "identity.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_FORMS = {"signup": "identity.forms.ProfessionalSignupForm"}
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[DMP] "
# Rate limits use the configured cache (Redis in production, so every worker shares them).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "5/5m/ip,5/5m/key",
    "signup": "10/h/ip",
    "reset_password": "5/h/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "3/m/key",
    "reauthenticate": "10/m/user",
}
# Activation codes of the opening letter (records:activation), on the same cache, in fixed
# windows: every attempt counts per client address; failures count per date of birth and over
# everyone, because a wrong code matches no row on which failures could be counted. Legitimate
# failures (typos) run at a few per hour; a guess spread over many addresses meets these.
DMP_ACTIVATION_WINDOW = 15 * 60  # seconds; also the Retry-After of a refusal
DMP_ACTIVATION_LIMITS = {"address": 10, "birth_date": 10, "everyone": 200}
# Retry-After of allauth's refusals (RateLimitedMiddleware): the failed-login window, the limit
# people meet; a hint to clients and monitoring (allauth does not say which limit it hit).
DMP_RATE_LIMIT_RETRY_AFTER = 5 * 60
# Passkeys (WebAuthn) are a second factor and, on their own, a password-less login (a passkey
# is possession plus the device's lock: allauth then asks no other factor); recovery codes stay.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_WEBAUTHN_USER_VERIFICATION = "required"
MFA_TOTP_ISSUER = "DMP Portal"
MFA_RECOVERY_CODE_COUNT = 10
MFA_RATE_LIMITS = {"mfa_authenticate": "5/m/ip,10/5m/key"}

# --- Pro Santé Connect (professionals) and FranceConnect (patients) ------------------------
# Both are OpenID Connect providers, off unless their issuer is set. The required level
# (``acr``) is asked for and checked: a login below it is refused. See .env.example.
SOCIALACCOUNT_ADAPTER = "records.sso.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never match an account by an e-mail claim
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ONLY = False
DMP_OIDC_ACR_LEVELS = OIDC_ACR_LEVELS
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "provider_class": "identity.oidc.provider.SanteConnectProvider",
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            *env_oidc_app("DMP_PSC", "psc", "Pro Santé Connect", PSC_SCOPES),
            *env_oidc_app("DMP_FC", "franceconnect", "FranceConnect", FRANCECONNECT_SCOPES),
        ],
    }
}

# --- Sessions and cookies -----------------------------------------------------------------
SESSION_ENGINE = "identity.sessions"  # the database store, its read kept compiled
SESSION_COOKIE_AGE = 12 * 3600  # absolute lifetime; idle limits are in SessionTimeoutMiddleware
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
DMP_IDLE_TIMEOUT_PROFESSIONAL = env_int("DMP_IDLE_TIMEOUT_PROFESSIONAL", 15 * 60, minimum=60)
DMP_IDLE_TIMEOUT_PATIENT = env_int("DMP_IDLE_TIMEOUT_PATIENT", 30 * 60, minimum=60)
DMP_ABSOLUTE_TIMEOUT = env_int("DMP_ABSOLUTE_TIMEOUT", 12 * 3600, minimum=300)

# --- Security headers -----------------------------------------------------------------------
SECURE_HTTPS = env_bool("DMP_HTTPS", not (DEBUG or EMBEDDED))
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS and env_bool("DMP_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DMP_HSTS_SECONDS", 31_536_000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DMP_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if env_bool("DMP_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe the health URLs over plain HTTP, inside the network.
SECURE_REDIRECT_EXEMPT = [r"^sante/"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_SECURE = SECURE_HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and private files --------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic gathers them for production; the embedded default serves the source
# folders (WHITENOISE_USE_FINDERS below) and collects nothing.
STATIC_ROOT = None if (DEBUG or EMBEDDED) else VAR_DIR / "static"
# Private storage: never served by a public URL; every download goes through a checked view.
MEDIA_ROOT = VAR_DIR / "private"
# No URL serves this prefix: private files are streamed by permission-checked views only.
MEDIA_URL = "/_private_not_served/"
DMP_S3_BUCKET = env_str("DMP_S3_BUCKET")
if DMP_S3_BUCKET:
    _s3_options: dict[str, object] = {
        "bucket_name": DMP_S3_BUCKET,
        "default_acl": "private",
        "querystring_auth": True,
        "querystring_expire": env_int("DMP_S3_URL_EXPIRE", 60, minimum=10, maximum=3600),
        "file_overwrite": False,
        "object_parameters": {"ServerSideEncryption": "AES256"},
    }
    for _option, _variable in (
        ("endpoint_url", "DMP_S3_ENDPOINT_URL"),
        ("region_name", "DMP_S3_REGION"),
        ("access_key", "DMP_S3_ACCESS_KEY_ID"),
        ("secret_key", "DMP_S3_SECRET_ACCESS_KEY"),
        ("location", "DMP_S3_PREFIX"),
    ):
        if env_str(_variable):
            _s3_options[_option] = env_str(_variable)
    if not env_bool("DMP_S3_SSE", True):
        _s3_options.pop("object_parameters")
    _private_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": _s3_options,
    }
else:
    _private_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _private_storage,
    # Production: `manage.py collectstatic` writes hashed names and their gzip (and Brotli,
    # where installed) versions, which WhiteNoiseMiddleware serves with a year of caching.
    # The embedded default serves the source folders as they are, without collectstatic.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or EMBEDDED)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 500
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# The OHIF viewer's prebuilt dist/ (bin/install-ohif), served behind login at /ohif/ when there.
DMP_OHIF_DIR = env_str("DMP_OHIF_DIR", str(VAR_DIR / "ohif" / "dist"))

# The ANS's CDA validation material (ansforge/TestContenuCDA-3-0: CDA_extended.xsd and the
# CI-SIS schematrons; no licence, so not shipped; .ci/run fetches it). When there, every CDA
# document deposited must pass the schema, the header schematron and its volet's (CR-BIO);
# absent, those are not checked (the deposit form says so). records.cda.ans.
DMP_ANS_CDA_DIR = env_str("DMP_ANS_CDA_DIR", str(VAR_DIR / "ans-cda"))
# Never written to: the XSLT generated from its schematrons is kept here (records.cda.ans).
DMP_ANS_CDA_CACHE_DIR = env_str("DMP_ANS_CDA_CACHE_DIR", str(VAR_DIR / "cache" / "ans-cda"))
# The portal's identifiers in the CDA documents and XDS metadata it produces (records.cda): the
# custodian (a structure identifier under the national structures' OID 1.2.250.1.71.4.2.2, e.g.
# "3" + the hosting structure's FINESS, and its name) and the sourceId of its XDS submission
# sets (an OID). The defaults are placeholders a deployment with registered identifiers
# replaces: a local id, the portal's name, and the portal's OID under the UUID arc 2.25
# (ISO/IEC 9834-8: unique without registration).
DMP_CDA_CUSTODIAN_ID = env_str("DMP_CDA_CUSTODIAN_ID", "DMP-PORTAL")
DMP_CDA_CUSTODIAN_NAME = env_str("DMP_CDA_CUSTODIAN_NAME", "DMP Portal")
DMP_XDS_SOURCE_OID = env_oid("DMP_XDS_SOURCE_OID", "2.25.119693359917262625933066418302118268177")

# Imaging uploads: size caps (bytes). Files awaiting an identity confirmation are staged in
# the private storage (imaging.uploads.STAGING_PREFIX), seen by every web server.
DMP_IMAGING_MAX_UPLOAD_BYTES = env_int(
    "DMP_IMAGING_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1024**2, maximum=16 * 1024**3
)
DMP_IMAGING_MAX_FILE_BYTES = env_int(
    "DMP_IMAGING_MAX_FILE_BYTES", 512 * 1024**2, minimum=1024**2, maximum=4 * 1024**3
)
# Previews and viewer images are drawn in render worker processes (imaging/render_pool.py):
# how many per web or task process, and the time limit of one render (seconds).
DMP_IMAGING_RENDER_WORKERS = env_int("DMP_IMAGING_RENDER_WORKERS", 2, minimum=1, maximum=32)
DMP_IMAGING_RENDER_TIMEOUT = env_int("DMP_IMAGING_RENDER_TIMEOUT", 10, minimum=1, maximum=300)
# Data memory (MiB) one render worker may hold: past it the render fails (aperçu indisponible)
# and the worker is replaced. A 4096² 16-bit frame with its tables needs about 300 MiB.
DMP_IMAGING_RENDER_MEMORY_MB = env_int(
    "DMP_IMAGING_RENDER_MEMORY_MB", 1024, minimum=256, maximum=65536
)

# --- Access trail checkpoints (records/trail.py) ---------------------------------------------
# The Ed25519 private key that signs the trail's checkpoints, as 64 hex digits: a key of its
# own, required in production; the embedded default derives one from SECRET_KEY.
DMP_TRAIL_SIGNING_KEY = env_str("DMP_TRAIL_SIGNING_KEY").lower()
if not DMP_TRAIL_SIGNING_KEY:
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured(
            "DMP_TRAIL_SIGNING_KEY is not set. Set it to 64 random hex digits: "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    DMP_TRAIL_SIGNING_KEY = hashlib.sha256(f"dmp-trail-signing:{SECRET_KEY}".encode()).hexdigest()
elif not re.fullmatch(r"[0-9a-f]{64}", DMP_TRAIL_SIGNING_KEY):
    raise ImproperlyConfigured("DMP_TRAIL_SIGNING_KEY must be 64 hex digits (32 bytes).")
# Where the signed checkpoints are appended: outside the database, ideally a volume the
# database's host cannot write (append-only, or shipped elsewhere).
DMP_TRAIL_CHECKPOINT_DIR = env_str("DMP_TRAIL_CHECKPOINT_DIR", str(VAR_DIR / "trail-checkpoints"))

# The access funnel keeps its one-statement fetches compiled (identity/prepared.py); with this
# on, each fetch also builds its queryset afresh and requires the same SQL (the test suite).
DMP_FUNNEL_CHECK = env_bool("DMP_FUNNEL_CHECK", False)

# The HTTP benchmark's baseline page (bench/bench_http.py): 404 unless set. Never in production.
DMP_BENCH_PAGES = env_bool("DMP_BENCH_PAGES", False)

# --- Background tasks (Django's tasks framework) --------------------------------------------
# "immediate" (embedded default): a task runs at once, in the request that enqueued it.
# "database": django-tasks-db; tasks wait in the database for `manage.py db_worker` (a service
# next to the web workers, sharing their file storage), off the request path.
_TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
_TASK_BACKEND = env_str("DMP_TASK_BACKEND", "immediate")
if _TASK_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured("DMP_TASK_BACKEND must be 'immediate' or 'database'.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_TASK_BACKEND]}}
# A pending preview older than this (its task lost: a worker killed mid-series) is enqueued
# again by `manage.py sweep_imaging_orphans`, unless a live task still holds it.
DMP_IMAGING_PREVIEW_RETRY_SECONDS = env_int(
    "DMP_IMAGING_PREVIEW_RETRY_SECONDS", 600, minimum=60, maximum=86400
)

# --- E-mail ---------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "DMP Portal <no-reply@dmp.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_EMAIL_HOST = env_str("EMAIL_HOST")
if _EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST,
                "port": env_int("EMAIL_PORT", 587, minimum=1, maximum=65535),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# --- Logging: never patient identifiers; Django's request logger stays at WARNING -----------
_LOG_LEVEL = env_str("DMP_LOG_LEVEL", "INFO").upper()
if _LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured("DMP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
# One JSON object per line in production (dmp_portal/logs.py: one line per request with its
# request id); plain lines for the embedded default. DMP_LOG_FORMAT=json|plain chooses.
_LOG_FORMAT = env_str("DMP_LOG_FORMAT", "plain" if (DEBUG or EMBEDDED) else "json").lower()
if _LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("DMP_LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "dmp_portal.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": _LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {"django.request": {"level": "WARNING"}},
}
ADMINS: list[tuple[str, str]] = []

# --- The FHIR API: OAuth 2.0 (django-oauth-toolkit) -------------------------------------------
# Software is registered by an administrator (admin, "Applications"); authorization code with
# PKCE only; the user logs in through the portal's own login (second factor included) and
# approves the software; SMART v2 scopes (records/api_auth.py). Access tokens are short-lived,
# refresh tokens rotate and a reused one revokes the whole family; tokens and client secrets
# are stored hashed (the toolkit's RFC 9700 token storage).
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int(
        "DMP_API_ACCESS_TOKEN_SECONDS", 15 * 60, minimum=60, maximum=3600
    ),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int(
        "DMP_API_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600, minimum=3600
    ),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "SCOPES_BACKEND_CLASS": "records.api_auth.SmartScopes",
    "OAUTH2_VALIDATOR_CLASS": "records.api_auth.TokenValidator",
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # RFC 9700 (OAuth 2.0 Security BCP), every gate enforced: no implicit or password grant,
    # PKCE with S256 only, the token in the Authorization header only, tokens stored hashed
    # (only their SHA-256 is kept), ``iss`` in the authorization response, refresh token
    # reuse detection and exact redirect URIs.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
# Requests per minute and per access token (429 beyond, with Retry-After).
DMP_API_RATE_PER_MINUTE = env_int("DMP_API_RATE_PER_MINUTE", 600, minimum=1)
