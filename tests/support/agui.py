"""Talking AG-UI to a server: a run posted, its SSE events read (each with its SSE id), a rejoin, and the events
of a run merged (consecutive content of one message as one event) so runs cut into different chunks compare."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.support.server import ServerProcess

Event = dict[str, Any]
CONTENT = {
    "TEXT_MESSAGE_CONTENT": "messageId",
    "REASONING_MESSAGE_CONTENT": "messageId",
    "TOOL_CALL_ARGS": "toolCallId",
}


def run_input(prompt: str, thread_id: str | None = None, history: list[Event] | None = None) -> Event:
    messages = [*(history or []), {"id": uuid.uuid4().hex, "role": "user", "content": prompt}]
    return {
        "threadId": thread_id or str(uuid.uuid4()),
        "runId": uuid.uuid4().hex,
        "messages": messages,
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }


async def sse_events(response: httpx.Response, limit: int | None = None) -> AsyncIterator[Event]:
    """Each event's JSON with its SSE id under "_id"; stops after `limit` events when given."""
    count = 0
    event_id, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            event = json.loads("\n".join(data))
            event["_id"] = event_id
            yield event
            event_id, data = None, []
            count += 1
            if limit is not None and count >= limit:
                return


async def post_run(server: ServerProcess, body: Event | bytes, headers: dict[str, str] | None = None) -> list[Event]:
    async with httpx.AsyncClient(timeout=60) as client:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = client.build_request(
            "POST",
            f"{server.url}/agui",
            content=content,
            headers={"content-type": "application/json", **(headers or {})},
        )
        response = await client.send(request, stream=True)
        assert response.status_code == 200, (response.status_code, await response.aread())
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in sse_events(response)]


async def rejoin(
    server: ServerProcess, run_id: str, cursor: str | None = None, *, header: bool = False, **headers: str
) -> list[Event]:
    params = {} if cursor is None or header else {"cursor": cursor}
    if cursor is not None and header:
        headers["last-event-id"] = cursor
    url = f"{server.url}/agui/runs/{run_id}"
    async with httpx.AsyncClient(timeout=60) as client, client.stream("GET", url, params=params, headers=headers) as r:
        assert r.status_code == 200, (r.status_code, await r.aread())
        return [event async for event in sse_events(r)]


def merged(events: list[Event]) -> list[Event]:
    """The events without their ids, consecutive content of one message (or call) joined into one event."""
    out: list[Event] = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "_id"}
        field = CONTENT.get(event["type"])
        last = out[-1] if out else None
        if field and last and last["type"] == event["type"] and last[field] == event[field]:
            last["delta"] += event["delta"]
        else:
            out.append(event)
    return out


def types(events: list[Event]) -> list[str]:
    return [e["type"] for e in merged(events)]
