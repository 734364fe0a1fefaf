from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from persistream.core.chat import MessageView, ThreadView
from persistream.core.events import StreamBody
from persistream.core.ids import parse_id
from persistream.resolvers.context import chat_of


async def stream_body(info: Info[Any, Any], stream_id: str) -> StreamBody:
    return await chat_of(info).engine.body(parse_id(stream_id, "streamId"))


async def messages(info: Info[Any, Any], thread_id: str, last: int) -> list[MessageView]:
    return await chat_of(info).messages(parse_id(thread_id, "threadId"), last)


async def threads(info: Info[Any, Any], last: int) -> list[ThreadView]:
    return await chat_of(info).threads(last)


async def thread_messages(info: Info[Any, Any], thread: ThreadView) -> list[MessageView]:
    """Batched per request: `threads { messages }` costs the same few queries for 1 or 1000 threads."""
    loader: DataLoader[str, list[MessageView]] | None = info.context.get("thread_messages")
    if loader is None:
        chat = chat_of(info)

        async def load(ids: list[str]) -> list[list[MessageView]]:
            grouped = await chat.thread_messages(ids)
            return [grouped[i] for i in ids]

        loader = info.context["thread_messages"] = DataLoader(load_fn=load)
    return await loader.load(thread.id)
