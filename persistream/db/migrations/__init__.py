"""Schema migrations (Alembic), shipped inside the package so `persistream migrate` works from an installed copy.

Every schema change is a revision in `versions/`, numbered 0001, 0002, ... The server never changes a shared
database behind the operator's back: on PostgreSQL it refuses to start until `persistream migrate` has brought the
schema to the newest revision; only the embedded SQLite default is migrated at start-up, so a first run needs no
extra step.

Migrations run on a connection handed to `env.py` (`config.attributes["connection"]`), in one transaction; on
PostgreSQL that transaction first takes an advisory lock, so two `persistream migrate` started at once apply each
revision once (the second waits, then finds nothing left to do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger("persistream.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parent
# The revision whose schema a database made before migrations existed (by `create_all`) already has.
INITIAL_REVISION = "0001"
# Any constant shared by every persistream process: the key of the advisory lock taken while migrating.
_PG_LOCK_KEY = 7_310_552_019
# How long a process starting on an SQLite file waits for another that is migrating it.
MIGRATION_BUSY_TIMEOUT_MS = 60_000


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration revisions are shipped"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


class SchemaNotReady(RuntimeError):
    """The database's schema is not the one this version of persistream needs; the message says what to do."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no revision recorded
    head: str
    has_tables: bool  # persistream's tables exist (with or without a recorded revision)

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        """What an operator must do before the server can use this database, or None when it is ready."""
        if self.at_head:
            return None
        if self.current is None and not self.has_tables:
            return "the database has no persistream schema yet: run `persistream migrate` first"
        if self.current is None:
            return (
                "the database has persistream tables but no recorded schema revision: run `persistream migrate` "
                "(it adopts them)"
            )
        if self.current not in known_revisions():
            return (
                f"the database schema is at revision {self.current}, which this version of persistream does not "
                "know (a newer version migrated it): run the newer version"
            )
        return (
            f"the database schema is at revision {self.current} but this version needs {self.head}: "
            "run `persistream migrate`"
        )


async def schema_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        return await conn.run_sync(_schema_state)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply the revisions up to `revision`; returns the revision before and after."""
    if engine.dialect.name == "sqlite" and not _in_memory(engine):
        engine = _exclusive_sqlite_engine(engine)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(_upgrade, revision)
        finally:
            await engine.dispose()
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, revision)


def _in_memory(engine: AsyncEngine) -> bool:
    """An in-memory SQLite database exists only on its own connection: no other process can race its upgrade."""
    database = engine.url.database or ""
    return database in ("", ":memory:") or engine.url.query.get("mode") == "memory"


def _exclusive_sqlite_engine(engine: AsyncEngine) -> AsyncEngine:
    """An engine on the same SQLite file whose transactions begin with BEGIN IMMEDIATE, so that the whole upgrade
    (reading the revision included) holds the file's write lock: processes started at once on a new file migrate
    one after the other (the later ones wait, then find nothing to do) instead of applying the same revision twice.
    The driver's own transaction handling would begin only at the first INSERT or UPDATE, after the read."""
    exclusive = create_async_engine(engine.url, poolclass=NullPool)

    @event.listens_for(exclusive.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver begins nothing itself; `_begin` does
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={MIGRATION_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(exclusive.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return exclusive


def _schema_state(conn: Connection) -> SchemaState:
    current = MigrationContext.configure(conn).get_current_revision()
    return SchemaState(current, head_revision(), inspect(conn).has_table("streams"))


def _upgrade(conn: Connection, revision: str) -> tuple[str | None, str | None]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = alembic_config(conn)
    before = MigrationContext.configure(conn).get_current_revision()
    if before is None and inspect(conn).has_table("streams"):
        # Made by `create_all` before persistream shipped migrations: that is the initial revision's schema.
        log.info("recording existing tables as schema revision %s", INITIAL_REVISION)
        command.stamp(config, INITIAL_REVISION)
        before = INITIAL_REVISION
    command.upgrade(config, revision)
    after = MigrationContext.configure(conn).get_current_revision()
    return before, after
