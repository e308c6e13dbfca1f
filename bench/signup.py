"""Sign-ups per second over HTTP, next to the raw Argon2id hash rate of the same machine.

Run from the repository root:  .venv/bin/python bench/signup.py [--seconds 20]

One run measures, on one machine:

1. The raw hash rate: Argon2id with the service's parameters (m = 19456 KiB, t = 2, p = 1,
   argon2-cffi's ``PasswordHasher``) in as many processes as the server has workers, each
   hashing for a fixed time; the rates are summed. It is measured while the server is idle.
2. Saturation: ``admit serve`` on a fresh PostgreSQL database, driven from a separate
   process by several threads (2 x workers by default), each with its own ``http.client``
   connection, posting ``/zato/sso/user/signup`` with unique names back to back for a fixed
   time (after a short warm-up). Sign-ups per second = 200 answers / elapsed time; every
   other answer or connection failure is an error.

   The machine's speed moves from one minute to the next (a virtual machine's neighbours),
   so the two are taken in turn, in slices (``--rounds``): a hash slice, a load slice, ...,
   and a last hash slice; each rate is its slices' together.
3. Half load: the same sign-ups, open loop, scheduled at half the saturated rate for a fixed
   time; latency is counted from each request's scheduled start, so a late client or a
   queue in the server shows up in it. Reports p50 and p99.

The last line is ``ratio: R``, sign-ups per second over hash rate. The floors are a ratio of
at least 0.80 and a p99 under 250 ms at half load; whether each is met is printed, and the
exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import re
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields

import argon2

from admit import config as admit_config
from common import (
    HOST,
    Server,
    admit_server,
    bench_args,
    bench_parser,
    cpu_busy_fraction,
    machine_busy_seconds,
    percentile,
    temporary_database,
)

SIGNUP_PATH = "/zato/sso/user/signup"
ARGON2_PARAMETERS = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
RATIO_FLOOR = 0.80
P99_FLOOR_MS = 250.0
REQUEST_TIMEOUT = 10.0
# Bounds on every loop, far above what is possible on one machine.
MAX_REQUESTS_PER_SECOND_PER_THREAD = 1000
MAX_HASHES_PER_SECOND = 1000
BUSY_WARNING = 0.10
HASH_SPREAD_WARNING = 0.15
UNREACHABLE_LIMIT = 1_000_000_000
SPAWN = multiprocessing.get_context("spawn")


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__, 20.0, "saturation phase length")
    parser.add_argument("--paced-seconds", type=float, default=15.0, help="half-load phase length")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load first")
    parser.add_argument("--hash-seconds", type=float, default=2.0, help="each hash slice")
    parser.add_argument("--rounds", type=int, default=5, help="load slices, between hash slices")
    return bench_args(parser)


def bench_policy() -> tuple[str, str]:
    """admit.toml for the run, and a line saying what it changes.

    All the load comes from 127.0.0.1, so per-address rate limits would refuse it within
    seconds. They stay switched on (their cost is part of every sign-up) with counts no run
    can reach. An admit without rate limits gets the defaults.
    """
    defaults = getattr(admit_config.Policy(), "rate_limits", None)
    if defaults is None:
        return "", "policy: the defaults (this admit has no rate limits)"
    lines = ["[rate_limits]"]
    for limit in fields(defaults):
        value = getattr(defaults, limit.name)
        if isinstance(value, tuple) and len(value) == 2:
            lines.append(f"{limit.name} = [{UNREACHABLE_LIMIT}, {value[1]}]")
    note = f"policy: the defaults, rate limits counted but raised to {UNREACHABLE_LIMIT} per window"
    return "\n".join(lines) + "\n", note


# --- the raw hash rate ---------------------------------------------------------------------


@dataclass
class HashRate:
    per_second: float  # summed over the processes
    cpu_ms: float  # CPU time of one hash, which other load on the machine hardly changes


def _hash_for(seconds: float, start_at: float, password: str) -> tuple[int, float, float]:
    """(hashes, wall seconds, CPU seconds) of one process hashing for ``seconds``; it starts
    at ``start_at`` so that all processes hash at the same time."""
    hasher = argon2.PasswordHasher(**ARGON2_PARAMETERS)
    hasher.hash(password)  # the first allocation out of the measurement
    time.sleep(max(0.0, start_at - time.time()))
    started, cpu = time.perf_counter(), time.process_time()
    deadline, limit, count = started + seconds, int(seconds * MAX_HASHES_PER_SECOND), 0
    while count < limit and time.perf_counter() < deadline:
        hasher.hash(password)
        count += 1
    return count, time.perf_counter() - started, time.process_time() - cpu


def together(slices: list[HashRate]) -> HashRate:
    """The rate of equally long slices taken together."""
    return HashRate(
        per_second=statistics.fmean(rate.per_second for rate in slices),
        cpu_ms=statistics.fmean(rate.cpu_ms for rate in slices),
    )


def hash_rate(processes: int, seconds: float, password: str) -> HashRate:
    start_at = time.time() + 1.0
    with ProcessPoolExecutor(processes, mp_context=SPAWN) as pool:
        futures = [pool.submit(_hash_for, seconds, start_at, password) for _ in range(processes)]
        runs = [future.result() for future in futures]
    hashes = sum(count for count, _, _ in runs)
    return HashRate(
        per_second=sum(count / wall for count, wall, _ in runs),
        cpu_ms=1000 * sum(cpu for _, _, cpu in runs) / max(1, hashes),
    )


# --- the load generator (runs in its own process) -------------------------------------------


@dataclass
class PhaseResult:
    statuses: list[int] = field(default_factory=list)  # 0 = no answer (connection error)
    latencies_ms: list[float] = field(default_factory=list)  # of the 200 answers
    elapsed: float = 0.0
    client_cpu_seconds: float = 0.0
    error_sample: str = ""  # the first answer that was not a sign-up

    @property
    def ok(self) -> int:
        return self.statuses.count(200)

    @property
    def errors(self) -> Counter[int]:
        return Counter(status for status in self.statuses if status != 200)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def add(self, other: PhaseResult) -> None:
        """Count ``other``, a later slice of the same phase, in this one."""
        self.statuses += other.statuses
        self.latencies_ms += other.latencies_ms
        self.elapsed += other.elapsed
        self.client_cpu_seconds += other.client_cpu_seconds
        self.error_sample = self.error_sample or other.error_sample


class SignupClient:
    """One connection posting sign-ups with names unique to this run, phase and thread; it
    keeps each answer's status and, for the 200s, the latency."""

    def __init__(self, port: int, name_prefix: str, password: str):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        self.name_prefix = name_prefix
        self.password = password
        self.statuses: list[int] = []
        self.latencies_ms: list[float] = []
        self.error_sample = ""

    def signup(self, started: float) -> None:
        """Post one sign-up; its latency counts from ``started`` (a perf_counter time)."""
        username = f"{self.name_prefix}x{len(self.statuses)}"
        status, answer = self._post(
            {
                "username": username,
                "password": self.password,
                "email": f"{username}@example.com",
                "current_app": "CRM",
                "app_list": ["CRM"],
            }
        )
        if status == 200 and json.loads(answer).get("status") != "ok":
            status = -1
        self.statuses.append(status)
        if status == 200:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        elif not self.error_sample:
            self.error_sample = f"{status}: {answer[:300]!r}"

    def _post(self, body: dict) -> tuple[int, bytes]:
        # gunicorn's sync workers close every connection after the answer; http.client then
        # opens a new one for the next request by itself.
        headers = {"Content-Type": "application/json"}
        try:
            self.conn.request("POST", SIGNUP_PATH, json.dumps(body), headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return 0, repr(exc).encode()


def _run_clients(run: Callable[[SignupClient], None], clients: list[SignupClient]) -> PhaseResult:
    """One thread per client; returns what they saw, with the phase's time and CPU use."""
    started, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase = PhaseResult(
        elapsed=time.perf_counter() - started, client_cpu_seconds=time.process_time() - cpu
    )
    for client in clients:
        client.conn.close()
        phase.statuses += client.statuses
        phase.latencies_ms += client.latencies_ms
        phase.error_sample = phase.error_sample or client.error_sample
    return phase


def _clients(port: int, connections: int, prefix: str, password: str) -> list[SignupClient]:
    return [SignupClient(port, f"{prefix}{index:02d}", password) for index in range(connections)]


def closed_loop(
    port: int, connections: int, seconds: float, prefix: str, password: str
) -> PhaseResult:
    """Every connection posts its next sign-up as soon as the last one is answered."""
    limit = int(seconds * MAX_REQUESTS_PER_SECOND_PER_THREAD)
    deadline = time.perf_counter() + seconds

    def run(client: SignupClient) -> None:
        for _ in range(limit):
            now = time.perf_counter()
            if now >= deadline:
                break
            client.signup(started=now)

    return _run_clients(run, _clients(port, connections, prefix, password))


def open_loop(
    port: int, connections: int, rate: float, seconds: float, prefix: str, password: str
) -> PhaseResult:
    """Sign-ups scheduled every 1/rate seconds, whether or not earlier ones are answered.

    Latency counts from the scheduled time, so waiting for a free connection counts too.
    """
    total = int(rate * seconds)
    slots = itertools.count()
    lock = threading.Lock()
    first = time.perf_counter()

    def run(client: SignupClient) -> None:
        for _ in range(total):
            with lock:
                slot = next(slots)
            if slot >= total:
                break
            scheduled = first + slot / rate
            time.sleep(max(0.0, scheduled - time.perf_counter()))
            client.signup(started=scheduled)

    return _run_clients(run, _clients(port, connections, prefix, password))


# --- the report --------------------------------------------------------------------------------


@dataclass
class Run:
    workers: int
    connections: int
    hash_slices: list[HashRate]  # taken in turn with the load's slices
    saturated: PhaseResult
    paced: PhaseResult
    paced_rate: float
    server_log: str
    saturated_cpu: dict[str, float]  # CPU seconds: server, database, client, other
    busy_before: float = 0.0  # the machine's CPU use just before and just after the run
    busy_after: float = 0.0

    @property
    def hash_rate(self) -> float:
        return together(self.hash_slices).per_second

    @property
    def hash_cpu_ms(self) -> float:
        return together(self.hash_slices).cpu_ms

    @property
    def ratio(self) -> float:
        return self.saturated.rate / self.hash_rate


def _errors_text(phase: PhaseResult) -> str:
    errors = phase.errors
    if not errors:
        return "0"
    named = {0: "no answer", -1: "200 without status ok"}
    detail = ", ".join(f"{named.get(code, code)}: {n}" for code, n in sorted(errors.items()))
    return f"{sum(errors.values())} ({detail})"


def _error_lines(run: Run) -> list[str]:
    """The first refused sign-up, and the server's first traceback, when there was one."""
    sample = run.saturated.error_sample or run.paced.error_sample
    if not sample:
        return []
    lines = [f"first error answer: {sample}"]
    log = run.server_log
    if "Traceback" in log:
        traceback = log[log.index("Traceback") :].splitlines()
        ends = [line for line in traceback[1:] if line and not line.startswith((" ", "\t"))]
        lines.append(f"first server traceback ends with: {ends[0] if ends else traceback[-1]}")
    return lines


def _latency_text(latencies_ms: list[float]) -> str:
    ordered = sorted(latencies_ms)
    return f"p50 {percentile(ordered, 0.50):.1f} ms, p99 {percentile(ordered, 0.99):.1f} ms"


def _server_side_text(server_log: str) -> str:
    """The service's own request log: how long the view took, without the queue before it."""
    pattern = re.compile(rf"POST {re.escape(SIGNUP_PATH)} 200 ([\d.]+)ms")
    times = [float(ms) for ms in pattern.findall(server_log)]
    if not times:
        return "no sign-up lines in the server's request log"
    return f"{len(times)} sign-ups, mean {statistics.fmean(times):.1f} ms, {_latency_text(times)}"


def _cpu_lines(run: Run) -> list[str]:
    """Where the CPU went while the server was saturated, per sign-up, and the ratio of the
    CPU costs: a cross-check that other load on the machine hardly moves."""
    cpu, sat = run.saturated_cpu, run.saturated
    per_signup = {name: 1000 * seconds / max(1, sat.ok) for name, seconds in cpu.items()}
    ours = per_signup["server"] + per_signup["database"] + per_signup["client"]
    other = cpu["other"] / ((os.cpu_count() or 1) * sat.elapsed)
    lines = [
        f"saturation CPU per sign-up: {ours:.1f} ms = server {per_signup['server']:.1f} ms"
        f" + PostgreSQL {per_signup['database']:.1f} ms + load generator "
        f"{per_signup['client']:.1f} ms; one hash: {run.hash_cpu_ms:.1f} ms",
        f"CPU cost ratio (one hash / one sign-up, for comparison): {run.hash_cpu_ms / ours:.2f}",
        f"saturation: other processes used {100 * other:.0f}% of the machine's CPU",
    ]
    if other > BUSY_WARNING:
        lines.append(
            "WARNING: other work competed with the benchmark; the figures are not reliable"
        )
    return lines


def _noise_warnings(run: Run) -> list[str]:
    """Other work on the machine skews both figures; say so when it is visible."""
    lines = [
        f"machine CPU busy without the benchmark: {100 * run.busy_before:.0f}% before, "
        f"{100 * run.busy_after:.0f}% after"
    ]
    if max(run.busy_before, run.busy_after) > BUSY_WARNING:
        lines.append(
            "WARNING: the machine was not idle around the run; the figures are not reliable"
        )
    rates = [rate.per_second for rate in run.hash_slices]
    spread = (max(rates) - min(rates)) / run.hash_rate
    if spread > HASH_SPREAD_WARNING:
        lines.append(
            f"WARNING: the hash rate moved by {100 * spread:.0f}% during the run; "
            "other work on the machine? run again on an idle machine"
        )
    return lines


def _floor_text(name: str, met: bool, value: str) -> str:
    return f"floor {name}: {'met' if met else 'NOT met'} ({value})"


def report(run: Run) -> None:
    sat, paced = run.saturated, run.paced
    p99 = percentile(sorted(paced.latencies_ms), 0.99)
    lines = [
        f"cpus: {os.cpu_count()}",
        f"server workers: {run.workers} (gunicorn sync), client connections: {run.connections}",
        f"argon2id hash rate ({run.workers} processes, m=19456 KiB t=2 p=1): "
        f"{run.hash_rate:.1f} hashes/s "
        f"(slices {min(rate.per_second for rate in run.hash_slices):.1f} to "
        f"{max(rate.per_second for rate in run.hash_slices):.1f}); "
        f"{run.hash_cpu_ms:.1f} ms of CPU per hash",
        f"saturation: {sat.ok} sign-ups in {sat.elapsed:.1f} s = {sat.rate:.1f} sign-ups/s, "
        f"errors: {_errors_text(sat)}, latency {_latency_text(sat.latencies_ms)}",
        *_cpu_lines(run),
        *_error_lines(run),
        f"half load: {run.paced_rate:.1f} sign-ups/s scheduled for {paced.elapsed:.1f} s, "
        f"{paced.ok} answered 200, errors: {_errors_text(paced)}",
        f"half load latency: {_latency_text(paced.latencies_ms)}",
        f"server-side view time (request log, all phases): {_server_side_text(run.server_log)}",
        *_noise_warnings(run),
        f"sign-ups/s {sat.rate:.1f} vs hash rate {run.hash_rate:.1f}/s",
        _floor_text(f"ratio >= {RATIO_FLOOR:.2f}", run.ratio >= RATIO_FLOOR, f"{run.ratio:.2f}"),
        _floor_text(
            f"p99 < {P99_FLOOR_MS:.0f} ms at half load", p99 < P99_FLOOR_MS, f"{p99:.1f} ms"
        ),
        f"ratio: {run.ratio:.2f}",
    ]
    print("\n".join(lines), flush=True)


# --- the run -------------------------------------------------------------------------------------


def drive(server: Server, args: argparse.Namespace, password: str) -> Run:
    run_id = secrets.token_hex(4)  # hex only: no "admin", "root" or "zato" in a name
    hash_slices, saturated, cpu = [], PhaseResult(), Counter[str]()
    with ProcessPoolExecutor(1, mp_context=SPAWN) as client:
        target = (server.port, args.connections)
        client.submit(closed_loop, *target, args.warmup, f"u{run_id}a", password).result()
        print(f"saturating for {args.seconds:.0f} s in {args.rounds} slices ...", flush=True)
        for round_number in range(args.rounds):
            hash_slices.append(hash_rate(args.workers, args.hash_seconds, password))
            meter, machine_before = server.cpu_meter(), machine_busy_seconds()
            meter.start()
            prefix = f"u{run_id}b{round_number}"
            seconds = args.seconds / args.rounds
            load = client.submit(closed_loop, *target, seconds, prefix, password).result()
            used = {**meter.used(), "client": load.client_cpu_seconds}
            used["other"] = max(0.0, machine_busy_seconds() - machine_before - sum(used.values()))
            cpu.update(used)
            saturated.add(load)
        hash_slices.append(hash_rate(args.workers, args.hash_seconds, password))
        paced_rate, paced = saturated.rate / 2, PhaseResult()
        if paced_rate > 0:
            print(f"half load ({paced_rate:.1f}/s) for {args.paced_seconds:.0f} s ...", flush=True)
            paced = client.submit(
                open_loop, *target, paced_rate, args.paced_seconds, f"u{run_id}c", password
            ).result()
    return Run(
        workers=args.workers,
        connections=args.connections,
        hash_slices=hash_slices,
        saturated=saturated,
        paced=paced,
        paced_rate=paced_rate,
        server_log=server.log(),
        saturated_cpu=dict(cpu),
    )


def main() -> None:
    args = parse_args()
    password = f"Bench-{secrets.token_hex(8)}"  # 22 characters, never a common password
    print("admit sign-up benchmark: admit serve on PostgreSQL, load over HTTP", flush=True)
    policy_toml, policy_note = bench_policy()
    print(policy_note, flush=True)
    busy_before = cpu_busy_fraction()
    with (
        temporary_database() as database_url,
        admit_server(database_url, args.workers, policy_toml) as server,
    ):
        print(f"server up on {HOST}:{server.port}", flush=True)
        run = drive(server, args, password)
    run.busy_before, run.busy_after = busy_before, cpu_busy_fraction()
    report(run)


if __name__ == "__main__":
    main()
