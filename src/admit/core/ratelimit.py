"""Rate limits and log-in pauses, counted in the cache that every worker process shares
(the database cache by default, Redis when ADMIT_REDIS_URL is set).

Windows are fixed: ``[count, seconds]`` allows ``count`` events per window. Keys are hashed
so that no address or username is written to the cache in clear.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.core.cache import cache

from admit.audit.log import AuditEntry
from admit.core import clock
from admit.core.errors import AdmitError, Code


class RateLimited(AdmitError):
    def __init__(self, retry_after: int, what: str):
        super().__init__(Code.NOT_ALLOWED, f"rate limit: {what}", http_status=429)
        self.retry_after = max(1, retry_after)


def cache_key(bucket: str, subject: str) -> str:
    return f"admit:{bucket}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def _window(limit: tuple[int, int]) -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    seconds = max(1, limit[1])
    now = clock.now().timestamp()
    return int(now // seconds), math.ceil(seconds - now % seconds)


def _enabled() -> bool:
    return bool(settings.ADMIT_POLICY.rate_limits.enabled)


def check(bucket: str, subject: str, limit: tuple[int, int]) -> None:
    """Refuse when ``subject`` has used up ``limit`` in this window; counts nothing."""
    if not _enabled():
        return
    window, left = _window(limit)
    if (cache.get(f"{cache_key(bucket, subject)}:{window}") or 0) >= limit[0]:
        raise RateLimited(left, bucket)


def count(bucket: str, subject: str, limit: tuple[int, int]) -> None:
    """Count one event against ``limit``."""
    if not _enabled():
        return
    window, left = _window(limit)
    key = f"{cache_key(bucket, subject)}:{window}"
    cache.add(key, 0, timeout=left + 1)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first of a new window
        cache.set(key, 1, timeout=left + 1)


def hit(bucket: str, subject: str, limit: tuple[int, int], audit: AuditEntry) -> None:
    """Check, then count: for events limited whether they succeed or not.

    The database cache shares the flow's transaction, so a refused flow would roll its own
    count back; the count is made again after the rollback through ``audit.after_refusal``.
    """
    check(bucket, subject, limit)
    count(bucket, subject, limit)
    audit.after_refusal.append(lambda: count(bucket, subject, limit))
