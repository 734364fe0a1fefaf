"""A thread's read-only share token: store one, find a thread by it, revoke it.

Invariants:
- A thread has at most one token at a time; two racing shares agree on one (a conditional update stores a token
  only where there is none), and revoking clears it, so a later share draws a new one.
- A token that no share could have produced (not ASCII, or holding NUL) matches no thread, and never reaches the
  database as a parameter.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import ThreadRow
from persistream.db.updates import update_returning


async def thread_by_share_token(db: Database, token: str) -> ThreadRow | None:
    # Every token is URL-safe ASCII (`secrets.token_urlsafe`). Other text matches none, and some of it (a lone
    # surrogate; NUL on PostgreSQL) no database would even take as a parameter.
    if not token.isascii() or "\x00" in token:
        return None
    async with db.session() as session:
        rows = await session.execute(select(ThreadRow).where(col(ThreadRow.share_token) == token))
        return rows.scalars().first()


async def share_thread(db: Database, thread_id: str, candidate: str) -> str | None:
    """The thread's share token, storing `candidate` if it has none; None if the thread is gone.

    The conditional UPDATE makes two racing shares agree on one token."""
    async with db.session() as session:
        await session.execute(
            update(ThreadRow)
            .where(col(ThreadRow.id) == thread_id, col(ThreadRow.share_token).is_(None))
            .values(share_token=candidate)
        )
        await session.commit()
        row = await session.get(ThreadRow, thread_id, populate_existing=True)
        return None if row is None else row.share_token


async def unshare_thread(db: Database, thread_id: str) -> bool:
    """Clear the thread's share token; True if it had one."""
    statement = (
        update(ThreadRow)
        .where(col(ThreadRow.id) == thread_id, col(ThreadRow.share_token).is_not(None))
        .values(share_token=None)
        .returning(col(ThreadRow.id))
    )
    return bool(await update_returning(db, statement))
