"""Registering the OpenID Connect clients of the apps in ``[apps]``: the operator's side, used
by ``admit apps ...`` and the console.

A confidential client's secret is shown once, when it is made or rotated, and kept only as a
digest (``admit.sso.hashers.ClientSecretHasher``). Redirect URIs must be absolute, without a
fragment, and ``https`` -- or ``http`` on a loopback address (127.0.0.1, [::1], localhost),
for development and native apps; they match exactly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from oauth2_provider.generators import generate_client_id, generate_client_secret

from admit.audit.log import audited
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError, NotFound
from admit.sso.oidc import keys
from admit.sso.oidc.models import Client

MAX_URI = 2000
DISCOVERY_PATH = "/.well-known/openid-configuration"


def discovery_url() -> str:
    """Where an app finds admit's endpoints and keys: what the operator gives its developers."""
    return f"{settings.ADMIT_BASE_URL.rstrip('/')}{DISCOVERY_PATH}"


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  # empty for a public client


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_uri(uri: str, field: str) -> str:
    """One redirect URI as admit accepts it, or an InputError saying what is wrong."""

    def wrong(problem: str) -> InputError:
        return InputError(
            Code.INPUT_INVALID, f"{field}: {problem}", [{"field": field, "problem": problem}]
        )

    if not uri or len(uri) > MAX_URI:
        raise wrong(f"give an address of 1 to {MAX_URI} characters")
    if not uri.isprintable() or any(c.isspace() for c in uri) or not uri.isascii():
        raise wrong("no spaces, control or non-ASCII characters (percent-encode them)")
    try:
        parts = urlsplit(uri)  # raises on a malformed [IPv6] host
    except ValueError:
        raise wrong("not a valid address") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise wrong("must be an absolute https:// address")
    if parts.fragment or "#" in uri:
        raise wrong("must not have a #fragment")
    if "*" in uri:
        raise wrong("must not hold wildcards: addresses match exactly")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise wrong("http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://")
    return uri


def _check_algorithm(algorithm: str) -> None:
    """A client signs with an algorithm admit has a key in use for: an ES256 client with an
    ``ADMIT_OIDC_KEY`` of an RSA key alone would fail at every log-in."""
    if algorithm not in dict(Client.ALGORITHM_TYPES):
        problem = "RS256 or ES256"
    else:
        try:
            keys.signing(algorithm)  # the key in use, or KeyProblem saying what to add or fix
            return
        except keys.KeyProblem as exc:
            problem = str(exc)
    raise InputError(
        Code.INPUT_INVALID, f"algorithm: {problem}", [{"field": "algorithm", "problem": problem}]
    )


def _check_app(app: str) -> None:
    if app not in settings.ADMIT_POLICY.apps.all:
        known = ", ".join(settings.ADMIT_POLICY.apps.all)
        problem = f"not an app of [apps] all ({known})"
        raise InputError(
            Code.APP_INVALID, f"app {app!r}: {problem}", [{"field": "app", "problem": problem}]
        )


def add_client(
    app: str,
    redirect_uris: list[str],
    caller: Caller,
    *,
    post_logout_redirect_uris: tuple[str, ...] = (),
    public: bool = False,
    skip_consent: bool = False,
    algorithm: str = Client.RS256_ALGORITHM,
    refresh_id_token: bool = False,
    actor: str = "",
) -> NewClient:
    """``actor``: the super-user's id when one acts in the console (the CLI has none)."""
    with audited("oidc.client_add", caller, app=app) as audit:
        audit.actor_user_id = actor
        _check_app(app)
        if not redirect_uris:
            raise InputError(
                Code.INPUT_MISSING,
                "give at least one redirect URI",
                [{"field": "redirect_uri", "problem": "give at least one"}],
            )
        uris = [check_uri(uri, "redirect_uri") for uri in redirect_uris]
        logout_uris = [
            check_uri(uri, "post_logout_redirect_uri") for uri in post_logout_redirect_uris
        ]
        _check_algorithm(algorithm)
        secret = "" if public else generate_client_secret()
        client = Client(
            client_id=generate_client_id(),
            app=app,
            name=app,
            client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(dict.fromkeys(uris)),
            post_logout_redirect_uris=" ".join(dict.fromkeys(logout_uris)),
            client_secret=secret,
            hash_client_secret=True,
            skip_authorization=skip_consent,
            algorithm=algorithm,
            refresh_id_token=refresh_id_token,
        )
        client.save()
        audit.extra_data.update({"client_id": client.client_id, "public": public})
        return NewClient(client, secret)


def get_client(client_id: str) -> Client:
    client = Client.objects.filter(client_id=client_id).first()
    if client is None:
        raise NotFound(Code.INPUT_INVALID, f"no client {client_id!r}")
    return client


def list_clients() -> list[Client]:
    return list(Client.objects.order_by("app", "created"))


def rotate_secret(client_id: str, caller: Caller, *, actor: str = "") -> NewClient:
    """A new secret; the old one stops working at once."""
    with audited("oidc.client_rotate_secret", caller) as audit, transaction.atomic():
        audit.actor_user_id = actor
        client = get_client(client_id)
        audit.app = client.app
        audit.extra_data["client_id"] = client.client_id
        if client.is_public:
            raise AdmitError(Code.INVALID_OPERATION, "a public client has no secret")
        secret = generate_client_secret()
        client.client_secret = secret
        client.save(update_fields=["client_secret", "updated"])
        return NewClient(client, secret)


def remove_client(client_id: str, caller: Caller, *, actor: str = "") -> None:
    """The client goes, with its consents, codes and tokens."""
    with audited("oidc.client_remove", caller) as audit:
        audit.actor_user_id = actor
        client = get_client(client_id)
        audit.app = client.app
        audit.extra_data["client_id"] = client.client_id
        client.delete()


def return_address(path: str) -> str:
    """Where an ``/oidc/authorize/`` address of admit's own (``/login/``'s ``next``) would send
    the person back: its ``redirect_uri`` when registered for its ``client_id`` (or the client's
    only one when it names none); else "". The log-in page lets its form lead there."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or parts.path != reverse("oauth2_provider:authorize"):
        return ""
    query = parse_qs(parts.query)
    client = Client.objects.filter(client_id=query.get("client_id", [""])[0]).first()
    if client is None:
        return ""
    registered = client.redirect_uris.split()
    uri = query.get("redirect_uri", [""])[0]
    if not uri:
        return registered[0] if len(registered) == 1 else ""
    return uri if client.redirect_uri_allowed(uri) else ""


def describe(client: Client) -> dict[str, object]:
    """A client as ``admit apps list``/``show`` print it and the console's client page shows
    it; never its secret (admit has only a digest)."""
    return {
        "app": client.app,
        "client_id": client.client_id,
        "type": "public" if client.is_public else "confidential",
        "consent": "skipped" if client.skip_authorization else "asked",
        "redirect_uris": client.redirect_uris.split(),
        "post_logout_redirect_uris": client.post_logout_redirect_uris.split(),
        "algorithm": client.algorithm,
        "refresh_id_token": client.refresh_id_token,
        "created": client.created.isoformat(timespec="seconds"),
        "updated": client.updated.isoformat(timespec="seconds"),
        "consents": client.consents.count(),
    }
