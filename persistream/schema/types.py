"""The GraphQL types of the contract. Fields read attributes of the core objects that resolvers return."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from persistream.engine.events import StreamStatus as CoreStreamStatus
from persistream.resolvers import mutations, queries, subscriptions

StreamStatus = strawberry.enum(
    CoreStreamStatus,
    name="StreamStatus",
    description=(
        "Where a stream is in its life. PENDING and STREAMING are live; every other status is final and never changes."
    ),
)


@strawberry.type(description="A stream's persisted text and status, as stored right now.")
class StreamBody:
    stream_id: strawberry.ID
    text: str
    status: StreamStatus  # type: ignore[valid-type]
    error: str | None = strawberry.field(description="Why the stream ended in ERROR or TIMEOUT; null otherwise.")
    offset: int = strawberry.field(description="Length of `text` in Unicode code points.")


@strawberry.type(description="One step of a stream, as a subscriber sees it.")
class StreamEvent:
    stream_id: strawberry.ID
    delta: str = strawberry.field(
        description="Text appended by this event; may be empty on an event that only reports status."
    )
    offset: int = strawberry.field(
        description=(
            "Length of the whole text after this event, in Unicode code points. Pass it as `fromOffset` to resume."
        )
    )
    status: StreamStatus  # type: ignore[valid-type]
    error: str | None


@strawberry.type
class Message:
    id: strawberry.ID
    thread_id: strawberry.ID
    prompt: str
    response_stream_id: strawberry.ID
    created_at: datetime
    response: StreamBody = strawberry.field(description="The response as persisted right now.")


@strawberry.type
class Thread:
    id: strawberry.ID
    title: str = strawberry.field(description="The first prompt, shortened.")
    created_at: datetime

    @strawberry.field(description="Oldest first; `last` keeps only the newest ones.")
    async def messages(self, info: Info[Any, Any], last: int = 1000) -> list[Message]:
        return await queries.thread_messages(info, self, last)  # type: ignore[arg-type,return-value]


@strawberry.type(description="Who the server takes the caller to be.")
class Viewer:
    id: strawberry.ID = strawberry.field(
        description="Stable for one identity; the same for every caller when PERSISTREAM_AUTH is `none`."
    )
    auth_mode: str = strawberry.field(description="The server's PERSISTREAM_AUTH mode: none, anonymous, jwt or proxy.")


@strawberry.type(description="A read-only key to one thread.")
class ThreadShare:
    thread_id: strawberry.ID
    token: str = strawberry.field(
        description="Whoever holds it may read the thread and follow its answers live; nothing else."
    )
    url: str = strawberry.field(
        description="The chat page showing the thread read-only, as a path on this server (`/?share=TOKEN`)."
    )


@strawberry.type
class Query:
    @strawberry.field(description="`shareToken` opens a stream of a thread shared with that token.")
    async def stream_body(
        self, info: Info[Any, Any], stream_id: strawberry.ID, share_token: str | None = None
    ) -> StreamBody:
        return await queries.stream_body(info, stream_id, share_token)  # type: ignore[return-value]

    @strawberry.field(
        description=(
            "The thread's messages, oldest first; `last` keeps only the newest ones, `before` only those older "
            "than\nthat message (paging back)."
        )
    )
    async def messages(
        self,
        info: Info[Any, Any],
        thread_id: strawberry.ID,
        last: int = 50,
        before: strawberry.ID | None = None,
        share_token: str | None = None,
    ) -> list[Message]:
        return await queries.messages(info, thread_id, last, before, share_token)  # type: ignore[return-value]

    @strawberry.field(
        description="The caller's own threads, newest first; `before` only those older than that thread (paging back)."
    )
    async def threads(self, info: Info[Any, Any], last: int = 50, before: strawberry.ID | None = None) -> list[Thread]:
        return await queries.threads(info, last, before)  # type: ignore[return-value]

    @strawberry.field(description="The thread shared with this token, to anyone who holds it.")
    async def shared_thread(self, info: Info[Any, Any], token: str) -> Thread:
        return await queries.shared_thread(info, token)  # type: ignore[return-value]

    @strawberry.field
    def viewer(self, info: Info[Any, Any]) -> Viewer:
        identity, mode = queries.viewer(info)
        return Viewer(id=strawberry.ID(identity.id), auth_mode=mode)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Stores the prompt and creates its PENDING response stream. Without threadId a new thread is started."
        )
    )
    async def send_message(self, info: Info[Any, Any], prompt: str, thread_id: strawberry.ID | None = None) -> Message:
        return await mutations.send_message(info, prompt, thread_id)  # type: ignore[return-value]

    @strawberry.mutation(
        description=(
            "Stops a live stream (final status CANCELLED, text kept). On a stream that is already final it "
            "changes nothing."
        )
    )
    async def cancel_stream(self, info: Info[Any, Any], stream_id: strawberry.ID) -> StreamBody:
        return await mutations.cancel_stream(info, stream_id)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Deletes the thread, its messages, streams and chunks; a live stream in it is cancelled first."
    )
    async def delete_thread(self, info: Info[Any, Any], thread_id: strawberry.ID) -> bool:
        return await mutations.delete_thread(info, thread_id)

    @strawberry.mutation(
        description="Makes (or returns the existing) read-only share token of one of the caller's threads."
    )
    async def share_thread(self, info: Info[Any, Any], thread_id: strawberry.ID) -> ThreadShare:
        return await mutations.share_thread(info, thread_id)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Revokes the thread's share token; true if there was one. The old token then finds nothing."
    )
    async def unshare_thread(self, info: Info[Any, Any], thread_id: strawberry.ID) -> bool:
        return await mutations.unshare_thread(info, thread_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The driving client: claims a PENDING stream, starts generation, and streams token deltas as the "
            "model produces them.\nOn a stream that is already claimed or final it starts nothing and behaves "
            "exactly like streamBody(fromOffset: 0)."
        )
    )
    async def stream_chat(self, info: Info[Any, Any], stream_id: strawberry.ID) -> AsyncGenerator[StreamEvent]:
        async for event in subscriptions.stream_chat(info, stream_id):
            yield event  # type: ignore[misc]

    @strawberry.subscription(
        description=(
            "An observer: the persisted text after fromOffset, then each chunk as it is persisted, until a final "
            "status."
        )
    )
    async def stream_body(
        self,
        info: Info[Any, Any],
        stream_id: strawberry.ID,
        from_offset: int = 0,
        share_token: str | None = None,
    ) -> AsyncGenerator[StreamEvent]:
        async for event in subscriptions.stream_body(info, stream_id, from_offset, share_token):
            yield event  # type: ignore[misc]
