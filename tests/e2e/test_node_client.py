"""The official JavaScript graphql-ws client, under Node, drives a stream and observes it from a second socket:
both see exactly the persisted text, with the contract's event invariants."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events
from tests.support.node import NODE_DIR, require_node
from tests.support.server import ServerProcess
from tests.support.streams import query_body, start_stream

SCRIPT = NODE_DIR / "drive_and_observe.mjs"

pytestmark = pytest.mark.node


async def test_graphql_ws_client_drives_and_observes(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    node = require_node()
    tokens = ["Node", " says", " hello", ".", " Offsets", " count", " code", " points", ":", " 🎉", " ok", "!"]
    tokens += [f" more{i}" for i in range(30)] + ["."]
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.02), name="node")

    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        server.graphql_ws,
        stream_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode(errors="replace")
    result = json.loads(stdout)

    expected = "".join(tokens)
    body = await query_body(server, stream_id)
    assert body == {"streamId": stream_id, "text": expected, "status": "DONE", "error": None, "offset": len(expected)}
    assert check_events(result["driver"]) == expected
    assert check_events(result["observer"]) == expected
    for events in (result["driver"], result["observer"]):
        assert {e["streamId"] for e in events} == {stream_id}
        assert events[-1]["status"] == "DONE"
        assert events[-1]["offset"] == len(expected)
    # The driver received tokens before any was persisted as a whole answer: it streamed, in many events.
    assert len([e for e in result["driver"] if e["delta"]]) > 1
    # Two sockets, each negotiated the modern protocol; and the model was asked exactly once.
    assert result["protocols"] == ["graphql-transport-ws", "graphql-transport-ws"]
    assert len(fake_openai.requests_for(name)) == 1
