"""What every benchmark needs: a throw-away PostgreSQL database and a running ``admit serve``.

Both are context managers that clean up on the way out, errors included: the server is
stopped with SIGTERM (``admit serve`` then stops gunicorn) and the database is dropped.
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

HOST = "127.0.0.1"
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", f"postgres://postgres@{HOST}:5432")
VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def bench_parser(doc: str, seconds: float, seconds_help: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: how long to measure, the server's workers, the load
    generator's connections; a benchmark adds its own before ``bench_args``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=seconds, help=seconds_help)
    cpus = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=cpus, help="server workers (default: cores)")
    parser.add_argument("--connections", type=int, default=0, help="default: 2 x workers")
    return parser


def bench_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    args.connections = args.connections or 2 * args.workers
    return args


@contextlib.contextmanager
def temporary_database(prefix: str = "admit_bench") -> Iterator[str]:
    """A fresh, empty PostgreSQL database; yields its URL and drops it at the end."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_ADMIN_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_ADMIN_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def admit_environment(database_url: str, data_dir: Path, policy_toml: str = "") -> dict[str, str]:
    """The ``ADMIT_*`` variables of a benchmark server; ``policy_toml`` overrides defaults."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    env.update(
        ADMIT_DATABASE_URL=database_url,
        ADMIT_DATA_DIR=str(data_dir),
        ADMIT_SECRET_KEY=secrets.token_urlsafe(48),
    )
    if policy_toml:
        config = data_dir / "bench.toml"
        config.write_text(policy_toml)
        env["ADMIT_CONFIG"] = str(config)
    return env


@dataclass
class Server:
    port: int
    workers: int
    process: subprocess.Popen
    log_path: Path
    database: str
    env: dict[str, str] = field(default_factory=dict)  # the server's ADMIT_* environment

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cpu_meter(self) -> CpuMeter:
        return CpuMeter(server_session=self.process.pid, database=self.database)

    def admit(self, *arguments: str, extra_env: dict[str, str] | None = None) -> str:
        """Run an ``admit`` command on the server's database and data folder; its output."""
        done = subprocess.run(
            [VENV_BIN / "admit", *arguments],
            env=self.env | (extra_env or {}),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            command = " ".join(arguments)
            raise RuntimeError(f"admit {command} exited {done.returncode}:\n{done.stderr}")
        return done.stdout


@contextlib.contextmanager
def admit_server(database_url: str, workers: int, policy_toml: str = "") -> Iterator[Server]:
    """Migrate the database, start ``admit serve`` on a free port and wait until it answers."""
    with tempfile.TemporaryDirectory(prefix="admit-bench-") as tmp:
        data_dir = Path(tmp)
        env = admit_environment(database_url, data_dir, policy_toml)
        subprocess.run([VENV_BIN / "admit", "migrate", "--verbosity", "0"], env=env, check=True)
        port = free_port()
        log_path = data_dir / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [VENV_BIN / "admit", "serve", "--bind", f"{HOST}:{port}"]
                + ["--workers", str(workers), "--no-worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        database = database_url.rsplit("/", 1)[1]
        server = Server(port, workers, process, log_path, database, env)
        try:
            _wait_until_ready(server)
            yield server
        finally:
            _stop(process)


def _wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"admit serve exited with {server.process.returncode}:\n{server.log()}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(HOST, server.port, timeout=2)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                conn.close()
                return
        time.sleep(0.2)
    raise RuntimeError(f"admit serve did not answer within {READY_TIMEOUT:.0f} s:\n{server.log()}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to ``admit serve``; if it does not stop in time, kill its process group."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (``nan`` when it is empty)."""
    if not sorted_values:
        return float("nan")
    rank = min(max(1, math.ceil(fraction * len(sorted_values))), len(sorted_values))
    return sorted_values[rank - 1]


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot."""
    return _cpu_times()[0] / os.sysconf("SC_CLK_TCK")


def cpu_busy_fraction(seconds: float = 1.0) -> float:
    """How busy the whole machine is over ``seconds``: 0.0 idle, 1.0 every core busy."""
    busy_before, total_before = _cpu_times()
    time.sleep(seconds)
    busy_after, total_after = _cpu_times()
    return (busy_after - busy_before) / max(1, total_after - total_before)


@dataclass
class CpuMeter:
    """CPU seconds used by the server's processes and by the PostgreSQL backends of one
    database, read from /proc; ``used()`` gives what they spent since ``start()``."""

    server_session: int  # admit serve is started in its own session; gunicorn inherits it
    database: str
    _start: dict[tuple[str, int], float] | None = None

    def start(self) -> None:
        self._start = self._sample()

    def used(self) -> dict[str, float]:
        before, after = self._start or {}, self._sample()
        totals = {"server": 0.0, "database": 0.0}
        for (group, pid), seconds in after.items():
            totals[group] += seconds - before.get((group, pid), 0.0)
        return totals

    def _sample(self) -> dict[tuple[str, int], float]:
        sample = {}
        for pid, session, seconds in _processes():
            if session == self.server_session:
                sample["server", pid] = seconds
            elif _cmdline(pid).startswith("postgres:") and f" {self.database} " in _cmdline(pid):
                sample["database", pid] = seconds
        return sample


def _processes() -> Iterator[tuple[int, int, float]]:
    """(pid, session id, CPU seconds) of every process that can be read."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield int(entry), int(fields[3]), (int(fields[11]) + int(fields[12])) / ticks


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
