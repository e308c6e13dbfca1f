"""Rate limits, counted where every worker process sees them: in Redis when
ADMIT_REDIS_URL is set, otherwise in a table of the database.

Windows are fixed: ``[count, seconds]`` allows ``count`` events per window. Keys are hashed
so that no address or username is stored in clear.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.core.cache import cache

from admit.core import clock, sql, unit_of_work
from admit.core.errors import AdmitError, Code
from admit.core.models import RateCount


class RateLimited(AdmitError):
    def __init__(self, retry_after: int, what: str):
        super().__init__(Code.NOT_ALLOWED, f"rate limit: {what}")
        self.retry_after = max(1, retry_after)


def cache_key(bucket: str, subject: str) -> str:
    return f"admit:{bucket}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def _window(limit: tuple[int, int]) -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    seconds = max(1, limit[1])
    now = clock.now().timestamp()
    return int(now // seconds), math.ceil(seconds - now % seconds)


def _uses_redis() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


class NotRead(Enum):
    NOT_READ = "the caller's query did not read the count"


NOT_READ = NotRead.NOT_READ


class Counter:
    """One subject's events under one limit, in the window that is current now.

    A hot flow that makes a query anyway reads the count as one more column of it
    (``column``) and hands the value to ``hit``: one round trip less than ``hit`` reading it.
    """

    def __init__(self, bucket: str, subject: str, limit: tuple[int, int]):
        self.bucket = bucket
        self.limit = limit
        self.key = cache_key(bucket, subject)
        self.window, self.seconds_left = _window(limit)
        self.cache_slot = f"{self.key}:{self.window}"  # Redis's key for this window's count
        self.enabled = bool(settings.ADMIT_POLICY.rate_limits.enabled)
        self.in_database = self.enabled and not _uses_redis()

    def column(self) -> tuple[str, list[str | int]]:
        """A scalar subquery with the current count (NULL: none yet, or not kept in the
        database, which ``hit`` then asks itself), and its parameters."""
        if not self.in_database:
            return "NULL", []
        table = RateCount._meta.db_table
        return (
            f"(SELECT count FROM {table} WHERE subject = %s AND slot = %s)",  # noqa: S608
            [self.key, self.window],
        )

    def admits(self, counted: int | None | NotRead = NOT_READ) -> bool:
        """Whether the limit leaves an event; ``counted`` is what ``column`` read, if it was.
        Checking and counting (``count``) are two steps: attempts made at the same moment may
        all pass one check (``claim`` is the one atomic step)."""
        if not self.enabled:
            return True
        if counted is NOT_READ or not self.in_database:
            counted = self._read()
        return (counted or 0) < self.limit[0]

    def check(self, counted: int | None | NotRead = NOT_READ) -> None:
        """Refuse when the limit is used up (``admits``)."""
        if not self.admits(counted):
            raise RateLimited(self.seconds_left, self.bucket)

    def count(self) -> None:
        """One atomic increment: Redis's INCR, or one upsert held for the flow's batch.

        (Django's database cache would take seven queries and lose counts under concurrency:
        its ``incr`` is a read and a write.)"""
        if not self.enabled:
            return
        if not self.in_database:
            cache.add(self.cache_slot, 0, timeout=self.seconds_left + 1)
            cache.incr(self.cache_slot)
            return
        table = RateCount._meta.db_table
        unit_of_work.execute_later(
            f"INSERT INTO {table} (subject, slot, count, expires_at) VALUES (%s, %s, 1, %s) "  # noqa: S608
            f"ON CONFLICT (subject, slot) DO UPDATE SET count = {table}.count + 1",
            [self.key, self.window, self._expires_at()],
        )

    def claim(self) -> bool:
        """Take one of the window's events if the limit leaves one, checking and counting in
        one atomic step, so that concurrent attempts never all slip past one check (see
        ``claim_all``). False when the limit is used up."""
        return not claim_all([self])

    def forget(self) -> None:
        """Clear the subject's count in the current window, with the flow's writes."""
        if not self.in_database:
            cache.delete(self.cache_slot)
            return
        table = RateCount._meta.db_table
        unit_of_work.execute_later(f"DELETE FROM {table} WHERE subject = %s", [self.key])  # noqa: S608

    def _expires_at(self) -> datetime:
        return clock.now() + timedelta(seconds=self.seconds_left + 1)

    def hit(self, counted: int | None | NotRead = NOT_READ) -> None:
        """Check now; count at the end of the flow's transaction, or after its refusal.

        Counting last keeps the counter's row lock short (counting first, a flow that hashes a
        password would hold it for the hash and serialise every worker); counting after a
        refusal keeps refused attempts counted although their transaction rolls back.
        """
        self.check(counted)
        unit_of_work.before_commit(self.count)
        unit_of_work.after_refusal(self.count)

    def _read(self) -> int:
        if not self.in_database:
            return cache.get(self.cache_slot) or 0
        column, params = self.column()
        row = sql.fetch_one(f"SELECT {column}", params)  # noqa: S608
        assert row is not None  # a SELECT without FROM answers one row
        return row[0] or 0


def claim_all(counters: list[Counter]) -> list[Counter]:
    """Claim one event of each of ``counters`` (``Counter.claim``) and return those whose limit
    was used up. In Redis each is an INCR, taken back when it went over; in the database all
    are one multi-row conditional upsert, which writes at once, outside the flow's held writes
    (in a caller's transaction it is undone with it: ``admit.sso.throttle`` counts it again
    after a refusal)."""
    active = [counter for counter in counters if counter.enabled]
    refused = [counter for counter in active if counter.limit[0] == 0]
    in_database = [c for c in active if c.in_database and c not in refused]
    refused += [c for c in active if not c.in_database and c not in refused and not _incr(c)]
    if not in_database:
        return refused
    table = RateCount._meta.db_table
    rows = ", ".join(["(%s, %s, 1, %s)"] * len(in_database))
    limits = " ".join(["WHEN %s THEN %s"] * len(in_database))
    admitted = sql.fetch_all(
        f"INSERT INTO {table} (subject, slot, count, expires_at) VALUES {rows}"  # noqa: S608
        f" ON CONFLICT (subject, slot) DO UPDATE SET count = {table}.count + 1"
        f" WHERE {table}.count < CASE {table}.subject {limits} END RETURNING subject",
        [
            *(v for c in in_database for v in (c.key, c.window, c._expires_at())),
            *(v for c in in_database for v in (c.key, c.limit[0])),
        ],
    )
    taken = {subject for (subject,) in admitted}
    return refused + [counter for counter in in_database if counter.key not in taken]


def _incr(counter: Counter) -> bool:
    """One event more in Redis, if the limit leaves one (a refused attempt takes nothing)."""
    cache.add(counter.cache_slot, 0, timeout=counter.seconds_left + 1)
    if cache.incr(counter.cache_slot) <= counter.limit[0]:
        return True
    cache.decr(counter.cache_slot)
    return False


def release_all(counters: list[Counter], clear: Counter | None = None) -> None:
    """Give back one claimed event of each of ``counters`` (attempts that turned out not to
    count) and, if given, set ``clear``'s count in this window to none; in the database in one
    statement with the flow's held writes."""
    in_database = [counter for counter in counters if counter.in_database]
    for counter in counters:
        if not counter.enabled or counter in in_database:
            continue
        if counter is clear:
            counter.forget()
        else:
            with contextlib.suppress(ValueError):  # the window has ended meanwhile
                cache.decr(counter.cache_slot)
    if not in_database:
        return
    table = RateCount._meta.db_table
    which = " OR ".join(["(subject = %s AND slot = %s)"] * len(in_database))
    cleared = clear.key if clear is not None else ""
    unit_of_work.execute_later(
        f"UPDATE {table} SET count = CASE WHEN subject = %s THEN 0 ELSE count - 1 END"  # noqa: S608
        f" WHERE count > 0 AND ({which})",
        [cleared, *(value for counter in in_database for value in (counter.key, counter.window))],
    )


def hit(bucket: str, subject: str, limit: tuple[int, int]) -> None:
    """Check now; count at the end of the flow, or after its refusal."""
    Counter(bucket, subject, limit).hit()


def sweep_expired() -> int:
    return RateCount.objects.filter(expires_at__lt=clock.now()).delete()[0]
