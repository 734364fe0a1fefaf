"""SQLModel tables. The database is the source of truth for every stream.

Invariants kept by the modules beside this one, the only writers (`streams`, `compaction`, `threads`, `sharing`,
`retention`, `limits`, `secrets_store`; statuses are `status.StreamStatus` values):
- `StreamRow.status` moves PENDING -> STREAMING -> final, or PENDING -> final; a final status never changes.
- Chunks of a stream are numbered 1, 2, 3... without gaps; `StreamRow.last_seq` and `StreamRow.length` always
  describe the chunks stored (they are written in the same transaction as the chunk).
- `ChunkRow.end_offset` is the length, in code points, of the stream's text up to and including that chunk.
- Compaction (`compaction.compact_stream`) may replace a final stream's chunks 1..N with the one chunk N holding the
  whole text (`end_offset` = length), then sets `StreamRow.compacted`. Readers never assume chunk 1 exists: a
  chunk's text starts at `end_offset - len(text)`.
- `MessageRow.parent_id` names a message of the same thread, stored before it: a thread's messages form a tree, and
  a branch is the walk up from one message to its thread's first. Messages never change once stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index, false
from sqlmodel import Field, SQLModel

from persistream.db.status import StreamStatus


def utcnow() -> datetime:
    """Aware UTC; SQLModel stores it as UTC on every database and reads it back aware."""
    return datetime.now(UTC)


class ThreadRow(SQLModel, table=True):
    __tablename__ = "threads"
    # An owner's threads, newest first and paged back by (created_at, id), are one range of this index however
    # many rows the table holds: no sort, no OFFSET (`threads.list_threads`).
    __table_args__ = (Index("ix_threads_owner_created_at_id", "owner", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    # The identity that started the thread; only it may see or change the thread ('local' when auth is off).
    owner: str | None = Field(default=None, max_length=200)
    title: str
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # The read-only share token, while the thread is shared; revoking clears it and a new share draws a new one.
    share_token: str | None = Field(default=None, index=True, unique=True, max_length=64)


class SecretRow(SQLModel, table=True):
    """Server secrets generated once and shared by every process (the anonymous cookie's signing key)."""

    __tablename__ = "secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str


class StreamRow(SQLModel, table=True):
    __tablename__ = "streams"
    __table_args__ = (
        # The sweeper looks for STREAMING streams whose heartbeat is older than the stream timeout.
        Index("ix_streams_status_heartbeat_at", "status", "heartbeat_at"),
        # ... and for final streams not yet compacted (neither column changes while chunks are appended).
        Index("ix_streams_status_compacted", "status", "compacted"),
    )

    id: str = Field(primary_key=True, max_length=36)
    # A `StreamStatus` value (stored as its text).
    status: str = Field(default=StreamStatus.PENDING, index=True, max_length=16)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Refreshed by the generating process while it is alive; the sweeper times out streams whose heartbeat stops.
    heartbeat_at: datetime | None = None
    length: int = 0
    last_seq: int = 0
    # The claim token of the one generation allowed to append to this stream.
    generation_id: str | None = Field(default=None, max_length=36)
    cancel_requested: bool = False
    # True once a final stream's chunks are one row (or needed no compaction); see `compaction.compact_stream`.
    compacted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Tokens the model reported for the whole answer, stored with the final status; NULL where it did not say.
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None


class ChunkRow(SQLModel, table=True):
    __tablename__ = "chunks"

    stream_id: str = Field(foreign_key="streams.id", primary_key=True, max_length=36, ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    text: str
    # Code points of the answer's TEXT up to and including this chunk (a chunk of another part ends where the TEXT
    # stood then).
    end_offset: int
    # The part this chunk's text belongs to (engine/log.py). NULL in every column below means TEXT part 0, so a
    # text-only answer stores exactly what it stored before parts existed.
    part: int | None = None
    kind: str | None = Field(default=None, max_length=16)  # NULL: TEXT
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool | None = None
    # Code points of this chunk's part up to and including this chunk; NULL: `end_offset` (TEXT part 0).
    part_end: int | None = None


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # A thread's messages, newest first and paged back by (created_at, id), are one range of this index (it
        # also serves the foreign key's cascade).
        Index("ix_messages_thread_id_created_at_id", "thread_id", "created_at", "id"),
        # A message's children (its variants' siblings, the foreign key's check when a thread is deleted) are one
        # range of it, and so are a thread's first messages (parent_id NULL, then the thread).
        Index("ix_messages_parent_id_thread_id", "parent_id", "thread_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    thread_id: str = Field(foreign_key="threads.id", max_length=36, ondelete="CASCADE")
    prompt: str
    response_stream_id: str = Field(foreign_key="streams.id", unique=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # The message this one follows in its branch (db/branches.py); NULL for a thread's first messages. Always a
    # message of the same thread: a thread is a tree, whose variants (regenerated, edited) share a parent.
    parent_id: str | None = Field(default=None, foreign_key="messages.id", max_length=36)


class RateWindowRow(SQLModel, table=True):
    """How many `sendMessage` calls an identity made in one fixed rate-limit window (shared by all processes)."""

    __tablename__ = "rate_windows"

    owner: str = Field(primary_key=True, max_length=200)
    # Unix seconds at which the window starts (a multiple of its length).
    window_start: int = Field(primary_key=True)
    count: int = 0
