"""Django settings, built from ``admit.config`` (admit.toml + ADMIT_* variables)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from csp.constants import NONE, SELF

from admit.config import ConfigError, load_deployment, load_policy

DEPLOYMENT = load_deployment(dict(os.environ))
ADMIT_POLICY = load_policy(DEPLOYMENT.config_path, create_missing=not DEPLOYMENT.config_named)
ADMIT_BASE_URL = DEPLOYMENT.base_url
ADMIT_DATA_DIR = DEPLOYMENT.data_dir

SECRET_KEY = DEPLOYMENT.secret_key
DEBUG = DEPLOYMENT.debug
ALLOWED_HOSTS = (
    ["*"] if DEBUG else [urlsplit(ADMIT_BASE_URL).hostname or "localhost", "127.0.0.1", "localhost"]
)
if extra_hosts := os.environ.get("ADMIT_ALLOWED_HOSTS"):
    ALLOWED_HOSTS += [host.strip() for host in extra_hosts.split(",") if host.strip()]

INSTALLED_APPS = [
    "admit.console.apps.ConsoleAdminConfig",  # Django's admin, behind the console's log-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the Swagger UI from its own static files, not a CDN
    "csp",  # django-csp: its system checks of CONTENT_SECURITY_POLICY
    "admit.core",
    "admit.audit",
    "admit.mail",
    "admit.confirmations",
    "admit.sso",
    "admit.sso.oidc",  # admit as an OpenID Connect provider, on django-oauth-toolkit
    "oauth2_provider",
    "admit.remote",
    "admit.console",
    "admit.web",
]

MIDDLEWARE = [
    # First: REMOTE_ADDR and X-Forwarded-Proto are settled before anything reads them.
    "admit.http.proxy.TrustedProxyMiddleware",
    "admit.http.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "admit.http.headers.ContentSecurityPolicyMiddleware",
    "admit.http.proxy.QueryStringLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "admit.http.middleware.PagesOnlySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "admit.http.middleware.PagesOnlyCsrfViewMiddleware",
    "admit.http.middleware.PagesOnlyAuthenticationMiddleware",
    "admit.http.middleware.PagesOnlyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The admin looks for Django's own session, auth and message middleware by class, and the
# deploy checks for its CSRF middleware (security.W003); admit runs them for every page through
# its PagesOnly wrappers (admit.http.middleware), which they cannot see.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W003"]

ROOT_URLCONF = "admit.urls"
WSGI_APPLICATION = "admit.wsgi.application"
AUTH_USER_MODEL = "sso.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The remote log-in pages (admit/remote/jinja2/), rendered with using="jinja2".
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "admit.web.jinja_environment.environment"},
    },
]


def _database(url: str) -> dict[str, Any]:
    if not url:
        DEPLOYMENT.data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DEPLOYMENT.data_dir / 'admit.sqlite3'}"
    try:
        # No health check (a "SELECT 1" before each request's first query): it was a round
        # trip on every request. A connection that died while idle fails one request with a
        # 503 (``admit.api``), and Django replaces it for the next.
        parsed = dj_database_url.parse(url, conn_max_age=600)
        config: dict[str, Any] = dict(parsed)
    except ValueError as exc:
        raise ConfigError(f"ADMIT_DATABASE_URL is not a database URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock up front
        # so two writers queue on busy_timeout instead of failing on a lock upgrade.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
        config["TEST"] = {"NAME": str(DEPLOYMENT.data_dir / "test.sqlite3")}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by the server, and psycopg's own prepared statements: a statement
        # run a second time on a connection is prepared, so PostgreSQL parses and plans the
        # hot paths' statements once per connection (admit.core.sql). Django turns them off
        # by default for the sake of connection poolers: docs/operators.md says which work.
        options = config.setdefault("OPTIONS", {})
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 1)
    return config


DATABASES = {"default": _database(DEPLOYMENT.database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if DEPLOYMENT.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEPLOYMENT.redis_url,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "admit_cache",
        }
    }

PASSWORD_HASHERS = [
    "admit.sso.hashers.OwaspArgon2PasswordHasher",
    "admit.sso.hashers.ClientSecretHasher",  # OIDC client secrets only: see its docstring
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]


def _email(url: str) -> dict:
    if not url:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(DEPLOYMENT.data_dir / "outbox"),
        }
    parts = urlsplit(url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"ADMIT_SMTP_URL has a bad port: {exc}") from exc
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": options.get("starttls", "false").lower() in ("1", "true", "yes"),
        "EMAIL_TIMEOUT": 10,
    }


globals().update(_email(DEPLOYMENT.smtp_url))
DEFAULT_FROM_EMAIL = DEPLOYMENT.email_from

# Request bodies: the API takes small JSON documents; anything larger is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = ADMIT_BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = [ADMIT_BASE_URL]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Behind a reverse proxy (docs/operators.md): admit believes X-Forwarded-For and
# X-Forwarded-Proto only from the addresses in ADMIT_TRUSTED_PROXY (admit.http.proxy drops
# X-Forwarded-Proto from everyone else, so the header below cannot be forged by a client).
ADMIT_TRUSTED_PROXIES = DEPLOYMENT.trusted_proxies
if ADMIT_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if ADMIT_BASE_URL.startswith("https://"):
    # Sent only on requests that came over TLS, so a plain-HTTP start is never pinned.
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # No "preload": a site that sends it consents to anyone submitting its domain to the
    # browsers' built-in list, which is the decision of whoever owns the registrable domain.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
    # HTTP -> HTTPS redirects need to know which requests came over TLS: with https in
    # ADMIT_BASE_URL, `admit serve` speaks plain HTTP to a TLS proxy, which says so in
    # X-Forwarded-Proto only when ADMIT_TRUSTED_PROXY names it (else every request would be
    # redirected, in a loop). /health stays on plain HTTP for load balancers and probes.
    SECURE_SSL_REDIRECT = bool(ADMIT_TRUSTED_PROXIES)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]

# The pages need no inline script or style and no other origin (tests/web/test_headers.py);
# /api/docs adds data: images, the cookie-less JSON API goes without (admit.http.headers).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the apps' static folders directly: no collectstatic step to forget.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ADMIT_LOG_LEVEL", "INFO")},
    # django.request would repeat each 4xx with its path; admit.request logs every request once.
    # Below INFO these libraries log secrets: oauthlib the tokens it issues and the codes and
    # refresh tokens presented, django-oauth-toolkit a client's Basic header, Django's
    # database layer every statement's parameters (digests, TOTP keys). They stay at INFO
    # whatever ADMIT_LOG_LEVEL says (tests/oidc/test_audit.py).
    "loggers": {
        "django.request": {"level": "ERROR"},
        **{name: {"level": "INFO"} for name in ("oauthlib", "oauth2_provider", "django.db")},
    },
}

# admit as an OpenID Connect provider (admit.sso.oidc, docs/oidc.md): django-oauth-toolkit with
# its models swapped for admit's (every token belongs to an admit session), the code flow only,
# PKCE with S256, rotating refresh tokens with reuse detection, tokens stored as digests.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oidc.Client"
OAUTH2_PROVIDER_GRANT_MODEL = "oidc.Grant"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oidc.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oidc.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oidc.IDToken"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ADMIT_BASE_URL,
    "OAUTH2_VALIDATOR_CLASS": "admit.sso.oidc.validator.Validator",
    "SCOPES": {
        "openid": "Who you are",
        "profile": "Your username and name",
        "email": "Your e-mail address",
    },
    "DEFAULT_SCOPES": ["openid"],
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": ADMIT_POLICY.oidc.access_token_lifetime,
    "ID_TOKEN_EXPIRE_SECONDS": ADMIT_POLICY.oidc.access_token_lifetime,
    "REFRESH_TOKEN_EXPIRE_SECONDS": ADMIT_POLICY.oidc.refresh_token_lifetime,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ACCESS_TOKEN_GENERATOR": "admit.sso.oidc.issuing.new_token",
    "REFRESH_TOKEN_GENERATOR": "admit.sso.oidc.issuing.new_token",
    "CLIENT_SECRET_HASHER": "admit_client_secret_sha256",
    "ALLOWED_REDIRECT_URI_SCHEMES": [
        "https",
        "http",
    ],  # http: loopback only (admit.sso.oidc.clients)
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,  # ending the admit session deletes them
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": False,  # URIs match exactly anyway
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}
SILENCED_SYSTEM_CHECKS.append("oauth2_provider.W008")
