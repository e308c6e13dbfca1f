"""Which admit session the codes and tokens being written belong to.

django-oauth-toolkit creates its grant, token and ID-token rows itself, deep inside oauthlib's
flow; it cannot be told about admit's session. The token endpoint
(``admit.sso.oidc.views``) opens an ``issuing()`` scope around django-oauth-toolkit's handling
of the request; the validator (``admit.sso.oidc.validator``) binds the session to it once it
has found the code or refresh token presented (``bind``), and the models read it when a row is
first saved (``models._SessionBound``). The scope is a context variable, set and reset around
the one request: nothing carries over to the next request on the thread.

The same scope collects what happened on the way (a reused code or refresh token), so that
the token endpoint writes those audit rows once the request is answered.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from admit.core import clock


@dataclass
class Issuing:
    session_id: int | None = None
    # The family of the tokens being issued: a code exchange's grant's, or the presented
    # refresh token's.
    family: uuid.UUID | None = None
    user_id: str = ""  # whose tokens (the audit row's target)
    events: list[tuple[str, str]] = field(default_factory=list)  # (event, user_id)
    # A refresh grant's client and presented token, read by the token endpoint before
    # oauthlib looks at the request (``queries.refresh_grant``); the validator takes them from
    # here instead of reading them again. A ``queries.RefreshGrantRead`` (queries imports
    # this module, so it is not named here).
    read: Any = None


_NOTHING = Issuing()
_current: ContextVar[Issuing] = ContextVar("admit_oidc_issuing", default=_NOTHING)


def current() -> Issuing:
    return _current.get()


@contextmanager
def issuing() -> Iterator[Issuing]:
    scope = Issuing()
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def bind(session_id: int, user_id: str, family: uuid.UUID | None = None) -> None:
    scope = _current.get()
    if scope is _NOTHING:
        raise RuntimeError("tokens are issued only inside an issuing() scope")
    scope.session_id, scope.user_id, scope.family = session_id, user_id, family


def note(event: str, user_id: str) -> None:
    """Record something the audit log must show (in the current scope, if any)."""
    scope = _current.get()
    if scope is not _NOTHING:
        scope.events.append((event, user_id))


def now() -> datetime:
    return clock.now()


def new_token(request: object) -> str:
    """An access or refresh token (django-oauth-toolkit's ``ACCESS_TOKEN_GENERATOR`` and
    ``REFRESH_TOKEN_GENERATOR``): 256 random bits, URL-safe, from one read of the system's
    random source. (oauthlib's default draws 30 characters one by one, about 178 bits, at a
    system call each.)"""
    return secrets.token_urlsafe(32)


def checksum(token: str) -> str:
    """How django-oauth-toolkit looks tokens up: by the SHA-256 of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
