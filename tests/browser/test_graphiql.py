"""GraphiQL at /graphql runs from the server's own pinned copies of React and GraphiQL, with the internet cut off,
and runs a streamBody subscription; without those copies the server falls back to Strawberry's CDN page.

(Item 7 of the issue's list.)"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from persistream.config import Settings
from persistream.web import graphql_view
from persistream.web.app import create_app
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, words
from .conftest import OfflineContext

ANSWER = "GraphiQL follows this answer over its own WebSocket while the chat page drives it from another tab."

SUBSCRIPTION = """subscription Follow($id: ID!) {
  streamBody(streamId: $id, fromOffset: 0) { streamId delta offset status error }
}"""


@pytest.mark.browser
def test_graphiql_works_offline_and_runs_a_stream_body_subscription(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    ide = offline.context.new_page()
    requested: list[str] = []
    ide.on("request", lambda request: requested.append(request.url))
    ide.goto(f"{chat_server.url}/graphql")
    ide.locator(".graphiql-execute-button").wait_for()
    assert any(url.endswith("/static/vendor/graphiql/graphiql.min.js") for url in requested)

    # The chat page drives an answer; GraphiQL observes the same stream.
    marker = fake_openai.add("graphiql", Script(words(ANSWER), delay=0.08))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    stream_id = chat.stream_id(chat.send(f"Stream for GraphiQL {marker}"))

    ide.bring_to_front()
    ide.evaluate(
        """([query, variables]) => {
          document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
          document.querySelector('.graphiql-editor-tool .CodeMirror').CodeMirror.setValue(variables);
        }""",
        [SUBSCRIPTION, json.dumps({"id": stream_id})],
    )
    ide.locator(".graphiql-execute-button").click()

    # GraphiQL shows the latest event of a subscription; watch it go from live to DONE.
    statuses: list[str] = []
    deadline = time.monotonic() + 20
    result: dict[str, Any] = {}
    while True:
        raw = ide.evaluate("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        if raw.strip().startswith("{"):
            result = json.loads(raw)
            status = result.get("data", {}).get("streamBody", {}).get("status")
            if status and (not statuses or statuses[-1] != status):
                statuses.append(status)
            if status == "DONE":
                break
        assert time.monotonic() < deadline, f"GraphiQL showed {raw!r}"
        ide.wait_for_timeout(25)

    assert "errors" not in result, result
    event = result["data"]["streamBody"]
    assert event["streamId"] == stream_id
    assert event["offset"] == len(ANSWER)
    assert event["error"] is None
    assert statuses[0] in ("PENDING", "STREAMING"), statuses  # it was live while GraphiQL followed it
    chat.wait_status(chat.answer_for(stream_id), "DONE")
    assert chat.text(chat.answer_for(stream_id)) == ANSWER


def test_graphiql_falls_back_to_the_cdn_page_only_without_local_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'ide.db'}"))
    client = TestClient(app)  # no lifespan: rendering the IDE touches neither the database nor the hub
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
