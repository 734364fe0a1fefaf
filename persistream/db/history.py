"""Earlier turns a caller brings along when it starts a thread (an AG-UI run on a new thread id): each is stored
as a prompt whose answer is a DONE stream holding the answer's text, one after the other on one branch.

The rows are added to the session that stores the thread and its new prompt, so the history, the thread and the
prompt are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from persistream.db.models import ChunkRow, MessageRow, StreamRow, utcnow
from persistream.db.status import StreamStatus


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier prompt and the text that answered it (may be empty), with the ids to store them under."""

    message_id: str
    stream_id: str
    prompt: str
    answer: str


async def add_turns(session: AsyncSession, thread_id: str, turns: Sequence[Turn]) -> tuple[str | None, datetime]:
    """Store the turns in order, each the parent of the next; the last one's id (None without turns) and the time
    the message after them must be stored at (one microsecond apart each, so "newest" is never a tie)."""
    at = utcnow() - timedelta(microseconds=len(turns) + 1)
    parent: str | None = None
    for turn in turns:
        length = len(turn.answer)
        stream = StreamRow(
            id=turn.stream_id,
            status=StreamStatus.DONE,
            length=length,
            last_seq=1 if length else 0,
            compacted=True,
            created_at=at,
            updated_at=at,
        )
        session.add(stream)
        await session.flush()
        if length:
            session.add(ChunkRow(stream_id=turn.stream_id, seq=1, text=turn.answer, end_offset=length))
        session.add(
            MessageRow(
                id=turn.message_id,
                thread_id=thread_id,
                prompt=turn.prompt,
                response_stream_id=turn.stream_id,
                parent_id=parent,
                created_at=at,
            )
        )
        await session.flush()
        parent = turn.message_id
        at += timedelta(microseconds=1)
    return parent, at
