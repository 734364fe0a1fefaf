"""Mutations: parse the ids the client sent, then ask the chat service on behalf of the caller."""

from __future__ import annotations

import dataclasses

from strawberry import Info

from persistream.chat.views import MessageView, ShareView
from persistream.engine.events import StreamBody
from persistream.engine.ids import parse_id
from persistream.resolvers.context import Context


async def send_message(
    info: Info[Context, None], prompt: str, thread_id: str | None, parent_id: str | None = None
) -> MessageView:
    thread = parse_id(thread_id, "threadId") if thread_id is not None else None
    parent = parse_id(parent_id, "parentId") if parent_id is not None else None
    return await info.context.chat.send_message(info.context.caller(), prompt, thread, parent)


async def regenerate(info: Info[Context, None], message_id: str) -> MessageView:
    return await info.context.chat.regenerate(info.context.caller(), parse_id(message_id, "messageId"))


async def edit_message(info: Info[Context, None], message_id: str, prompt: str) -> MessageView:
    return await info.context.chat.edit_message(info.context.caller(), parse_id(message_id, "messageId"), prompt)


async def cancel_stream(info: Info[Context, None], stream_id: str) -> StreamBody:
    return await info.context.chat.cancel_stream(info.context.caller(), parse_id(stream_id, "streamId"))


async def delete_thread(info: Info[Context, None], thread_id: str) -> bool:
    return await info.context.chat.delete_thread(info.context.caller(), parse_id(thread_id, "threadId"))


async def share_thread(info: Info[Context, None], thread_id: str) -> ShareView:
    share = await info.context.chat.share_thread(info.context.caller(), parse_id(thread_id, "threadId"))
    return dataclasses.replace(share, base_path=info.context.base_path)


async def unshare_thread(info: Info[Context, None], thread_id: str) -> bool:
    return await info.context.chat.unshare_thread(info.context.caller(), parse_id(thread_id, "threadId"))
