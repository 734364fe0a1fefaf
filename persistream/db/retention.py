"""Retention's deletes: threads past the retention period go with their messages, streams and chunks.

Invariants:
- A thread is past retention (`_expired`) only if it was created before the cutoff and no message of it was
  created since, nor any answer of it is live or ended since; every delete re-checks that in its own WHERE.
- Any number of processes may expire at once: each thread is deleted by one of them, and a thread that gets a
  new message or a live answer meanwhile is left alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import ChunkRow, MessageRow, StreamRow, ThreadRow
from persistream.db.status import LIVE_STATUSES

# Stream ids per statement when a batch of expired threads is deleted (far below any driver's parameter limit).
_ID_SLICE = 500


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    """A thread past retention: created before `cutoff`, and no message of it created since, nor any answer of it
    live (PENDING/STREAMING) or ended since. Correlated to `threads`, so it re-checks inside any statement."""
    message, stream = aliased(MessageRow), aliased(StreamRow)
    keeps_it = (
        select(col(message.id))
        .join(stream, col(stream.id) == col(message.response_stream_id))
        .where(
            col(message.thread_id) == col(ThreadRow.id),
            or_(
                col(message.created_at) >= cutoff,
                col(stream.status).in_(LIVE_STATUSES),
                col(stream.updated_at) >= cutoff,
            ),
        )
    )
    return and_(col(ThreadRow.created_at) < cutoff, ~keeps_it.exists())


async def expire_threads(db: Database, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` threads past retention (`_expired`), with their messages, streams and chunks, in one
    transaction; returns how many threads this call deleted.

    Safe with any number of processes doing the same: the candidates are picked first (on PostgreSQL locked with
    SKIP LOCKED, so two sweepers take different threads and a new message waits for the lock), and every delete
    re-checks the condition in its own WHERE, so a thread another sweeper took, or that got a new message or a live
    answer in between, is left alone. On SQLite the first delete opens the write transaction: from there on no
    other writer runs until the commit, so the later statements see what it saw.
    """
    expired = _expired(cutoff)
    pick = (
        select(col(ThreadRow.id))
        .where(expired)
        .order_by(col(ThreadRow.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with db.session() as session:
        candidates = list((await session.execute(pick)).scalars())
        if not candidates:
            return 0
        still_expired = select(col(ThreadRow.id)).where(col(ThreadRow.id).in_(candidates), expired)
        stream_ids = list(
            (
                await session.execute(
                    delete(MessageRow)
                    .where(col(MessageRow.thread_id).in_(still_expired))
                    .returning(col(MessageRow.response_stream_id))
                )
            ).scalars()
        )
        for start in range(0, len(stream_ids), _ID_SLICE):
            ids = stream_ids[start : start + _ID_SLICE]
            await session.execute(delete(ChunkRow).where(col(ChunkRow.stream_id).in_(ids)))
            await session.execute(delete(StreamRow).where(col(StreamRow.id).in_(ids)))
        deleted = (
            await session.execute(
                delete(ThreadRow)
                .where(col(ThreadRow.id).in_(candidates), expired)
                .returning(col(ThreadRow.id))
                .execution_options(synchronize_session=False)
            )
        ).all()
        await session.commit()
    return len(deleted)


async def count_rows(db: Database) -> dict[str, int]:
    """Row counts per table (tests and health checks: what retention left)."""
    counts: dict[str, int] = {}
    async with db.session() as session:
        for name, model in (
            ("threads", ThreadRow),
            ("messages", MessageRow),
            ("streams", StreamRow),
            ("chunks", ChunkRow),
        ):
            counts[name] = (await session.execute(select(func.count()).select_from(model))).scalar_one()
    return counts
