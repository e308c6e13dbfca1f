"""The ``admit worker`` loop: deliver due e-mail, sleep a little, repeat."""

from __future__ import annotations

import logging
import signal
import time

from django.db import close_old_connections

from admit.mail.outbox import deliver_due

log = logging.getLogger("admit.worker")


def run(poll_seconds: float = 1.0, once: bool = False) -> None:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started")
    while not stopping:
        close_old_connections()
        try:
            delivered = deliver_due()
        except Exception:  # the database went away for a moment: log it and keep going
            log.exception("delivery round failed")
            delivered = 0
        if once:
            return
        if not delivered:
            time.sleep(poll_seconds)
    log.info("worker stopped")
