"""Compaction: a final stream's chunks 1..N become the one chunk N holding its whole text.

Invariants:
- Only final streams are compacted, once: `StreamRow.compacted` is set in the same transaction, by a conditional
  update that also checks the stream still ends where it was read, so a second compactor (any process) finds
  nothing to do.
- Every reader sees the same offsets, text and events before and after: the one chunk keeps the last seq and
  `end_offset` = length, and a chunk's text always starts at `end_offset - len(text)`.
- The old chunks are replaced only if exactly those that were read are still there; otherwise nothing changes.
"""

from __future__ import annotations

from sqlalchemy import delete, false, update
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import ChunkRow, StreamRow
from persistream.db.status import FINAL_STATUSES
from persistream.db.streams import read_after_seq


async def compact_stream(db: Database, stream_id: str) -> bool:
    """Replace a final stream's chunks 1..N by the one chunk N holding its whole text; True if it did.

    Readers read a stream and its chunks in one statement, so they see either every old chunk or the new one.

    One transaction, conditional: its first statement sets `compacted` only if the stream is final, not yet
    compacted and still ends where it was read (the gate: a second compactor, in any process, waits on that row
    and then finds nothing to do), and the old chunks are replaced only if exactly those that were read are
    still there. A final stream with at most one chunk (or chunks that do not start at offset 0) is only marked.
    """
    snapshot = await read_after_seq(db, stream_id, 0)
    if snapshot is None:
        return False
    stream, chunks = snapshot.stream, snapshot.chunks
    if stream.status not in FINAL_STATUSES or stream.compacted:
        return False
    whole = "".join(c.text for c in chunks)
    replace = (
        len(chunks) > 1
        and chunks[-1].seq == stream.last_seq
        and chunks[-1].end_offset == stream.length == len(whole)
        and chunks[0].end_offset == len(chunks[0].text)
    )
    gate = (
        update(StreamRow)
        .where(
            col(StreamRow.id) == stream_id,
            col(StreamRow.status).in_(FINAL_STATUSES),
            col(StreamRow.compacted) == false(),
            col(StreamRow.last_seq) == stream.last_seq,
            col(StreamRow.length) == stream.length,
        )
        .values(compacted=True)
        .returning(col(StreamRow.id))
    )
    last = chunks[-1] if chunks else None
    async with db.session() as session:
        if (await session.execute(gate)).first() is None:
            await session.rollback()
            return False
        if replace and last is not None:
            removed = await session.execute(
                delete(ChunkRow)
                .where(col(ChunkRow.stream_id) == stream_id, col(ChunkRow.seq) < last.seq)
                .execution_options(synchronize_session=False)
            )
            kept = await session.execute(
                update(ChunkRow)
                .where(
                    col(ChunkRow.stream_id) == stream_id,
                    col(ChunkRow.seq) == last.seq,
                    col(ChunkRow.end_offset) == last.end_offset,
                )
                .values(text=whole)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(removed) != len(chunks) - 1 or _rowcount(kept) != 1:
                await session.rollback()  # not the chunks that were read: leave them as they are
                return False
        await session.commit()
    return replace


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", -1)
    return count if isinstance(count, int) else -1


async def mark_short_streams_compacted(db: Database) -> int:
    """Final streams of at most one chunk need no compaction: mark them in one statement (sweeper)."""
    statement = (
        update(StreamRow)
        .where(
            col(StreamRow.status).in_(FINAL_STATUSES),
            col(StreamRow.compacted) == false(),
            col(StreamRow.last_seq) <= 1,
        )
        .values(compacted=True)
        .execution_options(synchronize_session=False)
    )
    async with db.session() as session:
        result = await session.execute(statement)
        await session.commit()
    return max(0, _rowcount(result))


async def streams_to_compact(db: Database, limit: int) -> list[str]:
    """Final streams not yet compacted (one range per final status of ix_streams_status_compacted)."""
    statement = (
        select(StreamRow.id)
        .where(col(StreamRow.status).in_(FINAL_STATUSES), col(StreamRow.compacted) == false())
        .limit(limit)
    )
    async with db.session() as session:
        return list((await session.execute(statement)).scalars().all())
