"""What the chat layer hands its callers: frozen views of threads, messages and shares, made from stored rows.

A view never changes once made: a message's `response` is its stream's body as it was read with it. Its
`parent_id` places it in its thread's tree (db/branches.py); its siblings are read apart, in batches, by whoever
shows them (`ChatService.sibling_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from persistream.db.models import MessageRow, ThreadRow
from persistream.db.streams import StreamSnapshot
from persistream.engine.events import StreamBody, StreamStatus
from persistream.engine.log import body_of


@dataclass(frozen=True)
class MessageView:
    id: str
    thread_id: str
    prompt: str
    response_stream_id: str
    created_at: datetime
    response: StreamBody
    # The message this one follows in its branch; None for a thread's first messages.
    parent_id: str | None = None


@dataclass(frozen=True)
class ThreadView:
    id: str
    title: str
    created_at: datetime


@dataclass(frozen=True)
class ShareView:
    thread_id: str
    token: str
    # The path the chat page is served under ("" at the root of the server).
    base_path: str = ""

    @property
    def url(self) -> str:
        return f"{self.base_path}/?share={self.token}"


def body_from(stream_id: str, snapshot: StreamSnapshot | None) -> StreamBody:
    """The body of a stored answer; a stream gone from under its message reads as CANCELLED and empty."""
    if snapshot is None:
        return StreamBody(stream_id, "", StreamStatus.CANCELLED)
    return body_of(snapshot)


def thread_view(row: ThreadRow) -> ThreadView:
    return ThreadView(row.id, row.title, row.created_at.replace(tzinfo=UTC))


def message_view(message: MessageRow, body: StreamBody) -> MessageView:
    return MessageView(
        id=message.id,
        thread_id=message.thread_id,
        prompt=message.prompt,
        response_stream_id=message.response_stream_id,
        created_at=message.created_at.replace(tzinfo=UTC),
        response=body,
        parent_id=message.parent_id,
    )
