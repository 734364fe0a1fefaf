"""GraphiQL at /graphql runs from the server's own pinned copies of React and GraphiQL, with the internet cut
off, and runs a streamBody subscription on a live answer; without those copies the server falls back to
Strawberry's CDN page.

(Item 7 of the issue's list.)"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.testclient import TestClient

from persistream.config import Settings
from persistream.web import graphql_view
from persistream.web.app import create_app
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, check_events, collect
from tests.support.server import ServerProcess

from .chat import words
from .conftest import OfflineContext

ANSWER = "GraphiQL follows this answer over its own WebSocket while a Python client drives it."

SUBSCRIPTION = """subscription Follow($id: ID!) {
  streamBody(streamId: $id, fromOffset: 0) { streamId delta offset status error }
}"""


def drive(server: ServerProcess, stream_id: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with GraphQLWS(server.graphql_ws) as ws:
            return await collect(ws.subscribe(STREAM_CHAT, {"id": stream_id}), "streamChat")

    return asyncio.run(run())


@pytest.mark.browser
def test_graphiql_works_offline_and_runs_a_stream_body_subscription(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    # A PENDING answer that nobody drives yet, so GraphiQL is sure to see it live from its first event.
    marker = fake_openai.add("graphiql", Script(words(ANSWER), delay=0.05))
    response = httpx.post(
        chat_server.graphql_http,
        json={"query": SEND, "variables": {"prompt": f"Stream for GraphiQL {marker}"}},
        timeout=10,
    )
    stream_id = response.json()["data"]["sendMessage"]["responseStreamId"]

    ide = offline.context.new_page()
    requested: list[str] = []
    ide.on("request", lambda request: requested.append(request.url))
    # The editors start from the URL; with a single operation in it, the run button runs it (with several, it
    # would open a menu to choose one).
    query = urlencode({"q": SUBSCRIPTION, "variables": json.dumps({"id": stream_id})})
    ide.goto(f"{chat_server.url}/graphql?{query}")
    run = ide.locator(".graphiql-execute-button")
    run.wait_for()
    assert any(url.endswith("/static/vendor/graphiql/graphiql.min.js") for url in requested)
    run.click()

    def shown() -> dict[str, Any] | None:
        raw: str = ide.evaluate("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        return json.loads(raw) if raw.strip().startswith("{") else None

    # GraphiQL shows a subscription's latest event: first the PENDING body, then the answer as it is written.
    statuses: list[str] = []
    driver: threading.Thread | None = None
    driven: list[list[dict[str, Any]]] = []
    deadline = time.monotonic() + 20
    result: dict[str, Any] | None = None
    while True:
        result = shown()
        status = result.get("data", {}).get("streamBody", {}).get("status") if result else None
        if status and (not statuses or statuses[-1] != status):
            statuses.append(status)
        if status == "PENDING" and driver is None:
            driver = threading.Thread(target=lambda: driven.append(drive(chat_server, stream_id)))
            driver.start()
        if status == "DONE":
            break
        assert time.monotonic() < deadline, f"GraphiQL showed {result!r} after {statuses}"
        ide.wait_for_timeout(25)

    assert driver is not None
    driver.join(timeout=10)
    assert result is not None and "errors" not in result, result
    event = result["data"]["streamBody"]
    assert event["streamId"] == stream_id
    assert event["offset"] == len(ANSWER)
    assert event["error"] is None
    assert statuses[0] == "PENDING" and "STREAMING" in statuses, statuses
    assert check_events(driven[0]) == ANSWER

    # The editors live in the URL; a reload serves GraphiQL again with the same operation.
    ide.reload()
    run.wait_for()
    assert "streamBody(streamId: $id, fromOffset: 0)" in ide.evaluate(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
    )


def test_graphiql_falls_back_to_the_cdn_page_only_without_local_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'ide.db'}"))
    # no lifespan: rendering the IDE touches neither the database nor the hub; a loopback host, as the default
    # host allow-list of a loopback server wants
    client = TestClient(app, base_url="http://127.0.0.1")
    html = {"accept": "text/html"}

    if graphql_view.GRAPHIQL_ASSETS.is_dir():
        local = client.get("/graphql", headers=html)
        assert local.status_code == 200
        assert "/static/vendor/graphiql/graphiql.min.js" in local.text
        assert "unpkg.com" not in local.text

    monkeypatch.setattr(graphql_view, "GRAPHIQL_ASSETS", tmp_path / "absent")
    fallback = client.get("/graphql", headers=html)
    assert fallback.status_code == 200
    assert "unpkg.com" in fallback.text
    assert "/static/vendor/" not in fallback.text
