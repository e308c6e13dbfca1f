"""The relying party's settings: mozilla-django-oidc pointed at a live admit.

Both sites run on 127.0.0.1 and a browser keeps cookies per host, not per port: this site's
cookies have names of their own so that it never overwrites admit's (``sessionid``)."""

import os

ADMIT = os.environ["RP_SITE_ADMIT"]  # admit's base URL, e.g. http://127.0.0.1:8001

SECRET_KEY = "rp-site-for-tests-only-" + "s" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.oidc.rp_site.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": []}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["RP_SITE_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
SESSION_COOKIE_NAME = "rp_sessionid"
CSRF_COOKIE_NAME = "rp_csrftoken"

AUTHENTICATION_BACKENDS = ["tests.oidc.rp_site.views.AdmitBackend"]
LOGIN_URL = "/oidc/authenticate/"
LOGIN_REDIRECT_URL = "/"
LOGIN_REDIRECT_URL_FAILURE = "/failed/"
LOGOUT_REDIRECT_URL = "/logged-out/"

OIDC_RP_CLIENT_ID = os.environ["RP_SITE_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = os.environ["RP_SITE_CLIENT_SECRET"]
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{ADMIT}/oidc/authorize/"
OIDC_OP_TOKEN_ENDPOINT = f"{ADMIT}/oidc/token/"
OIDC_OP_USER_ENDPOINT = f"{ADMIT}/oidc/userinfo/"
OIDC_OP_JWKS_ENDPOINT = f"{ADMIT}/oidc/jwks/"
OIDC_OP_LOGOUT_ENDPOINT = f"{ADMIT}/oidc/logout/"  # read by views.admit_logout_url
OIDC_OP_LOGOUT_URL_METHOD = "tests.oidc.rp_site.views.admit_logout_url"
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic, as docs/oidc.md recommends
OIDC_STORE_ID_TOKEN = True  # the logout's id_token_hint
OIDC_TIMEOUT = 30

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"mozilla_django_oidc": {"handlers": ["console"], "level": "DEBUG"}},
}
