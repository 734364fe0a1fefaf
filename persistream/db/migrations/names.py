"""The names the revisions give persistream's tables and indexes: the plain name behind the deployment's
PERSISTREAM_TABLE_PREFIX (handed to Alembic as `config.attributes["table_prefix"]`).

Every revision names what it creates, alters or drops through `name(...)`, so one set of revisions serves any
prefix, and two deployments with two prefixes keep their tables, indexes and histories apart in one database.
PostgreSQL names a table's constraints after the table, so they follow the prefix by themselves.
"""

from __future__ import annotations

from alembic import context


def prefix() -> str:
    value = context.config.attributes.get("table_prefix", "")
    return value if isinstance(value, str) else ""


def name(plain: str) -> str:
    """A table's or index's name in this deployment."""
    return prefix() + plain
