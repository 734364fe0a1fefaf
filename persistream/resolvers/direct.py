"""Subscription events written straight to their WebSocket, each rendered once for every subscriber of it.

Why: Strawberry hands each subscription event through graphql-core's response stream, its own result loop (the
extension hooks of every result, the result's conversion), the protocol handler's message dict and the view's
encoder before the frame reaches the socket: some 100-200 microseconds per subscriber per event on these machines.
A thousand observers of one answer paid that a thousand times per chunk, and the chunks queued behind it (the
bench's `fanout` row). Here the subscription's own resolver, running in its operation's task, renders the event
with the subscription's own executor (so the result is the one graphql-core would make, shared per event and
selection by `shared.py`) and writes the protocol's frame itself, so a caught-up subscriber costs a cache look-up
and a socket write.

What decides it, per subscription:
- the WebSocket protocol handler names where frames go (`FrameSink`, in `current_sink`) around the operation's
  start; the operation's task inherits it. Over HTTP (SSE, multipart) there is none: events are yielded as before;
- the schema's executor names itself (`current_executor`) when it is built for a subscription, in the same task;
- the schema allows it (`direct_frames`): no extension of its adds results or reads each streamed result, beyond
  error masking (a frame sent here never carries errors).
An event whose result has errors is yielded to Strawberry, which renders, masks and logs it as always. The frames
are byte for byte the ones Strawberry sends (tests/engine/test_direct_frames.py), in the same order, from the same
task; the operation ends as before (`complete` after the last event, cancellation on the client's `complete`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Literal

from graphql import ExecutionResult
from strawberry.extensions import MaskErrors, SchemaExtension

from persistream import metrics
from persistream.engine.events import StreamEvent
from persistream.resolvers.shared import SharedEventExecutor, current_executor, payload_json_of

__all__ = ["FrameSink", "current_executor", "current_sink", "deliver", "direct_frames_allowed"]


class FrameSink:
    """Where one operation's `next` (graphql-transport-ws) or `data` (graphql-ws) frames go: its id and socket."""

    __slots__ = ("_head", "_send")

    def __init__(self, send: Callable[[str], Awaitable[bool]], op_id: str, kind: Literal["next", "data"]) -> None:
        # The keys in the order Strawberry's handlers write them, so the bytes are what its encoder gives.
        op = json.dumps(op_id)
        if kind == "next":
            self._head = f'{{"id":{op},"type":"next","payload":'
        else:
            self._head = f'{{"type":"data","id":{op},"payload":'
        self._send = send

    def send(self, payload_json: str) -> Awaitable[bool]:
        """Write one frame; the awaitable says False when the client is gone."""
        return self._send(self._head + payload_json + "}")


current_sink: ContextVar[FrameSink | None] = ContextVar("persistream_frame_sink", default=None)


def direct_frames_allowed(extensions: list[Any]) -> bool:
    """Whether results may bypass Strawberry's per-result hooks: no extension adds results (`get_results`) or reads
    each streamed result (`on_stream_result`), except error masking, which has nothing to do for a frame without
    errors. `extensions` are classes, instances or factories, as a schema keeps them; a factory other than a
    `functools.partial` of a class (a lambda) cannot be looked into, so it keeps Strawberry's path."""
    for extension in extensions:
        kind = getattr(extension, "func", extension)
        kind = kind if isinstance(kind, type) else type(kind)
        if not issubclass(kind, SchemaExtension):
            return False
        if issubclass(kind, MaskErrors):
            continue
        for hook in ("get_results", "on_stream_result"):
            if getattr(kind, hook) is not getattr(SchemaExtension, hook):
                return False
    return True


async def deliver(events: AsyncIterator[StreamEvent], allowed: bool) -> AsyncIterator[StreamEvent]:
    """`events`, with every one that renders without errors written straight to the subscriber's socket; the rest
    are yielded for Strawberry to send. Ends early, quietly, when the client is gone."""
    sink, executor = current_sink.get(), current_executor.get()
    if not allowed or sink is None or executor is None:
        async for event in events:
            yield event
        return
    async for event in events:
        payload = await _render(executor, event)
        if payload is None:
            yield event
        elif await sink.send(payload):
            metrics.DIRECT_FRAMES.inc()
        else:
            return


async def _render(executor: SharedEventExecutor, event: StreamEvent) -> str | None:
    result = executor.build_per_event_executor(event).execute_operation(False)
    if executor.is_awaitable(result):
        result = await result
    if not isinstance(result, ExecutionResult) or result.errors or result.data is None:
        return None
    return payload_json_of(result)
