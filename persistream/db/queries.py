"""Every read and write persistream makes, each one short transaction.

State changes are conditional updates (`UPDATE ... WHERE status = ...`), so racing writers, in this process or in
another, can never both win: exactly one claim, one final status, one sweeper decision per stream.
Reads that combine a stream and its chunks read the stream row first and only the chunks it accounts for
(`seq <= last_seq`), so a reader never sees a final status without the text that precedes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, false, func, insert, or_, text, tuple_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from persistream.db.database import Database
from persistream.db.models import ChunkRow, MessageRow, StreamRow, ThreadRow, utcnow

LIVE_STATUSES = ("PENDING", "STREAMING")
FINAL_STATUSES = ("DONE", "ERROR", "TIMEOUT", "CANCELLED")
# Threads stored before identities existed have no owner: they are the local user's.
LOCAL_OWNER = "local"
# The first key of the per-owner advisory locks that serialise sends against the live-answers limit (PostgreSQL).
_LIVE_LOCK_SPACE = 7_310_552


@dataclass(frozen=True)
class StoredChunk:
    seq: int
    text: str
    end_offset: int


@dataclass(frozen=True)
class StreamSnapshot:
    """A stream row and the chunks after some point, read consistently."""

    stream: StreamRow
    chunks: list[StoredChunk]


# --- streams -----------------------------------------------------------------------------------------------


async def create_stream(db: Database, stream_id: str) -> StreamRow:
    row = StreamRow(id=stream_id)
    async with db.session() as session:
        session.add(row)
        await session.commit()
    return row


async def get_stream(db: Database, stream_id: str) -> StreamRow | None:
    async with db.session() as session:
        return await session.get(StreamRow, stream_id)


async def claim_stream(db: Database, stream_id: str, generation_id: str) -> bool:
    """PENDING -> STREAMING for exactly one caller, whatever races."""
    now = utcnow()
    statement = (
        update(StreamRow)
        .where(col(StreamRow.id) == stream_id, col(StreamRow.status) == "PENDING")
        .values(status="STREAMING", generation_id=generation_id, heartbeat_at=now, updated_at=now)
        .returning(col(StreamRow.id))
    )
    async with db.session() as session:
        claimed = (await session.execute(statement)).first() is not None
        await session.commit()
    return claimed


async def append_chunks(db: Database, stream_id: str, generation_id: str, chunks: Sequence[StoredChunk]) -> bool:
    """Store consecutive chunks in one transaction if `generation_id` still owns the live stream.

    Returns False when the stream is no longer this generation's to write (cancelled by force, timed out by a
    sweeper, deleted): the generation must stop.
    """
    now = utcnow()
    last = chunks[-1]
    statement = (
        update(StreamRow)
        .where(
            col(StreamRow.id) == stream_id,
            col(StreamRow.status) == "STREAMING",
            col(StreamRow.generation_id) == generation_id,
            col(StreamRow.last_seq) == chunks[0].seq - 1,
        )
        .values(last_seq=last.seq, length=last.end_offset, heartbeat_at=now, updated_at=now)
        .returning(col(StreamRow.id))
    )
    async with db.session() as session:
        if (await session.execute(statement)).first() is None:
            await session.rollback()
            return False
        await session.execute(
            insert(ChunkRow),
            [{"stream_id": stream_id, "seq": c.seq, "text": c.text, "end_offset": c.end_offset} for c in chunks],
        )
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
    if stored_through is not None:
        values.update(last_seq=stored_through[0], length=stored_through[1], compacted=stored_through[0] <= 1)
    statement = (
        update(StreamRow)
        .where(
            col(StreamRow.id) == stream_id,
            col(StreamRow.status) == "STREAMING",
            col(StreamRow.generation_id) == generation_id,
        )
        .values(**values)
        .returning(col(StreamRow.id))
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
    return await _finalize_where(db, stream_id, "CANCELLED", None, status="PENDING")


async def request_cancel(db: Database, stream_id: str) -> bool:
    """Ask whichever process generates a STREAMING stream to stop it. False if it is not STREAMING."""
    statement = (
        update(StreamRow)
        .where(col(StreamRow.id) == stream_id, col(StreamRow.status) == "STREAMING")
        .values(cancel_requested=True)
        .returning(col(StreamRow.id))
    )
    async with db.session() as session:
        requested = (await session.execute(statement)).first() is not None
        await session.commit()
    return requested


async def force_final(db: Database, stream_id: str, status: str, error: str | None, *, stale_before: datetime) -> bool:
    """Finalize a STREAMING stream whose generation has stopped answering (heartbeat older than `stale_before`)."""
    return await _finalize_where(db, stream_id, status, error, status="STREAMING", stale_before=stale_before)


async def _finalize_where(
    db: Database,
    stream_id: str,
    final: str,
    error: str | None,
    *,
    status: str,
    stale_before: datetime | None = None,
) -> bool:
    conditions = [col(StreamRow.id) == stream_id, col(StreamRow.status) == status]
    if stale_before is not None:
        conditions.append(col(StreamRow.heartbeat_at) < stale_before)
    # A stream finalized before anything was generated has no chunk: nothing to compact.
    compacted = {"compacted": True} if status == "PENDING" else {}
    statement = (
        update(StreamRow)
        .where(*conditions)
        .values(status=final, error=error, updated_at=utcnow(), **compacted)
        .returning(col(StreamRow.id))
    )
    async with db.session() as session:
        done = (await session.execute(statement)).first() is not None
        await session.commit()
    return done


async def refresh_heartbeats(db: Database, stream_ids: Sequence[str]) -> set[str]:
    """Mark the given generations alive; returns those that must stop (cancel requested, or no longer theirs)."""
    if not stream_ids:
        return set()
    async with db.session() as session:
        await session.execute(
            update(StreamRow)
            .where(col(StreamRow.id).in_(stream_ids), col(StreamRow.status) == "STREAMING")
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
    return {sid for sid in stream_ids if sid not in present or present[sid][0] != "STREAMING" or present[sid][1]}


async def sweep_timeouts(
    db: Database, *, pending_before: datetime, silent_before: datetime, pending_error: str, silent_error: str
) -> list[str]:
    """TIMEOUT for streams nobody drove in time and for generations whose heartbeat stopped.

    Each row changes in one conditional UPDATE, so sweepers in several processes never decide twice.
    """
    now = utcnow()
    finalized: list[str] = []
    statements = [
        update(StreamRow)
        .where(col(StreamRow.status) == "PENDING", col(StreamRow.created_at) < pending_before)
        .values(status="TIMEOUT", error=pending_error, updated_at=now, compacted=True)
        .returning(col(StreamRow.id)),
        update(StreamRow)
        .where(col(StreamRow.status) == "STREAMING", col(StreamRow.heartbeat_at) < silent_before)
        .values(status="TIMEOUT", error=silent_error, updated_at=now)
        .returning(col(StreamRow.id)),
    ]
    async with db.session() as session:
        for statement in statements:
            finalized.extend(row[0] for row in await session.execute(statement))
        await session.commit()
    return finalized


async def read_after_seq(db: Database, stream_id: str, after_seq: int) -> StreamSnapshot | None:
    """The stream and its chunks numbered after `after_seq`."""
    snapshots = await _read_streams(db, [stream_id], col(ChunkRow.seq) > after_seq)
    return snapshots.get(stream_id)


async def read_after_offset(db: Database, stream_id: str, from_offset: int) -> StreamSnapshot | None:
    """The stream and the chunks that hold text after code point `from_offset`."""
    snapshots = await _read_streams(db, [stream_id], col(ChunkRow.end_offset) > from_offset)
    return snapshots.get(stream_id)


async def read_texts(db: Database, stream_ids: Iterable[str]) -> dict[str, StreamSnapshot]:
    """Whole bodies of several streams in one query (history, message lists): one row per compacted answer."""
    return await _read_streams(db, list(dict.fromkeys(stream_ids)))


async def _read_streams(
    db: Database, stream_ids: list[str], chunk_condition: ColumnElement[bool] | None = None
) -> dict[str, StreamSnapshot]:
    """Streams and their chunks (those the row accounts for, `seq <= last_seq`, matching `chunk_condition`) in ONE
    statement, so the stream row and its chunks come from one snapshot on every database. Two statements could
    straddle a compaction (`compact_stream`): a row read while STREAMING at last_seq k, then chunks read after the
    whole text became chunk N > k, would give no chunk at all."""
    if not stream_ids:
        return {}
    join = and_(col(ChunkRow.stream_id) == col(StreamRow.id), col(ChunkRow.seq) <= col(StreamRow.last_seq))
    if chunk_condition is not None:
        join = and_(join, chunk_condition)
    statement = (
        select(StreamRow, ChunkRow.seq, ChunkRow.text, ChunkRow.end_offset)
        .outerjoin(ChunkRow, join)
        .where(col(StreamRow.id).in_(stream_ids) if len(stream_ids) > 1 else col(StreamRow.id) == stream_ids[0])
        .order_by(col(StreamRow.id), col(ChunkRow.seq))
    )
    snapshots: dict[str, StreamSnapshot] = {}
    async with db.session() as session:
        for stream, seq, text, end_offset in await session.execute(statement):
            snapshot = snapshots.get(stream.id)
            if snapshot is None:
                snapshot = snapshots[stream.id] = StreamSnapshot(stream, [])
            if seq is not None:
                snapshot.chunks.append(StoredChunk(seq, text, end_offset))
    return snapshots


# --- compaction --------------------------------------------------------------------------------------------


async def compact_stream(db: Database, stream_id: str) -> bool:
    """Replace a final stream's chunks 1..N by the one chunk N holding its whole text; True if it did.

    Every reader sees the same offsets, text and events before and after: the one chunk keeps the last seq and
    `end_offset` = length, and a chunk's text always starts at `end_offset - len(text)`. Readers read a stream
    and its chunks in one statement, so they see either every old chunk or the new one.

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


async def delete_streams(db: Database, stream_ids: Sequence[str]) -> None:
    async with db.session() as session:
        await session.execute(delete(ChunkRow).where(col(ChunkRow.stream_id).in_(stream_ids)))
        await session.execute(delete(StreamRow).where(col(StreamRow.id).in_(stream_ids)))
        await session.commit()


# --- threads and messages ----------------------------------------------------------------------------------


async def get_thread(db: Database, thread_id: str) -> ThreadRow | None:
    async with db.session() as session:
        return await session.get(ThreadRow, thread_id)


class LiveAnswersFull(Exception):
    """The owner already has the most live answers allowed: nothing was stored."""


async def add_message(
    db: Database,
    *,
    thread: ThreadRow | None,
    thread_id: str,
    message_id: str,
    stream_id: str,
    prompt: str,
    title: str,
    owner: str | None = None,
    max_live: int = 0,
) -> tuple[ThreadRow, MessageRow] | None:
    """Store the prompt and its PENDING stream, in a new thread when `thread` is None. None if the thread vanished.

    With `max_live`, raises LiveAnswersFull (storing nothing) if the new stream would make the owner's live streams
    more than that. The count and the insert are one transaction that no other send of the owner interleaves with,
    in any process: on PostgreSQL it first takes the owner's advisory lock; on SQLite the insert comes first, and
    holds the file's write lock until the commit (the count then includes the new stream)."""
    async with db.session() as session:
        if max_live and db.engine.dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:owner))"),
                {"space": _LIVE_LOCK_SPACE, "owner": owner or LOCAL_OWNER},
            )
        if thread is None:
            thread = ThreadRow(id=thread_id, title=title, owner=owner)
            session.add(thread)
        elif await session.get(ThreadRow, thread.id) is None:
            return None
        stream = StreamRow(id=stream_id)
        message = MessageRow(id=message_id, thread_id=thread.id, prompt=prompt, response_stream_id=stream_id)
        session.add(stream)
        await session.flush()
        session.add(message)
        await session.flush()
        if max_live and int((await session.execute(live_streams_count(owner or LOCAL_OWNER))).scalar_one()) > max_live:
            await session.rollback()
            raise LiveAnswersFull
        await session.commit()
    return thread, message


def live_streams_count(owner: str) -> SelectOfScalar[int]:
    """How many streams are PENDING or STREAMING in the owner's threads. Starts from the live streams (few, indexed
    by status)."""
    owner_of = func.coalesce(col(ThreadRow.owner), LOCAL_OWNER)
    return (
        select(func.count())
        .select_from(StreamRow)
        .join(MessageRow, col(MessageRow.response_stream_id) == col(StreamRow.id))
        .join(ThreadRow, col(ThreadRow.id) == col(MessageRow.thread_id))
        .where(col(StreamRow.status).in_(LIVE_STATUSES), owner_of == owner)
    )


async def list_threads(db: Database, last: int, owner: str, before: ThreadRow | None = None) -> list[ThreadRow]:
    """The owner's threads, newest first (one backward range of ix_threads_owner_created_at_id); `before` pages
    back from a thread by keyset (no OFFSET)."""
    conditions = [col(ThreadRow.owner) == owner]
    if before is not None:
        # A row value, not `a < x OR (a = x AND b < y)`: both databases seek the index to it instead of filtering.
        conditions.append(tuple_(col(ThreadRow.created_at), col(ThreadRow.id)) < (before.created_at, before.id))
    statement = (
        select(ThreadRow)
        .where(*conditions)
        .order_by(col(ThreadRow.created_at).desc(), col(ThreadRow.id).desc())
        .limit(last)
    )
    async with db.session() as session:
        return list((await session.execute(statement)).scalars().all())


async def list_messages(
    db: Database, thread_ids: Sequence[str], last: int | None = None, before: MessageRow | None = None
) -> list[MessageRow]:
    """Messages of the threads, oldest first; with `last`, only the newest `last` of one thread (older than
    `before` when given): one backward range of ix_messages_thread_id_created_at_id."""
    by_thread = col(MessageRow.thread_id)
    statement = select(MessageRow).where(
        by_thread == thread_ids[0] if len(thread_ids) == 1 else by_thread.in_(thread_ids)
    )
    if before is not None:
        statement = statement.where(
            tuple_(col(MessageRow.created_at), col(MessageRow.id)) < (before.created_at, before.id)
        )
    async with db.session() as session:
        if last is None:
            statement = statement.order_by(col(MessageRow.created_at), col(MessageRow.id))
            return list((await session.execute(statement)).scalars().all())
        statement = statement.order_by(col(MessageRow.created_at).desc(), col(MessageRow.id).desc()).limit(last)
        return list(reversed((await session.execute(statement)).scalars().all()))


async def get_message(db: Database, message_id: str) -> MessageRow | None:
    async with db.session() as session:
        return await session.get(MessageRow, message_id)


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
    async with db.session() as session:
        cleared = (await session.execute(statement)).first() is not None
        await session.commit()
    return cleared


async def stream_thread(db: Database, stream_id: str) -> tuple[MessageRow, ThreadRow] | None:
    """The message a stream answers and its thread, in one query (every access check on a stream asks this)."""
    statement = (
        select(MessageRow, ThreadRow)
        .join(ThreadRow, col(ThreadRow.id) == col(MessageRow.thread_id))
        .where(col(MessageRow.response_stream_id) == stream_id)
    )
    async with db.session() as session:
        row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def message_by_stream(db: Database, stream_id: str) -> MessageRow | None:
    async with db.session() as session:
        rows = await session.execute(select(MessageRow).where(col(MessageRow.response_stream_id) == stream_id))
        return rows.scalars().first()


async def delete_thread(db: Database, thread_id: str) -> bool:
    """Delete the thread, its messages, streams and chunks in one transaction. False if it did not exist."""
    async with db.session() as session:
        if await session.get(ThreadRow, thread_id) is None:
            return False
        stream_ids = list(
            (
                await session.execute(
                    select(MessageRow.response_stream_id).where(col(MessageRow.thread_id) == thread_id)
                )
            ).scalars()
        )
        await session.execute(delete(MessageRow).where(col(MessageRow.thread_id) == thread_id))
        if stream_ids:
            await session.execute(delete(ChunkRow).where(col(ChunkRow.stream_id).in_(stream_ids)))
            await session.execute(delete(StreamRow).where(col(StreamRow.id).in_(stream_ids)))
        await session.execute(delete(ThreadRow).where(col(ThreadRow.id) == thread_id))
        await session.commit()
    return True


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
    """Row counts per table (tests and health checks)."""
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
