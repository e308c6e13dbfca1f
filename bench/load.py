"""A closed-loop HTTP load generator that runs in its own process.

``drive(port, requests, seconds, connections)`` sends ``requests`` (a list of
``(method, path, body)``, used round-robin) from ``connections`` threads, each with its own
``http.client`` connection, for ``seconds``, and returns the rate of 200 answers and their
latencies. A ``chain`` instead sends requests that each depend on the answer before (a
refresh token that rotates on every use), one chain per connection. Only 127.0.0.1 is ever
targeted; every loop is bounded in count and in time.
"""

from __future__ import annotations

import http.client
import itertools
import json
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from common import HOST, CpuMeter, percentile

MAX_REQUESTS_PER_THREAD = 1_000_000
SPAWN = multiprocessing.get_context("spawn")

Request = tuple[str, str, dict | bytes | None]  # a dict goes as JSON, bytes as they are


class Chain(Protocol):
    """Requests that each depend on the answer to the one before. Each connection carries its
    own state (say, its current refresh token) from answer to request; the chain is pickled to
    the load process and only the states come back, so the next slice carries on from them."""

    def request(self, state: str) -> Request: ...

    def follow(self, state: str, status: int, answer: bytes) -> str | None:
        """The state after a good answer; None after a bad one, which ends that connection's
        chain (its token may be spent: sending it again would be a reuse)."""
        ...


@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_sample: str = ""
    client_cpu_seconds: float = 0.0  # what the load generator itself spent
    server_cpu: dict[str, float] = field(default_factory=dict)  # from a CpuMeter, when given
    states: list[str | None] = field(default_factory=list)  # a chain's, after the slice

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


def _encoded(body: dict | bytes | None) -> bytes | None:
    return json.dumps(body).encode() if isinstance(body, dict) else body


def _send(
    conn: http.client.HTTPConnection, request: Request, headers: dict[str, str]
) -> tuple[int, bytes]:
    """(status, body) of one request; status 0 when the connection failed."""
    method, path, body = request
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        conn.close()
        return 0, str(error).encode()


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
    encoded = [(method, path, _encoded(body)) for method, path, body in requests]
    all_headers = {"Content-Type": "application/json", **headers}
    cycle = itertools.islice(itertools.cycle(encoded), offset, None)
    for _, request in zip(range(MAX_REQUESTS_PER_THREAD), cycle, strict=False):
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        status, answer = _send(conn, request, all_headers)
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


def _chain_thread(
    port: int,
    headers: dict[str, str],
    chain: Chain,
    states: list[str | None],
    index: int,
    deadline: float,
    result: Load,
    lock: threading.Lock,
) -> None:
    """One connection's chain: each request from the state the answer before left."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    local = Load()
    all_headers = {"Content-Type": "application/json", **headers}
    state = states[index]
    for _ in range(MAX_REQUESTS_PER_THREAD):
        if state is None or time.perf_counter() >= deadline:
            break
        method, path, body = chain.request(state)
        started = time.perf_counter()
        status, answer = _send(conn, (method, path, _encoded(body)), all_headers)
        following = chain.follow(state, status, answer)
        if following is not None:
            local.ok += 1
            local.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            local.errors += 1
            local.error_sample = local.error_sample or f"{status}: {answer[:200]!r}"
        state = following
    states[index] = state
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
    chain: Chain | None,
    states: list[str | None],
    queue,
) -> None:
    result, lock = Load(), threading.Lock()
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + seconds
    if chain is not None:
        result.states = list(states)
        threads = [
            threading.Thread(
                target=_chain_thread,
                args=(port, headers, chain, result.states, i, deadline, result, lock),
            )
            for i in range(len(states))
        ]
    else:
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
    chain: Chain | None = None,
    states: list[str | None] | None = None,
) -> Load:
    """Run the load from a separate process; ``expect`` must appear in every good answer;
    with ``meter``, what the server and its database spent meanwhile goes in ``server_cpu``.
    With ``chain``, one connection per state in ``states`` (``requests`` and ``connections``
    unused); the result's ``states`` are where each chain stopped."""
    queue = SPAWN.Queue()
    arguments = (port, requests, seconds, connections, expect, headers or {}, chain, states or [])
    process = SPAWN.Process(target=_run, args=(*arguments, queue))
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
    """One load a benchmark measures: what to send and what a good answer contains; or a
    chain and its states, one per connection, which each slice carries on from."""

    requests: list[Request]
    expect: str
    headers: dict[str, str] = field(default_factory=dict)
    chain: Chain | None = None
    states: list[str | None] = field(default_factory=list)


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
            load = drive(
                port,
                phase.requests,
                seconds / rounds,
                connections,
                phase.expect,
                phase.headers,
                meter,
                phase.chain,
                phase.states,
            )
            phase.states = load.states
            totals[name] += load
    return totals
