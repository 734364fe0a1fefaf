"""Compaction: a final stream's chunks become one chunk per part (a text-only answer: the one chunk N holding its
whole text).

Invariants:
- Only final streams are compacted, once: `StreamRow.compacted` is set in the same transaction, by a conditional
  update that also checks the stream still ends where it was read, so a second compactor (any process) finds
  nothing to do.
- Every reader sees the same offsets, parts and events before and after: each part's chunk keeps the part's last
  seq, `end_offset` and `part_end`, and a chunk's text always starts at `part_end - len(text)` of its part.
- The old chunks are replaced only if exactly those that were read are still there; otherwise nothing changes.
"""

from __future__ import annotations

from sqlalchemy import delete, false, update
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import ChunkRow, StreamRow
from persistream.db.status import FINAL_STATUSES
from persistream.db.streams import StoredChunk, read_after_seq


async def compact_stream(db: Database, stream_id: str) -> bool:
    """Replace a final stream's chunks by one chunk per part, each holding its whole part; True if it did.

    Each part keeps its last chunk (its seq, `end_offset` and `part_end`), whose text becomes the part's whole
    text; the part's other chunks go. A text-only answer (one part) becomes the one chunk N holding its whole text.
    Readers read a stream and its chunks in one statement, so they see either every old chunk or the new ones.

    One transaction, conditional: its first statement sets `compacted` only if the stream is final, not yet
    compacted and still ends where it was read (the gate: a second compactor, in any process, waits on that row
    and then finds nothing to do), and the old chunks are replaced only if exactly those that were read are
    still there. A final stream with nothing to fold (at most one chunk per part, or chunks that do not start at
    the beginning of their part) is only marked.
    """
    snapshot = await read_after_seq(db, stream_id, 0)
    if snapshot is None:
        return False
    stream, chunks = snapshot.stream, snapshot.chunks
    if stream.status not in FINAL_STATUSES or stream.compacted:
        return False
    parts = _by_part(chunks)
    replace = (
        len(chunks) > len(parts)
        and chunks[-1].seq == stream.last_seq
        and sum(len(c.text) for c in chunks if c.place is None or c.place.kind is None) == stream.length
        and all(group[0].part_end == len(group[0].text) for group in parts)
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
    async with db.session() as session:
        if (await session.execute(gate)).first() is None:
            await session.rollback()
            return False
        if replace:
            kept = [group[-1] for group in parts]
            removed = await session.execute(
                delete(ChunkRow)
                .where(col(ChunkRow.stream_id) == stream_id, col(ChunkRow.seq).not_in([c.seq for c in kept]))
                .execution_options(synchronize_session=False)
            )
            updated = 0
            for group, last in zip(parts, kept, strict=True):
                result = await session.execute(
                    update(ChunkRow)
                    .where(
                        col(ChunkRow.stream_id) == stream_id,
                        col(ChunkRow.seq) == last.seq,
                        col(ChunkRow.end_offset) == last.end_offset,
                    )
                    .values(text="".join(c.text for c in group))
                    .execution_options(synchronize_session=False)
                )
                updated += _rowcount(result)
            if _rowcount(removed) != len(chunks) - len(kept) or updated != len(kept):
                await session.rollback()  # not the chunks that were read: leave them as they are
                return False
        await session.commit()
    return replace


def _by_part(chunks: list[StoredChunk]) -> list[list[StoredChunk]]:
    """The chunks grouped by part, in order (parts follow each other, so each group is one run)."""
    groups: list[list[StoredChunk]] = []
    for chunk in chunks:
        if groups and groups[-1][0].part == chunk.part:
            groups[-1].append(chunk)
        else:
            groups.append([chunk])
    return groups


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
