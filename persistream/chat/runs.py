"""Which thread an answer belongs to, for its owner only (an AG-UI rejoin names the run's thread in its events)."""

from __future__ import annotations

from persistream.chat import access
from persistream.chat.identity import Identity
from persistream.chat.service import ChatService
from persistream.errors import NotFound


async def thread_of_stream(chat: ChatService, caller: Identity | None, stream_id: str) -> str:
    """The id of the thread whose answer `stream_id` is; NOT_FOUND for a stream of another identity, or of none."""
    found = await access.own_stream(chat.engine.db, caller, stream_id)
    if found.thread is None:
        raise NotFound(access.NO_STREAM)
    return found.thread.id
