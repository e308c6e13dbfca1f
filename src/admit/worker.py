"""The ``admit worker`` loop: deliver due e-mail, sweep what has expired, sleep, repeat."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, close_old_connections
from oauth2_provider.models import clear_expired as sweep_oidc_tokens

from admit.confirmations.engine import sweep_expired as sweep_confirmations
from admit.core.ratelimit import sweep_expired as sweep_rate_counts
from admit.mail.outbox import deliver_due
from admit.remote.flows.confirm_login import sweep_spent as sweep_spent_login_links
from admit.sso.flows.attributes import sweep_expired_attributes
from admit.sso.flows.sessions import sweep_expired as sweep_sessions
from admit.sso.flows.signup import sweep_held_signups
from admit.sso.queries import forget_addresses_older_than
from admit.sso.throttle import known_since

log = logging.getLogger("admit.worker")

SWEEP_EVERY_SECONDS = 300


def sweep() -> None:
    sweep_spent_login_links()
    sweep_rate_counts()
    sweep_held_signups()
    forget_addresses_older_than(known_since())
    sweep_expired_attributes()
    # Expired OpenID Connect codes and tokens, and refresh tokens revoked longer ago than
    # [oidc] refresh_token_lifetime (kept till then so that a reuse is still recognised).
    sweep_oidc_tokens()
    sessions, confirmations = sweep_sessions(), sweep_confirmations()
    if sessions or confirmations:
        log.info("swept %s expired sessions, %s old confirmations", sessions, confirmations)


MAX_BACKOFF_SECONDS = 30.0


def run(
    poll_seconds: float = 1.0,
    once: bool = False,
    max_backoff: float = MAX_BACKOFF_SECONDS,
    sleep: Callable[[float], object] | None = None,
) -> bool:
    """Deliver and sweep until SIGTERM or SIGINT (``once``: one round, then return); whether
    the last round succeeded.

    A failing round is told once, not once a round: the database out of reach is one line
    ("database unreachable"), and one more when it is back; any other failure is logged with
    its traceback the first time and then only when it changes. Between failing rounds the
    worker waits twice as long each time, from ``poll_seconds`` up to ``max_backoff``.
    ``sleep`` waits that long, or less when a signal stops the worker (a test passes its own).
    """
    stopping = threading.Event()
    pause = sleep or stopping.wait  # a long back-off ends at once on SIGTERM

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started")
    last_sweep = 0.0
    failing = ""  # what the current run of failing rounds is, "" while rounds succeed
    backoff = poll_seconds
    while not stopping.is_set():
        delivered = 0
        try:
            close_old_connections()
            delivered = deliver_due()
            if once or time.monotonic() - last_sweep >= SWEEP_EVERY_SECONDS:
                sweep()
                last_sweep = time.monotonic()
        except (OperationalError, InterfaceError) as exc:
            # The database is down, restarting or out of reach: nothing a traceback explains.
            if failing != "database":
                log.warning(
                    "database unreachable (%s); retrying in %g s, then less often"
                    " (at most every %g s)",
                    _first_line(exc),
                    backoff,
                    max_backoff,
                )
            failing = "database"
        except Exception as exc:
            kind = f"{type(exc).__name__}: {_first_line(exc)}"
            if failing != kind:
                log.exception("worker round failed; retrying less often until it succeeds")
            failing = kind
        else:
            if failing == "database":
                log.warning("database back; delivering again")
            elif failing:
                log.warning("worker round succeeded again after: %s", failing)
            failing, backoff = "", poll_seconds
        if once:
            return not failing
        if failing:
            pause(backoff)
            backoff = min(backoff * 2, max_backoff)
        elif not delivered:
            pause(poll_seconds)
    log.info("worker stopped")
    return not failing


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
