"""The GraphQL types of the contract. Fields read attributes of the chat and engine objects that resolvers return.

A field whose resolver returns such an object says so in Python (`-> MessageView`) and names its GraphQL type with
`graphql_type=`: the object is never copied into the Strawberry type (subscribers of a stream share one event
object, resolvers/shared.py), and Strawberry's default resolvers read the same attributes off it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry import Info, Parent

from persistream.chat.views import MessageView, ShareView, ThreadView
from persistream.engine import events
from persistream.engine.events import StreamStatus
from persistream.parts import Usage as ReportedUsage
from persistream.resolvers import cursors, mutations, queries, subscriptions
from persistream.resolvers.context import Context
from persistream.schema.parts import Part, PartDelta, Usage

# The engine's enum itself, made a GraphQL enum (Strawberry marks the class and returns it): a status resolves to
# its member's name as it is.
strawberry.enum(
    StreamStatus,
    name="StreamStatus",
    description=(
        "Where a stream is in its life. PENDING and STREAMING are live; every other status is final and never changes."
    ),
)


@strawberry.type(description="A stream's persisted text and status, as stored right now.")
class StreamBody:
    stream_id: strawberry.ID
    text: str
    status: StreamStatus
    error: str | None = strawberry.field(description="Why the stream ended in ERROR or TIMEOUT; null otherwise.")
    offset: int = strawberry.field(description="Length of `text` in Unicode code points.")

    @strawberry.field(description="Every part of the answer, TEXT parts included, in order.", graphql_type=list[Part])
    def parts(self, body: Parent[events.StreamBody]) -> tuple[events.Part, ...]:
        return body.all_parts

    @strawberry.field(description="Resume point after everything in this body: pass it as `fromCursor`.")
    def cursor(self, body: Parent[events.StreamBody]) -> str:
        return cursors.after(body)

    @strawberry.field(
        description="Set once the answer is final, when the model reported it.", graphql_type=Usage | None
    )
    def usage(self, body: Parent[events.StreamBody]) -> ReportedUsage | None:
        return body.usage


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
    status: StreamStatus
    error: str | None

    @strawberry.field(
        description=(
            "What this event appends to each part, in part order; TEXT deltas included (the same text as `delta`)."
        ),
        graphql_type=list[PartDelta],
    )
    def parts(self, event: Parent[events.StreamEvent]) -> tuple[events.PartDelta, ...]:
        return event.part_deltas

    @strawberry.field(description="Resume point after this event, covering every part: pass it as `fromCursor`.")
    def cursor(self, event: Parent[events.StreamEvent]) -> str:
        return cursors.after(event)

    @strawberry.field(description="On the final event, when the model reported it.", graphql_type=Usage | None)
    def usage(self, event: Parent[events.StreamEvent]) -> ReportedUsage | None:
        return event.usage


@strawberry.type
class Message:
    id: strawberry.ID
    thread_id: strawberry.ID
    prompt: str
    response_stream_id: strawberry.ID
    created_at: datetime
    response: StreamBody = strawberry.field(description="The response as persisted right now.")
    parent_id: strawberry.ID | None = strawberry.field(
        description="The message this one follows in its branch; null for a thread's first messages."
    )

    @strawberry.field(
        description=(
            "Every message with the same parent (this one included, oldest first): the variants made by editing "
            'or\nregenerating. The page shows them as "2 / 3".'
        )
    )
    async def sibling_ids(self, message: Parent[MessageView], info: Info[Context, None]) -> list[strawberry.ID]:
        return [strawberry.ID(i) for i in await queries.sibling_ids(info, message)]


@strawberry.type
class Thread:
    id: strawberry.ID
    title: str = strawberry.field(description="The first prompt, shortened.")
    created_at: datetime

    @strawberry.field(description="Oldest first; `last` keeps only the newest ones.", graphql_type=list[Message])
    async def messages(
        self, thread: Parent[ThreadView], info: Info[Context, None], last: int = 1000
    ) -> list[MessageView]:
        return await queries.thread_messages(info, thread, last)


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
    @strawberry.field(
        description="`shareToken` opens a stream of a thread shared with that token.", graphql_type=StreamBody
    )
    async def stream_body(
        self, info: Info[Context, None], stream_id: strawberry.ID, share_token: str | None = None
    ) -> events.StreamBody:
        return await queries.stream_body(info, stream_id, share_token)

    @strawberry.field(
        description=(
            "The thread's messages, oldest first; `last` keeps only the newest ones, `before` only those older "
            "than\nthat message (paging back)."
        ),
        graphql_type=list[Message],
    )
    async def messages(
        self,
        info: Info[Context, None],
        thread_id: strawberry.ID,
        last: int = 50,
        before: strawberry.ID | None = None,
        share_token: str | None = None,
    ) -> list[MessageView]:
        return await queries.messages(info, thread_id, last, before, share_token)

    @strawberry.field(
        description="The caller's own threads, newest first; `before` only those older than that thread (paging back).",
        graphql_type=list[Thread],
    )
    async def threads(
        self, info: Info[Context, None], last: int = 50, before: strawberry.ID | None = None
    ) -> list[ThreadView]:
        return await queries.threads(info, last, before)

    @strawberry.field(
        description="The branch that ends at `leafId` (or, when null, at the thread's newest message), oldest first.",
        graphql_type=list[Message],
    )
    async def branch(
        self,
        info: Info[Context, None],
        thread_id: strawberry.ID,
        leaf_id: strawberry.ID | None = None,
        last: int = 50,
        share_token: str | None = None,
    ) -> list[MessageView]:
        return await queries.branch(info, thread_id, leaf_id, last, share_token)

    @strawberry.field(description="The thread shared with this token, to anyone who holds it.", graphql_type=Thread)
    async def shared_thread(self, info: Info[Context, None], token: str) -> ThreadView:
        return await queries.shared_thread(info, token)

    @strawberry.field
    def viewer(self, info: Info[Context, None]) -> Viewer:
        identity, mode = queries.viewer(info)
        return Viewer(id=strawberry.ID(identity.id), auth_mode=mode)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Stores the prompt and creates its PENDING response stream. Without threadId a new thread is started.\n"
            "`parentId` continues the branch that ends at that message; by default, the thread's newest message."
        ),
        graphql_type=Message,
    )
    async def send_message(
        self,
        info: Info[Context, None],
        prompt: str,
        thread_id: strawberry.ID | None = None,
        parent_id: strawberry.ID | None = None,
    ) -> MessageView:
        return await mutations.send_message(info, prompt, thread_id, parent_id)

    @strawberry.mutation(
        description="A new answer to the same prompt: a sibling of the message, with a new PENDING response stream.",
        graphql_type=Message,
    )
    async def regenerate(self, info: Info[Context, None], message_id: strawberry.ID) -> MessageView:
        return await mutations.regenerate(info, message_id)

    @strawberry.mutation(
        description=(
            "A new prompt in place of the message's: a sibling of the message, with a new PENDING response stream. "
            "The\nold message and the branch after it stay as they were."
        ),
        graphql_type=Message,
    )
    async def edit_message(self, info: Info[Context, None], message_id: strawberry.ID, prompt: str) -> MessageView:
        return await mutations.edit_message(info, message_id, prompt)

    @strawberry.mutation(
        description=(
            "Stops a live stream (final status CANCELLED, text kept). On a stream that is already final it "
            "changes nothing."
        ),
        graphql_type=StreamBody,
    )
    async def cancel_stream(self, info: Info[Context, None], stream_id: strawberry.ID) -> events.StreamBody:
        return await mutations.cancel_stream(info, stream_id)

    @strawberry.mutation(
        description="Deletes the thread, its messages, streams and chunks; a live stream in it is cancelled first."
    )
    async def delete_thread(self, info: Info[Context, None], thread_id: strawberry.ID) -> bool:
        return await mutations.delete_thread(info, thread_id)

    @strawberry.mutation(
        description="Makes (or returns the existing) read-only share token of one of the caller's threads.",
        graphql_type=ThreadShare,
    )
    async def share_thread(self, info: Info[Context, None], thread_id: strawberry.ID) -> ShareView:
        return await mutations.share_thread(info, thread_id)

    @strawberry.mutation(
        description="Revokes the thread's share token; true if there was one. The old token then finds nothing."
    )
    async def unshare_thread(self, info: Info[Context, None], thread_id: strawberry.ID) -> bool:
        return await mutations.unshare_thread(info, thread_id)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The driving client: claims a PENDING stream, starts generation, and streams token deltas as the "
            "model produces them.\nOn a stream that is already claimed or final it starts nothing and behaves "
            "exactly like streamBody(fromOffset: 0)."
        ),
        graphql_type=StreamEvent,
    )
    async def stream_chat(
        self, info: Info[Context, None], stream_id: strawberry.ID
    ) -> AsyncGenerator[events.StreamEvent]:
        async for event in subscriptions.stream_chat(info, stream_id):
            yield event

    @strawberry.subscription(
        description=(
            "An observer: the persisted text after fromOffset, then each chunk as it is persisted, until a final "
            "status."
        ),
        graphql_type=StreamEvent,
    )
    async def stream_body(
        self,
        info: Info[Context, None],
        stream_id: strawberry.ID,
        from_offset: int = 0,
        share_token: str | None = None,
        from_cursor: str | None = None,
    ) -> AsyncGenerator[events.StreamEvent]:
        async for event in subscriptions.stream_body(info, stream_id, from_offset, share_token, from_cursor):
            yield event
