"""Schema migrations (Alembic), shipped inside the package so `persistream migrate` works from an installed copy.

Every schema change is a revision in `versions/`, numbered 0001, 0002, ... The server never changes a shared
database behind the operator's back: on PostgreSQL it refuses to start until `persistream migrate` has brought the
schema to the newest revision; only the embedded SQLite default is migrated at start-up, so a first run needs no
extra step.

Migrations run on a connection handed to `env.py` (`config.attributes["connection"]`), in one transaction; on
PostgreSQL that transaction first takes an advisory lock, so two `persistream migrate` started at once apply each
revision once (the second waits, then finds nothing left to do).

The history is recorded in persistream's own version table, `persistream_alembic_version`, never in Alembic's
default `alembic_version`, which an app sharing the database keeps for its own history (`history.py`, which also
moves the history of a deployment from before). With PERSISTREAM_TABLE_PREFIX every table, index and the version
table are named behind the prefix (`names.py`), so deployments with different prefixes share a database apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from persistream.db.migrations import history
from persistream.db.prefix import version_table

log = logging.getLogger("persistream.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parent
# The revision whose schema a database made before migrations existed (by `create_all`) already has.
INITIAL_REVISION = "0001"
# Any constant shared by every persistream process: the key of the advisory lock taken while migrating.
_PG_LOCK_KEY = 7_310_552_019
# How long a process starting on an SQLite file waits for another that is migrating it.
MIGRATION_BUSY_TIMEOUT_MS = 60_000


def alembic_config(connection: Connection | None = None, table_prefix: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["table_prefix"] = table_prefix
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
    prefix: str = ""
    # persistream's revision as a version from before its own version table recorded it in `alembic_version`.
    legacy: str | None = None
    # `alembic_version` holds another history (an app's own): persistream leaves it alone.
    foreign: bool = False

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def version_table(self) -> str:
        return version_table(self.prefix)

    def describe_current(self) -> str:
        """The recorded revision, for a report: where it is when that is not persistream's own version table."""
        if self.current is None and self.legacy is not None:
            return f"{self.legacy} (recorded in {history.LEGACY_VERSION_TABLE} by an older version)"
        return self.current or "none"

    def problem(self) -> str | None:
        """What an operator must do before the server can use this database, or None when it is ready."""
        if self.at_head:
            return None
        if self.current is None and self.legacy is not None:
            return (
                f"persistream's schema history (revision {self.legacy}) is still in {history.LEGACY_VERSION_TABLE}, "
                f"where versions before this one kept it: run `persistream migrate` (it moves it to "
                f"{version_table(self.prefix)})"
            )
        if self.current is None and not self.has_tables:
            beside = (
                f" (the Alembic history in {history.LEGACY_VERSION_TABLE} is another app's and stays as it is)"
                if self.foreign
                else ""
            )
            return f"the database has no persistream schema yet{beside}: run `persistream migrate` first"
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


async def schema_state(engine: AsyncEngine, table_prefix: str = "") -> SchemaState:
    async with engine.connect() as conn:
        return await conn.run_sync(_schema_state, table_prefix)


async def upgrade(engine: AsyncEngine, revision: str = "head", table_prefix: str = "") -> tuple[str | None, str | None]:
    """Apply the revisions up to `revision`; returns the revision before and after. Raises `SchemaNotReady` for
    a database this version cannot upgrade (a newer version's revision)."""
    if engine.dialect.name == "sqlite" and not _in_memory(engine):
        engine = _exclusive_sqlite_engine(engine)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(_upgrade, revision, table_prefix)
        finally:
            await engine.dispose()
    async with engine.begin() as conn:
        return await conn.run_sync(_upgrade, revision, table_prefix)


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


def _schema_state(conn: Connection, prefix: str) -> SchemaState:
    current = history.current_revision(conn, prefix)
    known = known_revisions()
    return SchemaState(
        current,
        head_revision(),
        inspect(conn).has_table(f"{prefix}streams"),
        prefix,
        legacy=history.legacy_revision(conn, prefix, known) if current is None else None,
        foreign=history.foreign_history(conn, known),
    )


def _upgrade(conn: Connection, revision: str, prefix: str) -> tuple[str | None, str | None]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = alembic_config(conn, prefix)
    state = _schema_state(conn, prefix)
    if state.current is not None and state.current not in known_revisions():
        raise SchemaNotReady(state.problem() or "")
    before = state.current
    if before is None and state.legacy is not None:
        # A deployment from before persistream's own version table: its history moves there.
        command.stamp(config, state.legacy)
        history.forget_legacy(conn, state.legacy)
        before = state.legacy
    elif before is None and state.has_tables:
        # Made by `create_all` before persistream shipped migrations: that is the initial revision's schema.
        log.info("recording existing tables as schema revision %s", INITIAL_REVISION)
        command.stamp(config, INITIAL_REVISION)
        before = INITIAL_REVISION
    command.upgrade(config, revision)
    return before, history.current_revision(conn, prefix)
