"""Fixtures for the scale tests: a fresh PostgreSQL database per run (dropped at the end), the machine's Redis,
and real server processes sharing them. The database helpers live in tests/support/pg.py (benchmarks use them
too) and are importable from here as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI
from tests.support.pg import (  # noqa: F401  (re-exported for the scale tests)
    PG_ADMIN,
    REDIS_URL,
    create_database,
    drop_database,
    pg_port,
    pg_url,
)
from tests.support.server import START_TIMEOUT, ServerProcess, start_servers, stop_servers  # noqa: F401

ScaleServerFactory = Callable[..., list[ServerProcess]]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One fresh database for the whole run; tests share it (every stream has its own random id)."""
    name = create_database()
    yield name
    drop_database(name)


@pytest.fixture
def make_scale_servers(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[ScaleServerFactory]:
    """`count` server processes on PostgreSQL and Redis (the shared Redis by default), started side by side;
    all are stopped at the test's end."""
    started: list[ServerProcess] = []

    def make(
        count: int, database_url: str, broadcast_url: str = REDIS_URL, *, workers: int = 1, **env: str
    ) -> list[ServerProcess]:
        processes = [
            ServerProcess(
                server_env(
                    fake_openai,
                    tmp_path / "unused.db",
                    PERSISTREAM_DATABASE_URL=database_url,
                    PERSISTREAM_BROADCAST_URL=broadcast_url,
                    **env,
                ),
                log_path=tmp_path / f"server-{len(started) + i}.log",
                workers=workers,
            )
            for i in range(count)
        ]
        started.extend(processes)
        start_servers(*processes)
        return processes

    yield make
    stop_servers(*started)
