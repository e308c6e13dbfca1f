"""Rate limits, counted where every worker process sees them: in Redis when
ADMIT_REDIS_URL is set, otherwise in a table of the database.

Windows are fixed: ``[count, seconds]`` allows ``count`` events per window. Keys are hashed
so that no address or username is stored in clear.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from admit.audit.log import AuditEntry
from admit.core import clock, rows
from admit.core.errors import AdmitError, Code
from admit.core.models import RateCount


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


def _uses_redis() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def _current(key: str, window: int) -> int:
    if _uses_redis():
        return cache.get(f"{key}:{window}") or 0
    # Written out, like the upsert below: on the sign-up path the ORM spent more time building
    # this query than the database spent answering it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count FROM {RateCount._meta.db_table} WHERE subject = %s AND slot = %s",  # noqa: S608
            [key, window],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def _add_one(key: str, window: int, left: int) -> None:
    """One atomic increment: Redis's INCR, or one upsert in the database.

    (Django's database cache would take seven queries and lose counts under concurrency:
    its ``incr`` is a read and a write.)"""
    if _uses_redis():
        cache.add(f"{key}:{window}", 0, timeout=left + 1)
        cache.incr(f"{key}:{window}")
        return
    table = RateCount._meta.db_table
    rows.execute_at_commit(
        f"INSERT INTO {table} (subject, slot, count, expires_at) VALUES (%s, %s, 1, %s) "  # noqa: S608
        f"ON CONFLICT (subject, slot) DO UPDATE SET count = {table}.count + 1",
        [key, window, clock.now() + timedelta(seconds=left + 1)],
    )


def check(bucket: str, subject: str, limit: tuple[int, int]) -> None:
    """Refuse when ``subject`` has used up ``limit`` in this window; counts nothing."""
    if not _enabled():
        return
    window, left = _window(limit)
    if _current(cache_key(bucket, subject), window) >= limit[0]:
        raise RateLimited(left, bucket)


def count(bucket: str, subject: str, limit: tuple[int, int]) -> None:
    """Count one event against ``limit``."""
    if not _enabled():
        return
    window, left = _window(limit)
    _add_one(cache_key(bucket, subject), window, left)


def hit(bucket: str, subject: str, limit: tuple[int, int], audit: AuditEntry) -> None:
    """Check now; count at the end of the flow's transaction, or after its refusal.

    Counting last keeps the counter's row lock short (counting first, a flow that hashes a
    password would hold it for the hash and serialise every worker); counting after a
    refusal keeps refused attempts counted although their transaction rolls back.
    """
    check(bucket, subject, limit)
    audit.before_commit.append(lambda: count(bucket, subject, limit))
    audit.after_refusal.append(lambda: count(bucket, subject, limit))


def sweep_expired() -> int:
    return RateCount.objects.filter(expires_at__lt=clock.now()).delete()[0]
