"""The one shape of a state change: a conditional `UPDATE ... WHERE ... RETURNING`, committed on its own.

The WHERE clause is the whole decision. Racing writers, in this process or another, each run the statement; the
database lets exactly one of them match the row, and only that one gets the row's id back. Nothing is read first
and decided in Python, so there is no window between a check and the write.
"""

from __future__ import annotations

from sqlalchemy.sql.dml import ReturningUpdate

from persistream.db.database import Database


async def update_returning(db: Database, *statements: ReturningUpdate[str]) -> list[str]:
    """Run the statements, in order, in one transaction and commit it; the ids they returned (none: nothing
    matched, this caller lost or had nothing to do)."""
    async with db.session() as session:
        changed = [row[0] for statement in statements for row in await session.execute(statement)]
        await session.commit()
    return changed
