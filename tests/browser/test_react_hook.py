"""The JavaScript client's React hook, `useStream`, in headless Chromium under <StrictMode>: a small test page
(clients/js/test/react/app.jsx) is bundled here with esbuild from the client's own devDependencies and served
from another origin than the server, as an app's page would be. StrictMode mounts every effect twice: the answer
must still be driven once, and when the component's `streamId` changes it must follow the new stream and drop the
old one, never showing the old text under the new id. An answer that reasons and calls a tool shows every part as
it streams, and ends with exactly the stored parts."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY
from tests.support.jsclient import CLIENT_DIR, require_client_deps
from tests.support.net import free_port
from tests.support.streams import unique
from tests.support.tool_answers import stored_parts, tool_answer, tools_env

from .chat import words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

PAGE_SOURCE = CLIENT_DIR / "test" / "react"
LONG = " ".join(f"Answer A, sentence {i}, is still being written when the page switches to B." for i in range(8))
SHORT = "Answer B is short, and 🎉 counts as one code point."


@pytest.fixture(scope="module")
def test_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled page, served over HTTP on loopback; its origin."""
    require_client_deps()
    out = tmp_path_factory.mktemp("react-page")
    (out / "index.html").write_bytes((PAGE_SOURCE / "index.html").read_bytes())
    subprocess.run(
        [
            str(CLIENT_DIR / "node_modules" / ".bin" / "esbuild"),
            str(PAGE_SOURCE / "app.jsx"),
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            # React's development build: the one where StrictMode really mounts effects twice.
            '--define:process.env.NODE_ENV="development"',
            f"--outfile={out / 'app.js'}",
            "--log-level=warning",
        ],
        cwd=CLIENT_DIR,
        check=True,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def stored(graphql: str, stream_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(graphql, json={"query": BODY, "variables": {"id": stream_id}}).json()["data"][
        "streamBody"
    ]
    return body


def test_use_stream_drives_once_under_strict_mode_and_follows_a_changed_stream_id(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, test_page: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=test_page)
    name_a, name_b = unique("react-a"), unique("react-b")
    marker_a = fake_openai.add(name_a, Script(words(LONG), delay=0.03))
    marker_b = fake_openai.add(name_b, Script(words(SHORT), delay=0.03))
    query = urlencode({"api": server.graphql_http, "a": f"First {marker_a}", "b": f"Second {marker_b}"})
    page = offline.context.new_page()
    page.goto(f"{test_page}/index.html?{query}")
    answer = page.locator("#answer")

    page.locator("#ask-a").click()
    expect(answer).to_have_attribute("data-status", "STREAMING")
    page.wait_for_function("document.querySelector('#text').textContent.length > 20")
    stream_a = page.evaluate("window.__streams[0]")
    assert stored(server.graphql_http, stream_a)["status"] == "STREAMING"

    page.locator("#ask-b").click()
    page.wait_for_function("(window.__streams || []).length === 2")
    stream_b = page.evaluate("window.__streams[1]")
    expect(answer).to_have_attribute("data-stream-id", stream_b)
    expect(answer).to_have_attribute("data-status", "DONE")
    body_b = stored(server.graphql_http, stream_b)
    assert page.locator("#text").text_content() == body_b["text"] == SHORT

    # The old answer goes on to its end on the server: switching away only stopped following it.
    deadline = time.monotonic() + 15
    while (body_a := stored(server.graphql_http, stream_a))["status"] == "STREAMING" and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert (body_a["status"], body_a["text"]) == ("DONE", LONG)

    # Every render showed, for its stream id, a prefix of that stream's text: never A's text under B's id.
    renders = page.evaluate("window.__renders")
    finals = {stream_a: LONG, stream_b: SHORT}
    for render in renders:
        if render["streamId"] is None:
            assert render["text"] == ""
            continue
        assert finals[render["streamId"]].startswith(render["text"]), render
    assert any(r["streamId"] == stream_b and r["text"] == SHORT for r in renders)

    # Over the socket: each stream was driven by exactly one streamChat, StrictMode notwithstanding; A's was
    # completed when the id changed and never subscribed again.
    sent = page.evaluate("window.__sent")
    subscribes = [m for m in sent if m["type"] == "subscribe"]

    def chats_for(stream_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in subscribes
            if "streamChat" in m["payload"]["query"] and m["payload"]["variables"]["streamId"] == stream_id
        ]

    assert len(chats_for(stream_a)) == 1 and len(chats_for(stream_b)) == 1, subscribes
    op_a = chats_for(stream_a)[0]["id"]
    assert {"type": "complete", "id": op_a} in sent
    after = sent[sent.index({"type": "complete", "id": op_a}) :]
    assert not [m for m in after if m["type"] == "subscribe" and m["payload"]["variables"]["streamId"] == stream_a]
    # And the model was asked once for each answer.
    assert len(fake_openai.requests_for(name_a)) == 1
    assert len(fake_openai.requests_for(name_b)) == 1


PARTS_BODY = """query($id: ID!) { streamBody(streamId: $id) { text status
  parts { index kind text toolName toolCallId isError } cursor usage { inputTokens outputTokens reasoningTokens } } }"""


def test_use_stream_shows_every_part_under_strict_mode(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, test_page: str, tmp_path: Path
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=test_page, **tools_env(tmp_path))
    name = unique("react-parts")
    marker = fake_openai.add(name, tool_answer(delay=0.03))
    page = offline.context.new_page()
    page.goto(f"{test_page}/index.html?{urlencode({'api': server.graphql_http, 'a': f'Add {marker}'})}")
    answer = page.locator("#answer")

    page.locator("#ask-a").click()
    # Reasoning streams in before anything else.
    expect(answer.locator('.part[data-kind="REASONING"]')).to_contain_text("think0")
    expect(answer).to_have_attribute("data-status", "DONE")
    stream_id = page.evaluate("window.__streams[0]")
    body = httpx.post(server.graphql_http, json={"query": PARTS_BODY, "variables": {"id": stream_id}}).json()
    stored_body = body["data"]["streamBody"]
    assert stored_body["parts"] == stored_parts()
    shown = answer.locator(".part")
    expect(shown).to_have_count(4)
    for n, part in enumerate(stored_body["parts"]):
        expect(shown.nth(n)).to_have_attribute("data-kind", part["kind"])
        expect(shown.nth(n)).to_have_attribute("data-tool-name", part["toolName"] or "")
        assert shown.nth(n).text_content() == part["text"]
    expect(answer.locator("#text")).to_have_text(stored_body["text"])
    expect(answer.locator("#usage")).to_have_text("21 in, 40 out, 9 reasoning")

    # Every render held, for each part, a prefix of what was stored, and the last one the whole parts and cursor.
    renders = [r for r in page.evaluate("window.__renders") if r["streamId"] == stream_id]
    for render in renders:
        for n, part in enumerate(render["parts"]):
            whole = stored_body["parts"][n]
            assert {**part, "text": ""} == {**whole, "text": ""}, render
            assert whole["text"].startswith(part["text"]), render
    assert renders[-1]["parts"] == stored_body["parts"]
    assert renders[-1]["cursor"] == stored_body["cursor"]
    assert any(len(r["parts"]) == 1 and r["status"] == "STREAMING" for r in renders), "reasoning showed alone first"
    # Driven once, StrictMode notwithstanding: one streamChat, and the model asked once per step.
    sent = page.evaluate("window.__sent")
    chats = [m for m in sent if m["type"] == "subscribe" and "streamChat" in m["payload"]["query"]]
    assert len(chats) == 1, chats
    assert len(fake_openai.requests_for(name)) == 2
