"""What the real-path benchmarks share: the test model in its own process, a `persistream serve` process talking
to it through the openai provider (the way users run it), a fresh PostgreSQL database, and percentiles.

PostgreSQL's address: PERSISTREAM_BENCH_PG (an admin DSN), as in bench/observer_latency.py.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from bench.model_server import ModelClient
from bench.observer_latency import admin, create_database, database_url
from tests.support.net import free_port
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-not-a-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.05)


@contextlib.contextmanager
def model_process() -> Iterator[ModelClient]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.model_server", str(port)], cwd=ROOT)
    try:
        client = ModelClient(port, pid=process.pid)
        wait_http(f"{client.root}/bench/arrivals")
        yield client
    finally:
        process.terminate()
        process.wait(10)


def server_env(model: ModelClient, database: str, **extra: str) -> dict[str, str]:
    env = {
        "PERSISTREAM_DATABASE_URL": database,
        "PERSISTREAM_BROADCAST_URL": "memory://",
        "PERSISTREAM_PROVIDER": "openai",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": model.base_url,
        "PERSISTREAM_MODEL": "bench-model",
        "PERSISTREAM_RATE_LIMIT": "off",
        "PERSISTREAM_MAX_LIVE_STREAMS": "0",
        "PERSISTREAM_MAX_SUBSCRIPTIONS": "1000",
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def persistream_server(
    model: ModelClient, database: str, log_dir: Path, command: Sequence[str] | None = None, **extra: str
) -> Iterator[ServerProcess]:
    """`command` replaces `python -m persistream` (bench/soak/traced_server.py, say)."""
    log_path = log_dir / f"server-{uuid.uuid4().hex}.log"
    env = server_env(model, database, **extra)
    server = (
        ServerProcess(env, log_path=log_path)
        if command is None
        else ServerProcess(env, log_path=log_path, command=command)
    )
    server.start(120)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database on the machine's PostgreSQL, dropped afterwards; its asyncpg URL."""
    import asyncio

    name = f"persistream_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(name))
    try:
        yield database_url(name, "postgresql+asyncpg")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def postgres_redis_cluster(model: ModelClient, log_dir: Path, processes: int = 4) -> Iterator[list[ServerProcess]]:
    """`processes` persistream servers sharing a fresh PostgreSQL database and a Redis of their own, as persistream
    scales out; all stopped, and the database dropped, afterwards."""
    from tests.support.faults import RedisServer

    with contextlib.ExitStack() as stack:
        database = stack.enter_context(postgres_database())
        redis = RedisServer(log_dir / "redis.log").start()
        stack.callback(redis.kill)
        yield [
            stack.enter_context(persistream_server(model, database, log_dir, PERSISTREAM_BROADCAST_URL=redis.url))
            for _ in range(processes)
        ]
