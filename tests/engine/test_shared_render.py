"""Rendering once per distinct selection: the real schema and view, subscribed through Strawberry's own
`subscribe`, on events of a real engine (SQLite file, in-process broadcast).

Subscribers with the same document and variables share one execution result per event and one encoded payload;
another document or other variables execute on their own; the frame for each subscriber carries its own id and is
byte for byte what Strawberry's plain encoding gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from persistream.core import StreamEngine
from persistream.resolvers.context import Context
from persistream.resolvers.shared import renders, shared_payload_json
from persistream.schema import build_schema
from persistream.web.graphql_view import PersistreamGraphQL

FIELDS = "subscription($id: ID!) { streamBody(streamId: $id) { delta offset status } }"
OTHER = "subscription($id: ID!) { streamBody(streamId: $id) { offset status } }"


async def test_one_execution_and_one_encoding_per_event_and_selection(tmp_path: Path) -> None:
    schema = build_schema()
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{tmp_path / 'render.db'}", flush_ms=20) as engine:
        stream_id = await engine.create_stream()

        class Chat:  # what resolvers need of the chat service here: observe without access rules
            async def observe(self, caller: Any, stream: str, offset: int, token: str | None) -> Any:
                return engine.observe(stream, offset)

        context = Context(chat=Chat())  # type: ignore[arg-type]

        async def subscriber(query: str) -> list[Any]:
            results = await schema.subscribe(query, {"id": stream_id}, context_value=context)
            assert not isinstance(results, Exception)
            return [r async for r in results]  # type: ignore[union-attr]

        same = [asyncio.create_task(subscriber(FIELDS)) for _ in range(10)]
        other = asyncio.create_task(subscriber(OTHER))
        await asyncio.sleep(0.3)
        before = dict(renders)

        async def source() -> AsyncIterator[str]:
            for i in range(10):
                await asyncio.sleep(0.02)
                yield f"line {i}\n"

        [e async for e in engine.drive(stream_id, source)]
        results = [await asyncio.wait_for(t, 10) for t in same]
        others = await asyncio.wait_for(other, 10)

    assert all(not r.errors for rs in results for r in rs)
    steps = len(results[0]) - 1  # after each one's own first event
    assert steps >= 5
    for rs in results[1:]:
        # The very same data object for every subscriber of the same selection, event after event.
        assert [r.data for r in rs[1:]] == [r.data for r in results[0][1:]]
        assert all(a.data is b.data for a, b in zip(rs[1:], results[0][1:], strict=True))
    assert all(a.data is not b.data for a, b in zip(others[1:], results[0][1:], strict=False))
    executed = renders["executed"] - before["executed"]
    shared = renders["shared"] - before["shared"]
    assert executed <= 2 * (steps + 1), (executed, steps)  # once per event for each of the two selections
    assert shared >= 9 * steps, (shared, steps)

    view = PersistreamGraphQL(chat=None, allowed_origins=())  # type: ignore[arg-type]
    for ours, op_id in ((results[0][-1], "a"), (results[3][-1], "b")):
        payload = {"data": ours.data}
        assert shared_payload_json(payload) is not None
        for message in (
            {"id": op_id, "type": "next", "payload": payload},
            {"type": "data", "id": op_id, "payload": payload},
        ):
            frame = view.encode_json(message)
            assert frame == json.dumps(message, separators=(",", ":"))
            assert json.loads(frame)["id"] == op_id
    # A payload nobody shares is encoded the plain way.
    assert shared_payload_json({"data": {"streamBody": {"offset": 1}}}) is None
