"""The ``admit worker`` loop: deliver due e-mail, sweep what has expired, sleep, repeat."""

from __future__ import annotations

import logging
import signal
import time

from django.db import close_old_connections

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
    sessions, confirmations = sweep_sessions(), sweep_confirmations()
    if sessions or confirmations:
        log.info("swept %s expired sessions, %s old confirmations", sessions, confirmations)


def run(poll_seconds: float = 1.0, once: bool = False) -> None:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started")
    last_sweep = 0.0
    while not stopping:
        close_old_connections()
        delivered = 0
        try:
            delivered = deliver_due()
            if once or time.monotonic() - last_sweep >= SWEEP_EVERY_SECONDS:
                sweep()
                last_sweep = time.monotonic()
        except Exception:  # the database went away for a moment: log it and keep going
            log.exception("worker round failed")
        if once:
            return
        if not delivered:
            time.sleep(poll_seconds)
    log.info("worker stopped")
