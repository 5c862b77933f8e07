"""Local user pool throughput: whole email-code sign-ins (InitiateAuth, ask for a code, answer it)
per second, and their latency, with 1, 4 and 16 clients signing in at once, each as its own user.

Through the local pool's HTTP server with boto3. The per-user send limit is set to 0 s for this part,
so one user can sign in again at once, and every sign-in moves the pool's clock on by the mailbox
budget's spacing (60 s / 20 emails), so no client ever waits for its mailbox's email budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.calls import local_user_pool
from bench.stats import Spread, percentile

PARAMETERS = {"EmailCooldownSeconds": "0", "EmailBurst": "20", "EmailBurstWindowSeconds": "60"}
SPACING_SECONDS = 3  # EmailBurstWindowSeconds / EmailBurst


@dataclass(frozen=True)
class Level:
    clients: int
    per_second: Spread
    p50_ms: Spread
    p95_ms: Spread
    sign_ins: int
    failures: int


def _drive(clients: int, seconds: float, sign_in: Callable[[int], None]) -> tuple[float, list[float], int]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    deadline = 0.0

    def worker(index: int) -> None:
        start_gate.wait()
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                sign_in(index)
            except Exception:
                failures[index] += 1
                continue
            latencies[index].append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return elapsed, [x for per in latencies for x in per], sum(failures)


def _levels(levels, repeats: int, seconds: float, sign_in) -> list[Level]:
    results = []
    for clients in levels:
        rates, p50s, p95s, total, failed = [], [], [], 0, 0
        for _ in range(repeats):
            elapsed, latencies, failures = _drive(clients, seconds, sign_in)
            if latencies:
                rates.append(len(latencies) / elapsed)
                p50s.append(percentile(latencies, 50))
                p95s.append(percentile(latencies, 95))
            total += len(latencies)
            failed += failures
        if not rates:
            raise RuntimeError(f"no sign-in completed with {clients} clients ({failed} failed)")
        results.append(Level(clients, Spread.of(rates), Spread.of(p50s), Spread.of(p95s), total, failed))
    return results


def measure(levels: tuple[int, ...], repeats: int, seconds: float, region: str) -> list[Level]:
    with local_user_pool(region, None, PARAMETERS) as pool:
        emails = [f"throughput{i}@example.com" for i in range(max(levels))]
        for email in emails:
            pool.sign_up(email)

        def sign_in(index: int) -> None:
            pool.clock.advance(SPACING_SECONDS)
            sent = pool.client.request_code(pool.client.start(emails[index]))
            result = pool.client.answer_code(sent, pool.last_code(emails[index]))
            if "AuthenticationResult" not in result:
                raise RuntimeError("no tokens")

        return _levels(levels, repeats, seconds, sign_in)
