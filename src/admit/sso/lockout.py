"""Pauses after repeated log-in failures on one username, growing with each failure.

Kept in the shared cache under the normalised username, so an unknown username is paused
exactly like a known one and the pause tells nobody whether an account exists. After
``lockout_after`` consecutive failures each further failure pauses log-in for
``lockout_seconds`` doubled per failure, at most ``lockout_max_seconds``. Asking for a reset
link or a new code does not clear the count; only a successful log-in does.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import cache

from admit.core import clock
from admit.core.ratelimit import RateLimited, cache_key


def _state_key(username_key: str) -> str:
    return cache_key("login-pause", username_key)


def ensure_not_paused(username_key: str) -> bool:
    """Refuse while the username is paused; True when it has failures on record."""
    if not settings.ADMIT_POLICY.rate_limits.enabled:
        return False
    state = cache.get(_state_key(username_key))
    if state and state["until"] > clock.now().timestamp():
        raise RateLimited(math.ceil(state["until"] - clock.now().timestamp()), "log-in paused")
    return bool(state)


def record_failure(username_key: str) -> None:
    rules = settings.ADMIT_POLICY.login
    key = _state_key(username_key)
    failures = (cache.get(key) or {"failures": 0})["failures"] + 1
    now = clock.now().timestamp()
    until = now
    if failures >= rules.lockout_after:
        growth = 2 ** min(failures - rules.lockout_after, 32)
        until = now + min(rules.lockout_seconds * growth, rules.lockout_max_seconds)
    cache.set(key, {"failures": failures, "until": until}, timeout=rules.lockout_max_seconds * 2)


def clear(username_key: str) -> None:
    cache.delete(_state_key(username_key))
