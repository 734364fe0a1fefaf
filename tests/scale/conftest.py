"""Fixtures for the scale tests: a fresh PostgreSQL database per run (dropped at the end), the machine's Redis,
and real server processes sharing them.

PostgreSQL and Redis are the machine's shared servers (never stopped); their addresses can be changed with
PERSISTREAM_TEST_PG (an admin DSN) and PERSISTREAM_TEST_REDIS.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.db.migrations import upgrade
from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

PG_ADMIN = os.environ.get("PERSISTREAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PERSISTREAM_TEST_REDIS", "redis://127.0.0.1:6379")

ScaleServerFactory = Callable[..., list[ServerProcess]]
# Seconds a server may take to start: generous, as imports crawl on a busy two-core machine.
START_TIMEOUT = 90.0


def start_servers(*processes: ServerProcess) -> None:
    """Start the processes side by side (their imports run in parallel), each waited for until it answers."""
    with ThreadPoolExecutor(len(processes)) as pool:
        for future in [pool.submit(p.start, START_TIMEOUT) for p in processes]:
            future.result()


def pg_url(database: str, *, port: int | None = None, driver: str = "postgresql+asyncpg") -> str:
    """A URL for `database` on the test PostgreSQL (optionally through another port, such as a proxy's)."""
    admin = PG_ADMIN.split("://", 1)[1]
    credentials, _, rest = admin.rpartition("@")
    hostport = rest.split("/", 1)[0]
    host, _, default_port = hostport.partition(":")
    return f"{driver}://{credentials}@{host}:{port or default_port or 5432}/{database}"


def pg_port() -> int:
    return int(pg_url("x").rsplit(":", 1)[1].split("/", 1)[0])


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(*, migrate: bool = True) -> str:
    """A new, uniquely named database (migrated to the newest revision unless told otherwise); its name."""
    name = f"persistream_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    if migrate:

        async def run() -> None:
            engine = create_async_engine(pg_url(name))
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(run())
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
    for process in started:
        process.stop()
