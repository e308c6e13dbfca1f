"""``admit worker`` while its database is out of reach: one line when it goes, one when it is
back, and rounds further and further apart in between (not a traceback a second)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import pytest
from django.db import OperationalError

from admit import worker
from tests.live.conftest import ADMIT, free_port


@pytest.fixture
def signals():
    """run() installs its SIGTERM and SIGINT handlers; the test process gets its own back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


class Rounds:
    """deliver_due failing ``failures`` times with ``error``, then delivering nothing; the
    clock records each pause and stops the worker after ``pauses`` of them."""

    def __init__(self, monkeypatch, failures: int, error: Exception, pauses: int):
        self.failures, self.error, self.pauses = failures, error, pauses
        self.waited: list[float] = []
        monkeypatch.setattr(worker, "deliver_due", self.deliver_due)
        monkeypatch.setattr(worker, "sweep", lambda: None)

    def deliver_due(self) -> int:
        if self.failures:
            self.failures -= 1
            raise self.error
        return 0

    def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)
        if len(self.waited) == self.pauses:
            signal.raise_signal(signal.SIGTERM)  # as `kill` would: the worker ends its loop


def test_an_unreachable_database_is_one_line_then_one_line_back_with_backoff(
    monkeypatch, caplog, signals
):
    refused = OperationalError('connection to server at "db", port 5432 failed: refused\nmore')
    rounds = Rounds(monkeypatch, failures=8, error=refused, pauses=11)
    caplog.set_level(logging.INFO, logger="admit.worker")
    assert worker.run(poll_seconds=1.0, sleep=rounds.sleep) is True
    assert rounds.waited == [1, 2, 4, 8, 16, 30, 30, 30, 1, 1, 1]
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "worker started",
        'database unreachable (connection to server at "db", port 5432 failed: refused);'
        " retrying in 1 s, then less often (at most every 30 s)",
        "database back; delivering again",
        "worker stopped",
    ]
    assert all(record.exc_info is None for record in caplog.records)


def test_another_failure_shows_its_traceback_once_and_backs_off_too(monkeypatch, caplog, signals):
    rounds = Rounds(monkeypatch, failures=4, error=RuntimeError("bad template"), pauses=5)
    caplog.set_level(logging.INFO, logger="admit.worker")
    worker.run(poll_seconds=0.5, max_backoff=3, sleep=rounds.sleep)
    assert rounds.waited == [0.5, 1, 2, 3, 0.5]
    failed = [record for record in caplog.records if record.exc_info]
    assert len(failed) == 1 and "bad template" in str(failed[0].exc_info[1])
    assert "worker round succeeded again after: RuntimeError: bad template" in caplog.messages


def test_once_reports_a_failed_round(monkeypatch, caplog, signals):
    rounds = Rounds(monkeypatch, failures=1, error=OperationalError("down"), pauses=99)
    assert worker.run(once=True, sleep=rounds.sleep) is False
    assert rounds.waited == []


def test_admit_worker_against_a_closed_port_prints_one_line_not_a_traceback(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    env.update(
        ADMIT_DATA_DIR=str(tmp_path),
        ADMIT_DATABASE_URL=f"postgres://admit:not-this-secret@127.0.0.1:{free_port()}/admit",
    )
    process = subprocess.Popen(
        [*ADMIT, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(6)  # rounds at 0, 1, 3 s: three failures before the next one at 7 s
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "not-this-secret" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert lines[0].endswith("worker started") and lines[2].endswith("worker stopped")
    assert "WARNING admit.worker database unreachable (connection failed:" in lines[1]
    assert "Connection refused" in lines[1] and "at most every 30 s" in lines[1]


def test_admit_worker_once_exits_non_zero_when_the_database_is_out_of_reach(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    env.update(
        ADMIT_DATA_DIR=str(tmp_path),
        ADMIT_DATABASE_URL=f"postgres://admit:x@127.0.0.1:{free_port()}/admit",
    )
    done = subprocess.run(
        [*ADMIT, "worker", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "database unreachable" in done.stderr
