"""Ownership and sharing, decided in one place for every chat operation.

A thread belongs to the identity that started it. Another identity's thread, message or stream answers exactly as a
missing one (`NotFound`, same message), so nobody learns what exists. A share token opens one thread for reading
only: its messages (every branch) and the bodies of its streams. A caller with no identity (no credential in `jwt`
or `proxy` mode) may only use share tokens; anything that needs an owner is `Unauthenticated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from persistream.chat.identity import LOCAL, Identity
from persistream.db import sharing, threads
from persistream.db.database import Database
from persistream.db.models import MessageRow, ThreadRow
from persistream.errors import Forbidden, NotFound, Unauthenticated

NO_THREAD = "No thread with that id."
NO_STREAM = "No stream with that id."
NO_SHARE = "No shared thread with that token."
NO_MESSAGE = "No message with that id."


@dataclass(frozen=True)
class StreamAccess:
    """A stream the caller may reach, and the message it answers (None for a bare stream of the Python API)."""

    message: MessageRow | None
    thread: ThreadRow | None


def require(caller: Identity | None) -> Identity:
    if caller is None:
        raise Unauthenticated("This needs a credential.")
    return caller


async def own_thread(db: Database, caller: Identity | None, thread_id: str) -> ThreadRow:
    identity = require(caller)
    thread = await threads.get_thread(db, thread_id)
    if thread is None or thread.owner != identity.id:
        raise NotFound(NO_THREAD)
    return thread


async def own_message(db: Database, caller: Identity | None, message_id: str) -> tuple[MessageRow, ThreadRow]:
    """One of the caller's messages and its thread (to make a variant of it)."""
    identity = require(caller)
    found = await threads.message_thread(db, message_id)
    if found is None or found[1].owner != identity.id:
        raise NotFound(NO_MESSAGE)
    return found


async def shared_thread(db: Database, token: str) -> ThreadRow:
    thread = await sharing.thread_by_share_token(db, token) if token else None
    if thread is None:
        raise NotFound(NO_SHARE)
    return thread


async def readable_thread(db: Database, caller: Identity | None, thread_id: str, share_token: str | None) -> ThreadRow:
    if share_token is not None:
        thread = await sharing.thread_by_share_token(db, share_token) if share_token else None
        if thread is None or thread.id != thread_id:
            raise NotFound(NO_THREAD)
        return thread
    return await own_thread(db, caller, thread_id)


async def _stream(db: Database, stream_id: str) -> StreamAccess:
    found = await threads.stream_thread(db, stream_id)
    return StreamAccess(None, None) if found is None else StreamAccess(*found)


def _owns(caller: Identity | None, found: StreamAccess) -> bool:
    if caller is None:
        return False
    if found.message is None:
        # A bare stream (made through the Python API, no thread) is the local user's alone.
        return caller == LOCAL
    return found.thread is not None and found.thread.owner == caller.id


async def own_stream(db: Database, caller: Identity | None, stream_id: str) -> StreamAccess:
    require(caller)
    found = await _stream(db, stream_id)
    if not _owns(caller, found):
        raise NotFound(NO_STREAM)
    return found


async def readable_stream(
    db: Database, caller: Identity | None, stream_id: str, share_token: str | None
) -> StreamAccess:
    found = await _stream(db, stream_id)
    if share_token is not None:
        if found.thread is None or not share_token or found.thread.share_token != share_token:
            raise NotFound(NO_STREAM)
        return found
    require(caller)
    if not _owns(caller, found):
        raise NotFound(NO_STREAM)
    return found


async def drivable_stream(db: Database, caller: Identity | None, stream_id: str) -> StreamAccess:
    """Only the owner drives. On a shared thread anyone else is told FORBIDDEN (they may read it, not claim it)."""
    found = await _stream(db, stream_id)
    if _owns(caller, found):
        return found
    if found.thread is not None and found.thread.share_token is not None:
        raise Forbidden("Only the thread's owner can drive its answers.")
    require(caller)
    raise NotFound(NO_STREAM)
