"""Where persistream's Alembic history is recorded, and how a history from before it had its own table moves there.

persistream records its revision in its own version table, `persistream_alembic_version` (behind the table
prefix), so that an app's own Alembic history in the same database, in Alembic's default `alembic_version`, is
never read or written by persistream. Versions before this one used `alembic_version`; their history moves by
itself on the next upgrade (`move_legacy`):

- only without a table prefix (the prefix is newer than the move: a prefixed deployment never had the old table),
  only while persistream's own version table records nothing, and only when persistream's tables exist;
- only the row holding one of persistream's own revisions is taken; every other row stays as it is;
- `alembic_version` is dropped when that row was its only one, as if persistream had never used it (Alembic
  creates it again whenever an app's own history needs it); otherwise it stays with the app's rows untouched.
"""

from __future__ import annotations

import logging

from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from persistream.db.prefix import version_table

log = logging.getLogger("persistream.migrations")

# Alembic's default version table, where versions of persistream before their own table recorded their revision.
LEGACY_VERSION_TABLE = "alembic_version"


def current_revision(conn: Connection, prefix: str) -> str | None:
    """The revision recorded in this deployment's own version table (None: none recorded)."""
    return migration_context(conn, prefix).get_current_revision()


def migration_context(conn: Connection, prefix: str) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": version_table(prefix)})


def legacy_revision(conn: Connection, prefix: str, known: set[str]) -> str | None:
    """The persistream revision a version from before persistream's own version table left in `alembic_version`,
    when it is there to be moved (see the module's rules); None otherwise."""
    found = inspect(conn)
    if prefix or not found.has_table(LEGACY_VERSION_TABLE) or not found.has_table("streams"):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).scalars().all()
    ours = [str(row) for row in rows if row in known]
    return ours[0] if len(ours) == 1 else None


def foreign_history(conn: Connection, known: set[str]) -> bool:
    """Whether `alembic_version` holds another history's revisions (an app's own)."""
    if not inspect(conn).has_table(LEGACY_VERSION_TABLE):
        return False
    rows = conn.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).scalars().all()
    return any(row not in known for row in rows)


def forget_legacy(conn: Connection, revision: str) -> None:
    """Take persistream's row out of `alembic_version` (after its revision is recorded in its own table); drop the
    table when nothing else is left in it."""
    conn.execute(text(f"DELETE FROM {LEGACY_VERSION_TABLE} WHERE version_num = :revision"), {"revision": revision})
    if not conn.execute(text(f"SELECT count(*) FROM {LEGACY_VERSION_TABLE}")).scalar():
        conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))
        log.info("dropped %s: it held only persistream's revision", LEGACY_VERSION_TABLE)
    log.info("moved schema revision %s from %s to %s", revision, LEGACY_VERSION_TABLE, version_table(""))
