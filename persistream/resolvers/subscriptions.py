"""Subscriptions only consume: the generation belongs to the engine, so a client leaving (Strawberry cancels the
iterator) never stops it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.types import Info

from persistream.core.errors import BadInput
from persistream.core.events import StreamEvent
from persistream.core.ids import parse_id
from persistream.resolvers.context import chat_of


async def stream_chat(info: Info[Any, Any], stream_id: str) -> AsyncIterator[StreamEvent]:
    async for event in chat_of(info).stream_chat(parse_id(stream_id, "streamId")):
        yield event


async def stream_body(info: Info[Any, Any], stream_id: str, from_offset: int) -> AsyncIterator[StreamEvent]:
    stream = parse_id(stream_id, "streamId")
    if from_offset < 0:
        raise BadInput("fromOffset must be zero or more.")
    async for event in chat_of(info).engine.observe(stream, from_offset):
        yield event
