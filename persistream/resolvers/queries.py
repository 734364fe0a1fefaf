"""Queries: parse the ids the client sent, then read through the chat service on behalf of the caller."""

from __future__ import annotations

from strawberry import Info
from strawberry.dataloader import DataLoader

from persistream.chat import access
from persistream.chat.identity import Identity
from persistream.chat.service import check_last
from persistream.chat.views import MessageView, ThreadView
from persistream.db.branches import SiblingKey
from persistream.engine.events import StreamBody
from persistream.engine.ids import parse_id
from persistream.resolvers.context import Context


async def stream_body(info: Info[Context, None], stream_id: str, share_token: str | None) -> StreamBody:
    return await info.context.chat.stream_body(info.context.caller(), parse_id(stream_id, "streamId"), share_token)


async def messages(
    info: Info[Context, None], thread_id: str, last: int, before: str | None, share_token: str | None
) -> list[MessageView]:
    anchor = parse_id(before, "before") if before is not None else None
    caller = info.context.caller()
    return await info.context.chat.messages(caller, parse_id(thread_id, "threadId"), last, anchor, share_token)


async def branch(
    info: Info[Context, None], thread_id: str, leaf_id: str | None, last: int, share_token: str | None
) -> list[MessageView]:
    leaf = parse_id(leaf_id, "leafId") if leaf_id is not None else None
    caller = info.context.caller()
    return await info.context.chat.branch(caller, parse_id(thread_id, "threadId"), leaf, last, share_token)


async def threads(info: Info[Context, None], last: int, before: str | None) -> list[ThreadView]:
    anchor = parse_id(before, "before") if before is not None else None
    return await info.context.chat.threads(info.context.caller(), last, anchor)


async def shared_thread(info: Info[Context, None], token: str) -> ThreadView:
    info.context.caller()  # a bad credential is refused even here
    return await info.context.chat.shared_thread(token)


def viewer(info: Info[Context, None]) -> tuple[Identity, str]:
    return access.require(info.context.caller()), info.context.auth_mode


async def thread_messages(info: Info[Context, None], thread: ThreadView, last: int) -> list[MessageView]:
    """Batched per context: `threads { messages }` costs the same few queries for 1 or 1000 threads."""
    check_last(last)
    context = info.context
    if context.thread_messages is None:
        chat = context.chat

        async def load(ids: list[str]) -> list[list[MessageView]]:
            grouped = await chat.thread_messages(ids)
            return [grouped[i] for i in ids]

        context.thread_messages = DataLoader(load_fn=load)
    return (await context.thread_messages.load(thread.id))[-last:]


async def sibling_ids(info: Info[Context, None], message: MessageView) -> list[str]:
    """Batched per operation: the siblings of a list of messages are one query, not one per message. Never cached
    (a WebSocket's context lives as long as it does, and a regenerate adds a sibling): each load is read anew."""
    context = info.context
    if context.siblings is None:
        chat = context.chat

        async def load(keys: list[SiblingKey]) -> list[list[str]]:
            found = await chat.sibling_ids(keys)
            return [found[key] for key in keys]

        context.siblings = DataLoader(load_fn=load, cache=False)
    return await context.siblings.load((message.thread_id, message.parent_id))
