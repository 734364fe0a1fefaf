"""Subscriptions only consume: the generation belongs to the engine, so a client leaving (Strawberry cancels the
iterator) never stops it. Access is checked before the first event, so a refused caller sees no event at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.types import Info

from persistream.engine.events import StreamEvent
from persistream.engine.ids import parse_id
from persistream.errors import BadInput
from persistream.resolvers.context import caller_of, chat_of, follow


async def stream_chat(info: Info[Any, Any], stream_id: str) -> AsyncIterator[StreamEvent]:
    stream = parse_id(stream_id, "streamId")
    follow(info, stream)
    events = await chat_of(info).stream_chat(caller_of(info), stream)
    async for event in events:
        yield event


async def stream_body(
    info: Info[Any, Any], stream_id: str, from_offset: int, share_token: str | None
) -> AsyncIterator[StreamEvent]:
    stream = parse_id(stream_id, "streamId")
    if from_offset < 0:
        raise BadInput("fromOffset must be zero or more.")
    follow(info, stream)
    events = await chat_of(info).observe(caller_of(info), stream, from_offset, share_token)
    async for event in events:
        yield event
