"""How many password guesses admit evaluates, and who they slow down.

Every guess (a log-in, or the old password of a password change) first claims a slot in
each of its buckets, and only a guess that every bucket admits has its password checked:

- one username from one client address (``login_failures_per_username_address``);
- one client address, whatever the username (``login_failures_per_address``);
- one username from addresses it has not logged in from (``login_failures_per_username``).
  A log-in from an address the account logged in from before (``KnownAddress``, kept for
  ``[login] known_address_days``) skips this bucket, so a stranger's failures elsewhere never
  pause its owner there.

A claim checks and counts in one atomic step (``ratelimit.claim_all``), so fifty concurrent
guesses see the limit, not the count before any of them was made. A guess whose password (and TOTP
code) was right gives its slots back: the buckets count failures and guesses in flight. Each
bucket is a fixed window, so a pause lasts at most that window.

Failures let through count towards the account's consecutive failures (``User.failed_logins``,
cleared by a log-in). At ``[login] max_consecutive_failures`` the account is locked
automatically (``AUTOMATIC_LOCK``) and its owner is e-mailed: from then on guesses from unknown
addresses are refused without checking the password, while the owner still logs in from a
known address (which lifts the lock) or resets the password (which lifts it too).

Buckets are keyed by hashes of the normalised username whether or not an account has it, so
none of this tells anyone which usernames exist. docs/security.md gives the design and the
numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, Q, Value, When

from admit.core import clock, unit_of_work
from admit.core.ratelimit import Counter, RateLimited, claim_all, release_all
from admit.mail.outbox import enqueue
from admit.sso.models import AUTOMATIC_LOCK, User


class Guesses:
    """The buckets of one guess at ``username_key``'s password from ``address``."""

    def __init__(self, username_key: str, address: str | None):
        limits = settings.ADMIT_POLICY.rate_limits
        self.by_username = Counter(
            "login-username", username_key, limits.login_failures_per_username
        )
        self.by_address: list[Counter] = []
        if address:
            self.by_address = [
                Counter(
                    "login-username-address",
                    f"{username_key}\n{address}",
                    limits.login_failures_per_username_address,
                ),
                Counter("login-address", address, limits.login_failures_per_address),
            ]
        self.claimed: list[Counter] = []

    def admit(self, known_address: bool) -> None:
        """Claim a slot in each bucket, or refuse the guess (429) before its password is
        looked at. What was claimed stays counted if the flow is refused."""
        buckets = self.by_address + ([] if known_address else [self.by_username])
        refused = claim_all(buckets)
        self.claimed = [counter for counter in buckets if counter not in refused]
        if connection.in_atomic_block:
            # The claims are undone with the flow's transaction on a refusal: count them again.
            for counter in self.claimed:
                if counter.in_database:
                    unit_of_work.after_refusal(counter.count)
        if refused:
            raise RateLimited(max(c.seconds_left for c in refused), refused[0].bucket)

    def credentials_were_right(self) -> None:
        """The password (and code) were right: the slots are given back at the end of the
        flow if it is then refused for the account's state (``succeeded`` otherwise)."""
        claimed = list(self.claimed)
        unit_of_work.after_refusal(lambda: release_all(claimed))

    def succeeded(self) -> None:
        """The guess logged in: its slots are given back, and this address starts afresh on
        this username."""
        claimed, pair = list(self.claimed), self.by_address[0] if self.by_address else None
        unit_of_work.before_commit(lambda: release_all(claimed, clear=pair))

    def forgive(self) -> None:
        """Forget this username's pause and this address's failures on it (a password reset
        or a super-user's unlock)."""
        self.by_username.forget()
        if self.by_address:
            self.by_address[0].forget()


def count_failure(username_key: str) -> None:
    """One more consecutive failure for the account named ``username_key``, locking it at
    ``max_consecutive_failures``. The same two statements run whether or not the account
    exists, so a wrong password and an unknown username cost the same."""
    lock_at = settings.ADMIT_POLICY.login.max_consecutive_failures
    locks_now = Q(failed_logins__gte=lock_at - 1, is_locked=False)
    now = clock.now()
    User.with_held_signups.filter(username_key=username_key).update(
        failed_logins=F("failed_logins") + 1,
        is_locked=Case(When(locks_now, then=Value(True)), default=F("is_locked")),
        locked_at=Case(When(locks_now, then=Value(now)), default=F("locked_at")),
        locked_by=Case(When(locks_now, then=Value(AUTOMATIC_LOCK)), default=F("locked_by")),
    )
    # The lock this very failure set, if it set one (its time tells it from an older one).
    just_locked = User.with_held_signups.filter(
        username_key=username_key, locked_by=AUTOMATIC_LOCK, locked_at=now
    ).first()
    if just_locked is not None and not just_locked.holds_taken_email:
        enqueue(
            "account_locked",
            just_locked.email,
            {"user": just_locked, "failures": lock_at, "known_days": _known_days()},
        )


def _known_days() -> int:
    return settings.ADMIT_POLICY.login.known_address_days


def known_since() -> datetime:
    """How far back a log-in from an address makes it known (``[login] known_address_days``)."""
    return clock.now() - timedelta(days=_known_days())


def is_locked_automatically(user: User) -> bool:
    return user.is_locked and not user.is_locked_by_operator


def clear_failures(user: User) -> list[str]:
    """Set ``user``'s consecutive failures to none and lift an automatic lock; returns the
    fields changed, for the caller to save."""
    user.failed_logins = 0
    fields = ["failed_logins"]
    if is_locked_automatically(user):
        user.is_locked, user.locked_at, user.locked_by = False, None, ""
        fields += ["is_locked", "locked_at", "locked_by"]
    return fields
