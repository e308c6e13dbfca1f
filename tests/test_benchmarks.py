"""Each benchmark runs to its last line: its set-up (a fresh PostgreSQL database, the rows it
writes itself, the server) and every answer it counts still fit the code. A benchmark whose
set-up wrote rows straight to the database once broke when the table gained a column, and
nobody knew until it was run by hand.

The figures of these short runs mean nothing and are not checked: a floor is met or missed in
a full run (docs/benchmarks.md), never in a test. A bad answer or an exception makes the run
exit non-zero, which is what fails here. They need PostgreSQL, like the benchmarks, and run
in the suite's PostgreSQL pass (``ADMIT_DATABASE_URL``, as ``.ci/run`` sets it): once, not
twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not os.environ.get("ADMIT_DATABASE_URL", "").startswith("postgres"),
    reason="the benchmarks need PostgreSQL: run in the suite's PostgreSQL pass",
)

SHORT = ["--seconds", "1"]
RUNS = {
    "signup": SHORT,
    "login": SHORT,
    "session_verify": SHORT,
    "remote_login": SHORT,
    "oidc": [*SHORT, "--rounds", "1"],
    "enumeration": ["--pairs", "10", "--warmup", "2", "--known-users", "5", "--max-seconds", "5"],
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_benchmark_runs_to_its_last_line(name):
    run = subprocess.run(
        [sys.executable, ROOT / "bench" / f"{name}.py", *RUNS[name]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "ERRORS" not in output, output[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith(("ratio: ", "max |z|: ")), output[-3000:]
