"""The machine's PostgreSQL and Redis as tests and benchmarks reach them, and fresh databases on it.

PostgreSQL and Redis are shared servers (never stopped); their addresses can be changed with PERSISTREAM_TEST_PG
(an admin DSN) and PERSISTREAM_TEST_REDIS. Every caller makes its own uniquely named database and drops it after.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.db.migrations import upgrade

PG_ADMIN = os.environ.get("PERSISTREAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PERSISTREAM_TEST_REDIS", "redis://127.0.0.1:6379")
T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end on a thread of its own: callable where a loop already runs on this thread
    (Playwright's, in the browser tests), where `asyncio.run` is refused."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


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
    run_apart(_admin(f'CREATE DATABASE "{name}"'))
    if migrate:

        async def run() -> None:
            engine = create_async_engine(pg_url(name))
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        run_apart(run())
    return name


def drop_database(name: str) -> None:
    run_apart(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
