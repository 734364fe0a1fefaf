from __future__ import annotations

from typing import Any

from strawberry.types import Info

from persistream.chat.service import MessageView, ShareView
from persistream.engine.events import StreamBody
from persistream.engine.ids import parse_id
from persistream.resolvers.context import caller_of, chat_of


async def send_message(info: Info[Any, Any], prompt: str, thread_id: str | None) -> MessageView:
    thread = parse_id(thread_id, "threadId") if thread_id is not None else None
    return await chat_of(info).send_message(caller_of(info), prompt, thread)


async def cancel_stream(info: Info[Any, Any], stream_id: str) -> StreamBody:
    return await chat_of(info).cancel_stream(caller_of(info), parse_id(stream_id, "streamId"))


async def delete_thread(info: Info[Any, Any], thread_id: str) -> bool:
    return await chat_of(info).delete_thread(caller_of(info), parse_id(thread_id, "threadId"))


async def share_thread(info: Info[Any, Any], thread_id: str) -> ShareView:
    return await chat_of(info).share_thread(caller_of(info), parse_id(thread_id, "threadId"))


async def unshare_thread(info: Info[Any, Any], thread_id: str) -> bool:
    return await chat_of(info).unshare_thread(caller_of(info), parse_id(thread_id, "threadId"))
