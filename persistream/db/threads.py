"""Threads and their messages: a new prompt with its PENDING stream, the history reads, deleting a thread.

Invariants:
- A message and the stream that answers it are stored in one transaction, and deleted with it (with its chunks).
- An owner's live answers (PENDING or STREAMING streams in the owner's threads) are counted and the new one
  inserted in one transaction no other send of that owner interleaves with, in any process.
- Listings page back by keyset (`created_at`, `id`), each one backward range of an index: no sort, no OFFSET.
- Threads stored before identities existed have no owner: they count as the local user's (`LOCAL_OWNER`).
- A message's parent is a message of its thread (db/branches.py). Sends to one thread, and its deletion, take
  turns on its row (PostgreSQL; SQLite serialises every writer), so a deletion takes every message, the tree whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from persistream.db import branches
from persistream.db.database import Database
from persistream.db.history import Turn, add_turns
from persistream.db.models import ChunkRow, MessageRow, StreamRow, ThreadRow
from persistream.db.status import LIVE_STATUSES

LOCAL_OWNER = "local"
# The first key of the per-owner advisory locks that serialise sends against the live-answers limit (PostgreSQL).
_LIVE_LOCK_SPACE = 7_310_552


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
    parent_id: str | None = None,
    after_newest: bool = False,
    history: Sequence[Turn] = (),
) -> tuple[ThreadRow, MessageRow] | None:
    """Store the prompt and its PENDING stream, in a new thread when `thread` is None. None if the thread vanished,
    or if a new thread's `thread_id` (one the caller chose) is already taken; nothing is stored then. A new thread
    stores `history` first (db/history.py), and the prompt follows its last turn.

    The message follows `parent_id` (a message of the thread, checked by the caller), or with `after_newest` the
    thread's newest message, read in this transaction after every earlier send to the thread has committed (on
    PostgreSQL the thread's row is locked, on SQLite the file's write lock is held), so two sends one after the
    other continue one branch.

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
        created_at = None
        if thread is None:
            thread = ThreadRow(id=thread_id, title=title, owner=owner)
            session.add(thread)
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                return None
            if history:
                parent_id, created_at = await add_turns(session, thread_id, history)
        elif await _locked_thread(session, thread.id, for_delete=False) is None:
            return None
        stream = StreamRow(id=stream_id)
        session.add(stream)
        await session.flush()
        if after_newest:
            parent_id = await branches.newest_message_id(db, thread.id, session)
        message = MessageRow(
            id=message_id, thread_id=thread.id, prompt=prompt, response_stream_id=stream_id, parent_id=parent_id
        )
        if created_at is not None:
            message.created_at = created_at
        session.add(message)
        await session.flush()
        if max_live and int((await session.execute(live_streams_count(owner or LOCAL_OWNER))).scalar_one()) > max_live:
            await session.rollback()
            raise LiveAnswersFull
        await session.commit()
    return thread, message


async def _locked_thread(session: AsyncSession, thread_id: str, *, for_delete: bool) -> ThreadRow | None:
    """The thread's row, locked on PostgreSQL until the transaction ends (SQLite has no row locks: its writers
    are serialised whole). Sends to one thread take turns (FOR NO KEY UPDATE, which leaves the foreign keys of the
    thread's new messages free); a delete waits for them all and they for it (FOR UPDATE), so it sees every message
    a send stored, and a send after it finds no thread."""
    statement = select(ThreadRow).where(col(ThreadRow.id) == thread_id).with_for_update(key_share=not for_delete)
    return (await session.execute(statement)).scalars().first()


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


async def stream_thread(db: Database, stream_id: str) -> tuple[MessageRow, ThreadRow] | None:
    """The message a stream answers and its thread, in one query (every access check on a stream asks this)."""
    return await _with_thread(db, col(MessageRow.response_stream_id) == stream_id)


async def message_thread(db: Database, message_id: str) -> tuple[MessageRow, ThreadRow] | None:
    """The message and its thread, in one query (regenerate and editMessage check the thread's owner)."""
    return await _with_thread(db, col(MessageRow.id) == message_id)


async def _with_thread(db: Database, which: ColumnElement[bool]) -> tuple[MessageRow, ThreadRow] | None:
    statement = select(MessageRow, ThreadRow).join(ThreadRow, col(ThreadRow.id) == col(MessageRow.thread_id))
    async with db.session() as session:
        row = (await session.execute(statement.where(which))).first()
    return None if row is None else (row[0], row[1])


async def message_by_stream(db: Database, stream_id: str) -> MessageRow | None:
    async with db.session() as session:
        rows = await session.execute(select(MessageRow).where(col(MessageRow.response_stream_id) == stream_id))
        return rows.scalars().first()


async def delete_thread(db: Database, thread_id: str) -> bool:
    """Delete the thread, its messages, streams and chunks in one transaction. False if it did not exist."""
    async with db.session() as session:
        if await _locked_thread(session, thread_id, for_delete=True) is None:
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
