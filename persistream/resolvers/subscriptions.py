"""Subscriptions only consume: the generation belongs to the engine, so a client leaving (Strawberry cancels the
iterator) never stops it. Access is checked before the first event, so a refused caller sees no event at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry import Info

from persistream.engine.events import StreamEvent
from persistream.engine.ids import parse_id
from persistream.errors import BadInput
from persistream.resolvers.context import Context
from persistream.resolvers.direct import deliver


async def stream_chat(info: Info[Context, None], stream_id: str) -> AsyncIterator[StreamEvent]:
    stream = parse_id(stream_id, "streamId")
    info.context.follow(stream)
    events = await info.context.chat.stream_chat(info.context.caller(), stream)
    async for event in deliver(events, _direct(info)):
        yield event


async def stream_body(
    info: Info[Context, None], stream_id: str, from_offset: int, share_token: str | None, from_cursor: str | None
) -> AsyncIterator[StreamEvent]:
    stream = parse_id(stream_id, "streamId")
    if from_offset < 0 and from_cursor is None:  # with a cursor, fromOffset is ignored
        raise BadInput("fromOffset must be zero or more.")
    info.context.follow(stream)
    chat, caller = info.context.chat, info.context.caller()
    if from_cursor is None:
        events = await chat.observe(caller, stream, from_offset, share_token)
    else:
        events = await chat.observe_from_cursor(caller, stream, from_cursor, share_token)
    async for event in deliver(events, _direct(info)):
        yield event


def _direct(info: Info[Context, None]) -> bool:
    # Over a WebSocket, events are written straight to the socket when the schema allows it (resolvers/direct.py).
    return bool(getattr(info.schema, "direct_frames", False))
