"""The async engine and session factory: SQLite tuned for many readers and one writer at a time, PostgreSQL with
a small pool that survives a server restart.

SQLite: one writer path per process. Every session's first write waits on one asyncio lock, held until its commit,
rollback or close, so this process's writers queue in order on the event loop instead of colliding inside SQLite,
where the loser sleeps in the busy handler (1, 2, 5, ... up to 100 ms per try) while the lock it waits for was free
long ago. Reads take no lock (WAL readers never wait for the writer). Other processes on the same file are still
kept apart by SQLite itself: `busy_timeout` stays for them.

PostgreSQL: `pool_pre_ping` replaces connections a restart killed before they are handed out, and every
connect and statement has a time limit, so a database that stops answering (rather than refusing) turns into an
error the caller can retry instead of a wait without end.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DataError, IntegrityError, NotSupportedError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from persistream.db import (
    migrations,
    models,  # noqa: F401  (registers the tables on SQLModel.metadata)
    prefix,
)

log = logging.getLogger("persistream.db")


# SQLSTATE classes of a statement refused for what it holds: data (22), integrity (23), syntax or access (42).
_REFUSED_SQLSTATE_CLASSES = ("22", "23", "42")


def is_transient(exc: Exception) -> bool:
    """Whether trying a failed database call again can cure it (a lost or refused connection, a timeout, a busy or
    restarting server); a refused statement (constraint, syntax, data) fails the same way every time."""
    # A value the driver cannot encode (a lone surrogate: UnicodeEncodeError) fails the same way on every try.
    if isinstance(exc, (IntegrityError, ProgrammingError, DataError, NotSupportedError, ValueError)):
        return False
    # asyncpg's data errors (PostgreSQL refusing NUL in text, say) reach SQLAlchemy as a bare DBAPIError.
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return not (isinstance(sqlstate, str) and sqlstate.startswith(_REFUSED_SQLSTATE_CLASSES))


SQLITE_BUSY_TIMEOUT_MS = 10_000
# Seconds to open a PostgreSQL connection, and for one statement (persistream's are all small).
PG_CONNECT_TIMEOUT = 5.0
PG_STATEMENT_TIMEOUT = 15.0


class Database:
    """The engine and its sessions; `session()` opens a short unit of work. Never hold one across a model await.

    Made from a URL, it creates and owns its engine. Made with `engine=`, an app's own `AsyncEngine` (a database
    shared with the app), it uses that engine as the app configured it and never disposes of it: `close` leaves it
    to the app. `table_prefix` (PERSISTREAM_TABLE_PREFIX) names persistream's tables behind a prefix on this engine.
    `statement_timeout=None` lifts the per-statement limit (migrations may rebuild large tables).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: AsyncEngine | None = None,
        table_prefix: str = "",
        echo: bool = False,
        statement_timeout: float | None = PG_STATEMENT_TIMEOUT,
    ) -> None:
        if (url is None) == (engine is None):
            raise TypeError("Database needs either a URL or an engine (engine=...), not both")
        self.owns_engine = engine is None
        if engine is None:
            assert url is not None
            engine = _create_engine(url, echo=echo, statement_timeout=statement_timeout)
        self.engine: AsyncEngine = engine
        self.url = url if url is not None else engine.url.render_as_string(hide_password=True)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.table_prefix = prefix.check_prefix(table_prefix)
        prefix.bind(engine.sync_engine.dialect, table_prefix)
        session_class: type[AsyncSession] = SerializedWriteSession if self.is_sqlite else AsyncSession
        options: dict[str, Any] = {"write_lock": asyncio.Lock()} if self.is_sqlite else {}
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=session_class, **options)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def schema_state(self) -> migrations.SchemaState:
        return await migrations.schema_state(self.engine, self.table_prefix)

    async def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply the schema migrations up to `revision`; returns the revision before and after."""
        return await migrations.upgrade(self.engine, revision, self.table_prefix)

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

    async def reachable(self) -> bool:
        """Whether the database answers a trivial query now (a health check: never raises)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def pool_connections(self) -> tuple[int, int] | None:
        """(checked out, idle in the pool) for a pool that counts them (SQLite files and PostgreSQL have a queue
        pool); None for one that does not (an in-memory SQLite database keeps one static connection)."""
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            return pool.checkedout(), pool.checkedin()
        return None

    async def close(self) -> None:
        """Close the connections of an engine this object made; an app's own engine stays open (it is the app's)."""
        if self.owns_engine:
            await self.engine.dispose()


def _create_engine(url: str, *, echo: bool, statement_timeout: float | None) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    sqlite = url.startswith("sqlite")
    if not sqlite:
        # Several server processes share one PostgreSQL (100 connections by default): keep each pool small.
        connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT}
        if statement_timeout is not None:
            connect_args["command_timeout"] = statement_timeout
        kwargs.update(pool_size=5, max_overflow=15, pool_timeout=10, pool_pre_ping=True, connect_args=connect_args)
    engine = create_async_engine(url, **kwargs)
    if sqlite:
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


class SerializedWriteSession(AsyncSession):
    """An AsyncSession that takes the process's SQLite write lock before its first write and gives it back when its
    transaction ends. A write is a DML statement, or a flush or commit with pending changes (autoflush included)."""

    def __init__(self, *args: Any, write_lock: asyncio.Lock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_lock = write_lock
        self._holds_write_lock = False

    def _has_changes(self) -> bool:
        return bool(self.new or self.dirty or self.deleted)

    async def _before_write(self) -> None:
        if not self._holds_write_lock:
            # The connection first, then the lock, in every unit of work. Units that read before they write hold
            # a connection while they queue for the lock; one that took the lock first and then waited for a
            # connection, with the pool full of those, would wait for them as they wait for it (until the pool's
            # timeout): under load, every database call of the process then failed at once.
            await self.connection()
            await self._write_lock.acquire()
            self._holds_write_lock = True

    def _after_transaction(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            self._write_lock.release()

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(statement, "is_dml", False) or self._has_changes():
            await self._before_write()
        return await super().execute(statement, *args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        if self._has_changes():
            await self._before_write()
        await super().flush(objects)

    async def commit(self) -> None:
        if self._has_changes():
            await self._before_write()
        try:
            await super().commit()
        finally:
            self._after_transaction()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._after_transaction()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._after_transaction()


def _tune_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # The busy timeout first: switching a new file to WAL needs its lock, which another process may hold.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode=WAL`, tried again while the file is locked. Switching a file to WAL needs it to
    itself, and SQLite may answer "locked" at once, without waiting out the busy timeout, while another process
    holds it (one migrating the new file as it starts, beside this one): each try is quick, so wait and retry
    until the busy timeout instead of failing the start."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # at connect only, and only while another process holds the file
