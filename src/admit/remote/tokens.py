"""Signed log-in links: who is logging in, for which server and realm, where to, until when.

A token is ``django.core.signing`` output under its own salt, valid
``[remote] login_token_max_age`` seconds. It carries a nonce; a token that completed a log-in
is recorded as spent and refused afterwards, so a leaked link cannot be replayed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing

from admit.core import clock

SALT = "admit.remote.login-link"


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    server_uuid: str
    realm_uuid: str | None  # None: the server-level log-in
    user_uuid: str | None
    email: str
    full_name: str
    uri_scheme: str
    next_page: str | None
    authenticated_at: float
    nonce: str

    @property
    def authenticated(self) -> datetime:
        return datetime.fromtimestamp(self.authenticated_at, tz=clock.now().tzinfo)


def new_identity(**fields: object) -> Identity:
    return Identity(**fields, authenticated_at=clock.now().timestamp(), nonce=secrets.token_hex(16))  # type: ignore[arg-type]


def sign(identity: Identity) -> str:
    # Every field is a plain value: its own dict, not asdict()'s recursive deep copy. Not
    # compressed: zlib sets up a quarter of a megabyte of state per call to save a link about
    # 30% of its few hundred characters, which no browser or mail client minds.
    return signing.dumps(vars(identity), salt=SALT)


def max_age() -> timedelta:
    return timedelta(seconds=settings.ADMIT_POLICY.remote.login_token_max_age)


def read(token: str) -> Identity:
    """The identity in ``token``; its age is counted from ``authenticated_at``, which the
    signature covers, on admit's clock."""
    try:
        identity = Identity(**signing.loads(token, salt=SALT))
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise TokenInvalid from exc
    if clock.now() - identity.authenticated > max_age():
        raise TokenExpired
    return identity


def url(identity: Identity) -> str:
    return f"{settings.ADMIT_BASE_URL}/remote-login/{sign(identity)}/"
