from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from persistream.chat import access
from persistream.chat.identity import Identity
from persistream.chat.service import MessageView, ThreadView, check_last
from persistream.engine.events import StreamBody
from persistream.engine.ids import parse_id
from persistream.resolvers.context import auth_mode_of, caller_of, chat_of


async def stream_body(info: Info[Any, Any], stream_id: str, share_token: str | None) -> StreamBody:
    return await chat_of(info).stream_body(caller_of(info), parse_id(stream_id, "streamId"), share_token)


async def messages(
    info: Info[Any, Any], thread_id: str, last: int, before: str | None, share_token: str | None
) -> list[MessageView]:
    anchor = parse_id(before, "before") if before is not None else None
    return await chat_of(info).messages(caller_of(info), parse_id(thread_id, "threadId"), last, anchor, share_token)


async def threads(info: Info[Any, Any], last: int, before: str | None) -> list[ThreadView]:
    anchor = parse_id(before, "before") if before is not None else None
    return await chat_of(info).threads(caller_of(info), last, anchor)


async def shared_thread(info: Info[Any, Any], token: str) -> ThreadView:
    caller_of(info)  # a bad credential is refused even here
    return await chat_of(info).shared_thread(token)


def viewer(info: Info[Any, Any]) -> tuple[Identity, str]:
    return access.require(caller_of(info)), auth_mode_of(info)


async def thread_messages(info: Info[Any, Any], thread: ThreadView, last: int) -> list[MessageView]:
    """Batched per request: `threads { messages }` costs the same few queries for 1 or 1000 threads."""
    check_last(last)
    loader: DataLoader[str, list[MessageView]] | None = info.context.get("thread_messages")
    if loader is None:
        chat = chat_of(info)

        async def load(ids: list[str]) -> list[list[MessageView]]:
            grouped = await chat.thread_messages(ids)
            return [grouped[i] for i in ids]

        loader = info.context["thread_messages"] = DataLoader(load_fn=load)
    return (await loader.load(thread.id))[-last:]
