"""Streams and their chunks: create, claim, append, heartbeats, stop requests, the timeouts sweep, the final status
and the reads of a body.

Invariants:
- The status moves PENDING -> STREAMING -> final, or PENDING -> final, each step one conditional update
  (`updates.update_returning`), so exactly one claimer, one final status and one sweeper decision win per stream,
  whatever races, in any process.
- Only the generation holding the claim (`generation_id`) appends, and only the next chunk (`last_seq + 1`): the
  row's `last_seq` and `length` are written in the transaction that stores the chunks they describe.
- A read of a stream and its chunks is one statement, and takes only the chunks the row accounts for
  (`seq <= last_seq`), so a reader never sees a final status without the text before it, even across a
  compaction (`compaction.compact_stream`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import ChunkRow, StreamRow, utcnow
from persistream.db.status import StreamStatus
from persistream.db.updates import update_returning


@dataclass(frozen=True, slots=True)
class PartPlace:
    """Which part a chunk's text belongs to, and where in that part it ends (`engine/log.py` reads it)."""

    part: int
    kind: str | None  # None: TEXT
    tool_name: str | None
    tool_call_id: str | None
    is_error: bool | None
    part_end: int


@dataclass(frozen=True)
class StoredChunk:
    """One chunk row. `place` is None for TEXT part 0 (a text-only answer's only part), as stored."""

    seq: int
    text: str
    end_offset: int
    place: PartPlace | None = None

    @property
    def part(self) -> int:
        return 0 if self.place is None else self.place.part

    @property
    def part_end(self) -> int:
        """Code points of this chunk's part through it (TEXT part 0: the TEXT through it)."""
        return self.end_offset if self.place is None else self.place.part_end

    def row(self, stream_id: str) -> dict[str, object]:
        values: dict[str, object] = {
            "stream_id": stream_id,
            "seq": self.seq,
            "text": self.text,
            "end_offset": self.end_offset,
        }
        # One executemany needs the same keys in every row: TEXT part 0 names its part columns too, as NULL.
        values.update(dict.fromkeys(PART_COLUMNS) if self.place is None else asdict(self.place))
        return values


PART_COLUMNS = tuple(f.name for f in fields(PartPlace))


# A chunk's columns in `StoredChunk`'s order, then its place's, read as plain values (no ORM object per chunk).
CHUNK_COLUMNS = (
    col(ChunkRow.seq),
    col(ChunkRow.text),
    col(ChunkRow.end_offset),
    *(col(getattr(ChunkRow, name)) for name in PART_COLUMNS),
)


@dataclass(frozen=True)
class TokenCounts:
    """Tokens the model reported for a whole answer; None where it did not say."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class StreamSnapshot:
    """A stream row and the chunks after some point, read consistently."""

    stream: StreamRow
    chunks: list[StoredChunk]


async def create_stream(db: Database, stream_id: str) -> StreamRow:
    row = StreamRow(id=stream_id)
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return row


async def get_stream(db: Database, stream_id: str) -> StreamRow | None:
    async with db.session() as session:
        return await session.get(StreamRow, stream_id)


async def status_of(db: Database, stream_id: str) -> StreamStatus | None:
    row = await get_stream(db, stream_id)
    return None if row is None else StreamStatus(row.status)


async def claim_stream(db: Database, stream_id: str, generation_id: str) -> bool:
    """PENDING -> STREAMING for exactly one caller, whatever races."""
    now = utcnow()
    statement = (
        update(StreamRow)
        .where(col(StreamRow.id) == stream_id, col(StreamRow.status) == StreamStatus.PENDING)
        .values(status=StreamStatus.STREAMING, generation_id=generation_id, heartbeat_at=now, updated_at=now)
        .returning(col(StreamRow.id))
    )
    return bool(await update_returning(db, statement))


def _owned_by(stream_id: str, generation_id: str) -> tuple[ColumnElement[bool], ...]:
    """The stream while it is live and `generation_id` is the one generation allowed to write it."""
    return (
        col(StreamRow.id) == stream_id,
        col(StreamRow.status) == StreamStatus.STREAMING,
        col(StreamRow.generation_id) == generation_id,
    )


async def append_chunks(db: Database, stream_id: str, generation_id: str, chunks: Sequence[StoredChunk]) -> bool:
    """Store consecutive chunks in one transaction if `generation_id` still owns the live stream.

    Returns False when the stream is no longer this generation's to write (cancelled by force, timed out by a
    sweeper, deleted): the generation must stop.
    """
    now = utcnow()
    last = chunks[-1]
    statement = (
        update(StreamRow)
        .where(*_owned_by(stream_id, generation_id), col(StreamRow.last_seq) == chunks[0].seq - 1)
        .values(last_seq=last.seq, length=last.end_offset, heartbeat_at=now, updated_at=now)
        .returning(col(StreamRow.id))
    )
    async with db.session() as session:
        if (await session.execute(statement)).first() is None:
            await session.rollback()
            return False
        await session.execute(insert(ChunkRow), [c.row(stream_id) for c in chunks])
        await session.commit()
    return True


async def finish_generation(
    db: Database,
    stream_id: str,
    generation_id: str,
    status: str,
    error: str | None,
    *,
    stored_through: tuple[int, int] | None = None,
    tokens: TokenCounts | None = None,
) -> bool:
    """The generation's own final status (its last chunk already stored). False if it no longer owns the stream.

    `stored_through=(seq, length)` is for a generation that gave up on the database: a write whose answer was lost
    in the outage may have landed after all, so chunks past `seq` are removed in the same transaction, and the
    stored text ends exactly where the driver was told it ends.
    """
    # An answer of at most one chunk has nothing to compact: marked here, it costs no later write.
    values: dict[str, object] = {
        "status": status,
        "error": error,
        "updated_at": utcnow(),
        "compacted": col(StreamRow.last_seq) <= 1,
    }
    if tokens is not None:
        values.update(
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            reasoning_tokens=tokens.reasoning_tokens,
        )
    if stored_through is not None:
        values.update(last_seq=stored_through[0], length=stored_through[1], compacted=stored_through[0] <= 1)
    statement = (
        update(StreamRow).where(*_owned_by(stream_id, generation_id)).values(**values).returning(col(StreamRow.id))
    )
    async with db.session() as session:
        done = (await session.execute(statement)).first() is not None
        if done and stored_through is not None:
            await session.execute(
                delete(ChunkRow).where(col(ChunkRow.stream_id) == stream_id, col(ChunkRow.seq) > stored_through[0])
            )
        await session.commit()
    return done


async def cancel_pending(db: Database, stream_id: str) -> bool:
    """PENDING -> CANCELLED: nothing generates it, so the database alone decides."""
    return await _finalize_where(db, stream_id, StreamStatus.CANCELLED, None, status=StreamStatus.PENDING)


async def request_cancel(db: Database, stream_id: str) -> bool:
    """Ask whichever process generates a STREAMING stream to stop it. False if it is not STREAMING."""
    statement = (
        update(StreamRow)
        .where(col(StreamRow.id) == stream_id, col(StreamRow.status) == StreamStatus.STREAMING)
        .values(cancel_requested=True)
        .returning(col(StreamRow.id))
    )
    return bool(await update_returning(db, statement))


async def force_final(db: Database, stream_id: str, status: str, error: str | None, *, stale_before: datetime) -> bool:
    """Finalize a STREAMING stream whose generation has stopped answering (heartbeat older than `stale_before`)."""
    return await _finalize_where(db, stream_id, status, error, status=StreamStatus.STREAMING, stale_before=stale_before)


async def _finalize_where(
    db: Database,
    stream_id: str,
    final: str,
    error: str | None,
    *,
    status: StreamStatus,
    stale_before: datetime | None = None,
) -> bool:
    conditions = [col(StreamRow.id) == stream_id, col(StreamRow.status) == status]
    if stale_before is not None:
        conditions.append(col(StreamRow.heartbeat_at) < stale_before)
    # A stream finalized before anything was generated has no chunk: nothing to compact.
    compacted = {"compacted": True} if status == StreamStatus.PENDING else {}
    statement = (
        update(StreamRow)
        .where(*conditions)
        .values(status=final, error=error, updated_at=utcnow(), **compacted)
        .returning(col(StreamRow.id))
    )
    return bool(await update_returning(db, statement))


async def refresh_heartbeats(db: Database, stream_ids: Sequence[str]) -> set[str]:
    """Mark the given generations alive; returns those that must stop (cancel requested, or no longer theirs)."""
    if not stream_ids:
        return set()
    async with db.session() as session:
        await session.execute(
            update(StreamRow)
            .where(col(StreamRow.id).in_(stream_ids), col(StreamRow.status) == StreamStatus.STREAMING)
            .values(heartbeat_at=utcnow())
        )
        await session.commit()
    return await streams_to_stop(db, stream_ids)


async def streams_to_stop(db: Database, stream_ids: Sequence[str]) -> set[str]:
    """Of the given generations, those that must stop: cancel requested, or the stream no longer STREAMING."""
    async with db.session() as session:
        rows = await session.execute(
            select(StreamRow.id, StreamRow.status, StreamRow.cancel_requested).where(col(StreamRow.id).in_(stream_ids))
        )
        present = {row.id: (row.status, row.cancel_requested) for row in rows}
    return {
        sid for sid in stream_ids if sid not in present or present[sid][0] != StreamStatus.STREAMING or present[sid][1]
    }


async def sweep_timeouts(
    db: Database, *, pending_before: datetime, silent_before: datetime, pending_error: str, silent_error: str
) -> list[str]:
    """TIMEOUT for streams nobody drove in time and for generations whose heartbeat stopped.

    Each row changes in one conditional UPDATE, so sweepers in several processes never decide twice.
    """
    now = utcnow()
    return await update_returning(
        db,
        update(StreamRow)
        .where(col(StreamRow.status) == StreamStatus.PENDING, col(StreamRow.created_at) < pending_before)
        .values(status=StreamStatus.TIMEOUT, error=pending_error, updated_at=now, compacted=True)
        .returning(col(StreamRow.id)),
        update(StreamRow)
        .where(col(StreamRow.status) == StreamStatus.STREAMING, col(StreamRow.heartbeat_at) < silent_before)
        .values(status=StreamStatus.TIMEOUT, error=silent_error, updated_at=now)
        .returning(col(StreamRow.id)),
    )


async def read_after_seq(db: Database, stream_id: str, after_seq: int) -> StreamSnapshot | None:
    """The stream and its chunks numbered after `after_seq`."""
    snapshots = await _read_streams(db, [stream_id], col(ChunkRow.seq) > after_seq)
    return snapshots.get(stream_id)


async def read_after_offset(db: Database, stream_id: str, from_offset: int) -> StreamSnapshot | None:
    """The stream and the chunks from the one where its TEXT reaches code point `from_offset` (every chunk, for 0):
    a chunk of another part that follows that point ends where the TEXT stood, so it is read too."""
    condition = None if from_offset <= 0 else col(ChunkRow.end_offset) >= from_offset
    snapshots = await _read_streams(db, [stream_id], condition)
    return snapshots.get(stream_id)


async def read_after_position(db: Database, stream_id: str, part: int, offset: int) -> StreamSnapshot | None:
    """The stream and the chunks holding anything after code point `offset` of part `part` (engine/cursor.py)."""
    chunk_part = func.coalesce(col(ChunkRow.part), 0)
    chunk_end = func.coalesce(col(ChunkRow.part_end), col(ChunkRow.end_offset))
    condition = or_(chunk_part > part, and_(chunk_part == part, chunk_end > offset))
    snapshots = await _read_streams(db, [stream_id], condition)
    return snapshots.get(stream_id)


async def read_tail(db: Database, stream_id: str) -> StreamSnapshot | None:
    """The stream and its last chunk only: where its log ends, for a reader that starts there."""
    snapshots = await _read_streams(db, [stream_id], col(ChunkRow.seq) == col(StreamRow.last_seq))
    return snapshots.get(stream_id)


async def read_texts(db: Database, stream_ids: Iterable[str]) -> dict[str, StreamSnapshot]:
    """Whole bodies of several streams in one query (history, message lists): one row per compacted answer."""
    return await _read_streams(db, list(dict.fromkeys(stream_ids)))


async def _read_streams(
    db: Database, stream_ids: list[str], chunk_condition: ColumnElement[bool] | None = None
) -> dict[str, StreamSnapshot]:
    """Streams and their chunks (those the row accounts for, `seq <= last_seq`, matching `chunk_condition`) in ONE
    statement, so the stream row and its chunks come from one snapshot on every database. Two statements could
    straddle a compaction (`compaction.compact_stream`): a row read while STREAMING at last_seq k, then chunks read
    after the whole text became chunk N > k, would give no chunk at all."""
    if not stream_ids:
        return {}
    join = and_(col(ChunkRow.stream_id) == col(StreamRow.id), col(ChunkRow.seq) <= col(StreamRow.last_seq))
    if chunk_condition is not None:
        join = and_(join, chunk_condition)
    statement = (
        select_columns(StreamRow, *CHUNK_COLUMNS)
        .outerjoin(ChunkRow, join)
        .where(col(StreamRow.id).in_(stream_ids) if len(stream_ids) > 1 else col(StreamRow.id) == stream_ids[0])
        .order_by(col(StreamRow.id), col(ChunkRow.seq))
    )
    snapshots: dict[str, StreamSnapshot] = {}
    async with db.session() as session:
        for stream, seq, *chunk in await session.execute(statement):
            snapshot = snapshots.get(stream.id)
            if snapshot is None:
                snapshot = snapshots[stream.id] = StreamSnapshot(stream, [])
            if seq is not None:
                text, end_offset, part, *place = chunk
                located = None if part is None else PartPlace(part, *place)
                snapshot.chunks.append(StoredChunk(seq, text, end_offset, located))
    return snapshots


async def delete_streams(db: Database, stream_ids: Sequence[str]) -> None:
    async with db.session() as session:
        await session.execute(delete(ChunkRow).where(col(ChunkRow.stream_id).in_(stream_ids)))
        await session.execute(delete(StreamRow).where(col(StreamRow.id).in_(stream_ids)))
        await session.commit()
