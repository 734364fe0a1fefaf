"""The queries behind the per-identity limits, shared by every process through the database."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from persistream.db.database import Database
from persistream.db.models import RateWindowRow
from persistream.db.threads import live_streams_count


async def count_call(db: Database, owner: str, window_start: int) -> int:
    """Add one call to the owner's window and return the window's count, in one atomic statement (racing
    processes each see a distinct count)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(RateWindowRow).values(owner=owner, window_start=window_start, count=1)
    statement = insert.on_conflict_do_update(
        index_elements=[RateWindowRow.owner, RateWindowRow.window_start],
        set_={"count": RateWindowRow.count + 1},
    ).returning(RateWindowRow.count)
    async with db.session() as session:
        count = int((await session.execute(statement)).scalar_one())
        if count == 1:  # the first call of a new window: the owner's older windows are of no more use
            await session.execute(
                delete(RateWindowRow).where(
                    col(RateWindowRow.owner) == owner, col(RateWindowRow.window_start) < window_start
                )
            )
        await session.commit()
    return count


async def count_live_streams(db: Database, owner: str) -> int:
    """Streams PENDING or STREAMING in the owner's threads."""
    async with db.session() as session:
        return int((await session.execute(live_streams_count(owner))).scalar_one())
