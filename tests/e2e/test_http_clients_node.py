"""The official HTTP-only clients under Node against a real server: `graphql-sse` (distinct connections mode) and
Apollo Client 4 with only an HttpLink (multipart subscriptions) each drive a stream and observe it from an offset to
its final status with the contract's event rules; identities, bad documents and errors as over WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events
from tests.support.identities import HS_SECRET, JWT_ENV, bearer, hs_token
from tests.support.node import NODE_DIR, require_node
from tests.support.secrets import remember
from tests.support.server import ServerProcess
from tests.support.streams import assert_clean_log, query_body, start_stream, unique

SCRIPT = NODE_DIR / "http_transports.mjs"
TRANSPORTS = ["sse", "apollo"]
MISSING = "00000000-0000-4000-8000-000000000000"

pytestmark = pytest.mark.node


async def run_node(*args: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    node = require_node()
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        *args,
        json.dumps(headers or {}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(stdout)
    return result


def codes(result: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in result["errors"]]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_client_drives_and_observes_from_an_offset(
    server: ServerProcess, fake_openai: FakeOpenAI, transport: str
) -> None:
    tokens = ["🎉", " Over", " HTTP", " only", ":", " 𝄞", " clef"] + [f" w{i}" for i in range(25)] + ["."]
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.02), name=transport)

    result = await run_node("stream", transport, server.graphql_http, stream_id)

    expected = "".join(tokens)
    body = await query_body(server, stream_id)
    assert body == {"streamId": stream_id, "text": expected, "status": "DONE", "error": None, "offset": len(expected)}
    assert check_events(result["driver"]) == expected
    start = result["observerFrom"]
    assert 0 < start < len(expected)  # the observer joined mid-answer, at the driver's code-point offset
    assert check_events(result["observer"], start) == expected[start:]
    assert result["driver"][-1]["status"] == result["observer"][-1]["status"] == "DONE"
    assert len([e for e in result["driver"] if e["delta"]]) > 1
    assert len(fake_openai.requests_for(name)) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_client_gets_clear_errors_and_the_server_keeps_serving(
    server: ServerProcess, transport: str
) -> None:
    missing = await run_node(
        "errors", transport, server.graphql_http, f'subscription {{ streamChat(streamId: "{MISSING}") {{ delta }} }}'
    )
    assert codes(missing) == ["NOT_FOUND"] and missing["events"] == []
    invalid = await run_node("errors", transport, server.graphql_http, "subscription { noSuchField }")
    assert codes(invalid) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "noSuchField" in invalid["errors"][0]["message"]
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/healthz")).status_code == 200
    assert_clean_log(server)


async def test_http_clients_follow_the_identity_rules(make_server: ServerFactory, fake_openai: FakeOpenAI) -> None:
    server = make_server(PERSISTREAM_JWT_SECRET=HS_SECRET, **JWT_ENV)
    owner = bearer(server, hs_token("alice"))
    name = unique("owned")
    marker = fake_openai.add(name, Script(["Mine", " only", "."], delay=0.01))
    sent = await owner.gql(
        "mutation($p: String!) { sendMessage(prompt: $p) { responseStreamId } }", {"p": f"Hi {marker}"}
    )
    stream_id = sent["data"]["sendMessage"]["responseStreamId"]
    chat = f'subscription {{ streamChat(streamId: "{stream_id}") {{ streamId delta offset status error }} }}'
    for transport in TRANSPORTS:
        # No credential: UNAUTHENTICATED; another identity: NOT_FOUND, exactly as for a stream that does not exist.
        nobody = await run_node("errors", transport, server.graphql_http, chat)
        assert codes(nobody) == ["UNAUTHENTICATED"], nobody
        other = await run_node("errors", transport, server.graphql_http, chat, headers=bearer_header("mallory"))
        assert codes(other) == ["NOT_FOUND"], other
        absent = chat.replace(stream_id, MISSING)
        assert codes(await run_node("errors", transport, server.graphql_http, absent, headers=bearer_header("mallory")))
        assert (
            other["errors"][0]["message"]
            == (await run_node("errors", transport, server.graphql_http, absent, headers=bearer_header("mallory")))[
                "errors"
            ][0]["message"]
        )
    # Neither attempt started anything: the owner's stream is still PENDING and the model was never asked.
    body = await owner.gql("query($id: ID!) { streamBody(streamId: $id) { status } }", {"id": stream_id})
    assert body["data"]["streamBody"]["status"] == "PENDING"
    assert fake_openai.requests_for(name) == []
    # The owner drives it over HTTP with the bearer header.
    result = await run_node("stream", "sse", server.graphql_http, stream_id, headers=bearer_header("alice"))
    assert check_events(result["driver"]) == "Mine only."


def bearer_header(sub: str) -> dict[str, str]:
    token = hs_token(sub)
    remember(token)  # the server's log is searched for it when the server stops
    return {"Authorization": f"Bearer {token}"}
