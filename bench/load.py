"""A closed-loop HTTP load generator that runs in its own process.

``drive(port, requests, seconds, connections)`` sends ``requests`` (a list of
``(method, path, body)``, used round-robin) from ``connections`` threads, each with its own
``http.client`` connection, for ``seconds``, and returns the rate of 200 answers and their
latencies. Only 127.0.0.1 is ever targeted; every loop is bounded in count and in time.
"""

from __future__ import annotations

import http.client
import itertools
import json
import multiprocessing
import threading
import time
from dataclasses import dataclass, field

from common import HOST, CpuMeter, percentile

MAX_REQUESTS_PER_THREAD = 1_000_000
SPAWN = multiprocessing.get_context("spawn")

Request = tuple[str, str, dict | None]


@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_sample: str = ""
    client_cpu_seconds: float = 0.0  # what the load generator itself spent
    server_cpu: dict[str, float] = field(default_factory=dict)  # from a CpuMeter, when given

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def p(self, fraction: float) -> float:
        return percentile(sorted(self.latencies_ms), fraction)

    def line(self, what: str) -> str:
        return (
            f"{what}: {self.rate:.0f}/s ({self.ok} in {self.elapsed:.1f} s, errors {self.errors}),"
            f" p50 {self.p(0.50):.1f} ms, p99 {self.p(0.99):.1f} ms"
        )

    def __add__(self, other: Load) -> Load:
        """Two measurements of the same load, as one (phases run in slices, interleaved)."""
        cpu = dict(self.server_cpu)
        for key, seconds in other.server_cpu.items():
            cpu[key] = cpu.get(key, 0.0) + seconds
        return Load(
            ok=self.ok + other.ok,
            errors=self.errors + other.errors,
            elapsed=self.elapsed + other.elapsed,
            latencies_ms=self.latencies_ms + other.latencies_ms,
            error_sample=self.error_sample or other.error_sample,
            client_cpu_seconds=self.client_cpu_seconds + other.client_cpu_seconds,
            server_cpu=cpu,
        )

    def cpu_line(self) -> str:
        """CPU milliseconds per good answer: the server, PostgreSQL, the load generator."""
        spent = {**self.server_cpu, "load generator": self.client_cpu_seconds}
        parts = ", ".join(f"{name} {1000 * s / max(1, self.ok):.3f}" for name, s in spent.items())
        return f"  CPU ms per answer: {parts}"


def _thread(
    port: int,
    headers: dict[str, str],
    requests: list[Request],
    offset: int,
    deadline: float,
    result: Load,
    lock: threading.Lock,
    expect: str,
) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    local = Load()
    # Bodies encoded once: the generator's CPU is spent on the same machine as the server's.
    encoded = [
        (method, path, json.dumps(body).encode() if body is not None else None)
        for method, path, body in requests
    ]
    all_headers = {"Content-Type": "application/json", **headers}
    cycle = itertools.islice(itertools.cycle(encoded), offset, None)
    for _, (method, path, body) in zip(range(MAX_REQUESTS_PER_THREAD), cycle, strict=False):
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        try:
            conn.request(method, path, body, all_headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            status, answer = 0, str(error).encode()
        if status == 200 and expect.encode() in answer:
            local.ok += 1
            local.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            local.errors += 1
            local.error_sample = local.error_sample or f"{status}: {answer[:200]!r}"
    with lock:
        result.ok += local.ok
        result.errors += local.errors
        result.latencies_ms += local.latencies_ms
        result.error_sample = result.error_sample or local.error_sample


def _run(
    port: int,
    requests: list[Request],
    seconds: float,
    connections: int,
    expect: str,
    headers: dict[str, str],
    queue,
) -> None:
    result, lock = Load(), threading.Lock()
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + seconds
    step = max(1, len(requests) // connections)
    threads = [
        threading.Thread(
            target=_thread,
            args=(port, headers, requests, i * step, deadline, result, lock, expect),
        )
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    result.elapsed = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - cpu
    queue.put(result)


def drive(
    port: int,
    requests: list[Request],
    seconds: float,
    connections: int,
    expect: str = "",
    headers: dict[str, str] | None = None,
    meter: CpuMeter | None = None,
) -> Load:
    """Run the load from a separate process; ``expect`` must appear in every good answer;
    with ``meter``, what the server and its database spent meanwhile goes in ``server_cpu``."""
    queue = SPAWN.Queue()
    process = SPAWN.Process(
        target=_run, args=(port, requests, seconds, connections, expect, headers or {}, queue)
    )
    if meter:
        meter.start()
    process.start()
    result = queue.get(timeout=seconds + 120)
    if meter:
        result.server_cpu = meter.used()
    process.join(timeout=30)
    return result


@dataclass
class Phase:
    """One load a benchmark measures: what to send and what a good answer contains."""

    requests: list[Request]
    expect: str
    headers: dict[str, str] = field(default_factory=dict)


def interleaved(
    port: int,
    phases: dict[str, Phase],
    seconds: float,
    rounds: int,
    connections: int,
    meter: CpuMeter | None = None,
) -> dict[str, Load]:
    """Each phase for ``seconds`` in all, in ``rounds`` slices taken in turn (a, b, c, a, b,
    c, ...): the machine's speed drifts (on the development machine the ceiling once fell from
    1,168/s to 398/s within one run), and a ceiling measured only before and after a load
    compares that load with other minutes."""
    totals: dict[str, Load] = {name: Load() for name in phases}
    for _ in range(rounds):
        for name, phase in phases.items():
            totals[name] += drive(
                port,
                phase.requests,
                seconds / rounds,
                connections,
                phase.expect,
                phase.headers,
                meter,
            )
    return totals
