"""The async engine and session factory: SQLite tuned for many readers and one writer at a time, PostgreSQL with
a small pool that survives a server restart.

PostgreSQL: `pool_pre_ping` replaces connections a restart killed before they are handed out, and every
connect and statement has a time limit, so a database that stops answering (rather than refusing) turns into an
error the caller can retry instead of a wait without end.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from persistream.db import (
    migrations,
    models,  # noqa: F401  (registers the tables on SQLModel.metadata)
)

log = logging.getLogger("persistream.db")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Seconds to open a PostgreSQL connection, and for one statement (persistream's are all small).
PG_CONNECT_TIMEOUT = 5.0
PG_STATEMENT_TIMEOUT = 15.0


class Database:
    """Owns the engine; `session()` opens a short unit of work. Never hold one across a model await.

    `statement_timeout=None` lifts the per-statement limit (migrations may rebuild large tables).
    """

    def __init__(self, url: str, *, echo: bool = False, statement_timeout: float | None = PG_STATEMENT_TIMEOUT) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            # Several server processes share one PostgreSQL (100 connections by default): keep each pool small.
            connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT}
            if statement_timeout is not None:
                connect_args["command_timeout"] = statement_timeout
            kwargs.update(pool_size=5, max_overflow=15, pool_timeout=10, pool_pre_ping=True, connect_args=connect_args)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def schema_state(self) -> migrations.SchemaState:
        return await migrations.schema_state(self.engine)

    async def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply the schema migrations up to `revision`; returns the revision before and after."""
        return await migrations.upgrade(self.engine, revision)

    async def prepare_schema(self) -> None:
        """Make sure the schema is this version's before serving.

        The embedded SQLite database is migrated here, so a first run needs no extra step. A shared database
        (PostgreSQL) is left to the operator's `persistream migrate`: several processes start against it, and a
        schema change should be a decision, not a side effect of a deploy. Raises `SchemaNotReady` saying what to do.
        """
        if self.is_sqlite:
            before, after = await self.upgrade()
            if before != after:
                log.info("database schema upgraded from revision %s to %s", before or "none", after)
            return
        problem = (await self.schema_state()).problem()
        if problem is not None:
            raise migrations.SchemaNotReady(problem)

    async def create_tables(self) -> None:
        """Bring the schema to the newest revision (what `persistream migrate` does); for embedded use."""
        await self.upgrade()

    async def close(self) -> None:
        await self.engine.dispose()


def _tune_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
