"""History query time with data: `threads(last: 50)` and `messages(last: 50)` at 100 and at 100,000 threads, on
SQLite and PostgreSQL, through the real server over HTTP.

    .venv/bin/python -m bench.history [--quick] [--requests 50]

For each database both sizes are filled by bulk inserts (`bench.datasets`) and served by two server processes at
once; requests alternate between them, so the small database is the large one's baseline in the same run. The
messages figure reads a thread of 100 messages (small) and of 10,000 (large); `before` pages from the middle.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.datasets import History, database, fill_history
from bench.report import Row, emit
from bench.token_path import wait_healthy
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parent.parent
THREADS = "query($b: ID) { threads(last: 50, before: $b) { id title createdAt } }"
MESSAGES = (
    "query($t: ID!, $b: ID) { messages(threadId: $t, last: 50, before: $b) { id prompt response { text status } } }"
)
TARGET = "large at most 1.2x small"


class Served:
    """One filled database behind its own server process."""

    def __init__(self, url: str, history: History) -> None:
        self.history = history
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(self.port), url], cwd=ROOT, stdout=subprocess.DEVNULL
        )

    def queries(self) -> dict[str, tuple[str, dict[str, Any]]]:
        h = self.history
        return {
            "threads(last: 50)": (THREADS, {}),
            "threads(last: 50, before: middle)": (THREADS, {"b": h.middle_thread}),
            "messages(last: 50)": (MESSAGES, {"t": h.long_thread}),
            "messages(last: 50, before: middle)": (MESSAGES, {"t": h.long_thread, "b": h.long_thread_middle_message}),
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def timed(client: httpx.AsyncClient, served: Served, query: str, variables: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = await client.post(f"{served.base}/graphql", json={"query": query, "variables": variables})
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    [listed] = body["data"].values()
    assert len(listed) == 50, len(listed)
    return elapsed


async def measure(small: Served, large: Served, requests: int) -> dict[str, tuple[float, float, float]]:
    """Per query: median ms at the small size, at the large size, and the median ratio of back-to-back pairs (less
    moved by the load of whatever else the machine runs than the ratio of the two medians)."""
    medians: dict[str, tuple[float, float, float]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for what, (query, small_vars) in small.queries().items():
            _, large_vars = large.queries()[what]
            for _ in range(5):  # warm both servers' pools and caches
                await timed(client, small, query, small_vars)
                await timed(client, large, query, large_vars)
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(requests):
                times[0].append(await timed(client, small, query, small_vars))
                times[1].append(await timed(client, large, query, large_vars))
            ratios = [big / little for little, big in zip(*times, strict=True)]
            medians[what] = (statistics.median(times[0]), statistics.median(times[1]), statistics.median(ratios))
    return medians


def run_backend(backend: str, tmp: Path, sizes: tuple[int, int], requests: int) -> list[Row]:
    with database(backend, tmp, "small") as small_url, database(backend, tmp, "large") as large_url:
        started = time.monotonic()
        small_history = asyncio.run(fill_history(small_url, sizes[0], 100))
        large_history = asyncio.run(fill_history(large_url, sizes[1], max(100, sizes[1] // 10)))
        print(f"bench.history: {backend} filled in {time.monotonic() - started:.0f} s", file=sys.stderr)
        small, large = Served(small_url, small_history), Served(large_url, large_history)
        try:
            wait_healthy(small.base)
            wait_healthy(large.base)
            medians = asyncio.run(measure(small, large, requests))
        finally:
            small.stop()
            large.stop()
    rows = []
    for what, (at_small, at_large, ratio) in medians.items():
        rows.append(
            Row(
                f"{what}, {backend}: median of {requests} over HTTP at {sizes[1]:,} threads",
                f"{at_large:.2f} ms ({ratio:.2f}x, median of paired ratios)",
                f"{at_small:.2f} ms at {sizes[0]:,} threads",
                TARGET,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 threads instead of 100,000, 20 requests")
    parser.add_argument("--requests", type=int, default=50)
    options = parser.parse_args()
    sizes = (100, 10_000 if options.quick else 100_000)
    requests = 20 if options.quick else options.requests
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            rows += run_backend(backend, Path(tmp), sizes, requests)
    emit(rows)


if __name__ == "__main__":
    main()
