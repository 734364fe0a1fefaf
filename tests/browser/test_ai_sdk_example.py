"""The AI SDK example (examples/ai-sdk-chat: the AI SDK's own `useChat` from `ai` and `@ai-sdk/react`, as pinned in
its lock file, on persistream-client/ai-sdk) built and driven in headless Chromium against a real server: an answer
that reasons and calls a tool, Stop storing CANCELLED, reloads mid-answer with `resume: true` showing the answer
whole and once (from the cursor the transport kept, and as a replay when it kept nothing), and Regenerate making a
sibling. What is stored is read over GraphQL, as the page's own identity."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ROOT
from tests.support.streams import unique
from tests.support.tool_answers import stored_parts, tool_answer, tools_env

from .built_example import open_example, send, served_example
from .chat import words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "examples" / "ai-sdk-chat"
LONG = " ".join(f"Sentence {i} of an answer that is still being written when the page reloads." for i in range(16))
# Every answer's shown text, sampled on every DOM change of this page load.
RECORDER = """
window.__shown = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.answer')) {
    const text = [...el.querySelectorAll('.text')].map((t) => t.textContent).join('');
    window.__shown.push({ id: el.dataset.streamId, status: el.dataset.status, text });
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""
BODY = "query($id: ID!) { streamBody(streamId: $id) { text status } }"
BRANCH = "query($id: ID!) { branch(threadId: $id) { id parentId siblingIds responseStreamId } }"


@pytest.fixture(scope="module")
def example_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_example(EXAMPLE, tmp_path_factory.mktemp("ai-sdk-chat-dist")) as origin:
        yield origin


def open_app(offline: OfflineContext, origin: str, graphql: str) -> Page:
    return open_example(offline, origin, graphql, RECORDER)


def query(page: Page, graphql: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL query from the page, with its cookie: as the identity that owns its threads."""
    result: dict[str, Any] = page.evaluate(
        """async ([url, query, variables]) => (await fetch(url, { method: 'POST', credentials: 'include',
            headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json()""",
        [graphql, document, variables],
    )
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def stream_id_of(page: Page, index: int = 0) -> str:
    stream_id = page.locator(".answer").nth(index).get_attribute("data-stream-id")
    assert stream_id
    return stream_id


def test_use_chat_shows_reasoning_a_tool_call_and_usage_and_regenerates_a_sibling(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str, tmp_path: Path
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin, **tools_env(tmp_path))
    tool, plain = unique("ai-sdk-tool"), unique("ai-sdk-plain")
    tool_marker = fake_openai.add(tool, tool_answer(reasoning=40, delay=0.04))
    plain_marker = fake_openai.add(plain, Script(words("A plain answer, twice."), delay=0.01))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"What is 2 + 3? {tool_marker}")
    answer = page.locator(".answer").first
    reasoning = answer.locator("details.reasoning")
    # The reasoning streams in an open block, which folds itself once the text starts.
    expect(reasoning).to_contain_text("think1")
    expect(reasoning).to_have_attribute("open", "")
    expect(answer.locator(".text")).to_contain_text("sum0")
    expect(answer).to_have_attribute("data-status", "DONE")
    expect(reasoning).not_to_have_attribute("open", re.compile(".*"))
    parts = stored_parts(reasoning=40)
    expect(reasoning.locator(".reasoning-text")).to_have_text(parts[0]["text"])
    call = answer.locator(".tool-call")
    expect(call.locator(".tool-name")).to_have_text("add")
    input_text = call.locator(".tool-input").text_content()
    assert input_text is not None and json.loads(input_text) == json.loads(parts[1]["text"])
    expect(call.locator(".tool-output")).to_have_text("5")
    expect(answer.locator(".text")).to_have_text(parts[3]["text"])
    expect(answer.locator(".usage")).to_have_text("Tokens: 21 in, 40 out (9 reasoning)")
    thread_id = page.evaluate("location.hash.slice(1)")
    assert thread_id, "a new chat's thread is kept in the URL"

    # A second prompt in the same thread, then Regenerate: a sibling of it, shown in its place.
    send(page, f"Say it plainly {plain_marker}")
    expect(page.locator(".answer").nth(1)).to_have_attribute("data-status", "DONE")
    first_stream = stream_id_of(page, 1)
    page.get_by_role("button", name="Regenerate").click()
    expect(page.locator(f'.answer[data-stream-id="{first_stream}"]')).to_have_count(0)
    expect(page.locator(".answer")).to_have_count(2)
    expect(page.locator(".answer").nth(1)).to_have_attribute("data-status", "DONE")
    expect(page.locator(".answer").nth(1).locator(".text")).to_have_text("A plain answer, twice.")
    branch = query(page, server.graphql_http, BRANCH, {"id": thread_id})["branch"]
    assert [m["responseStreamId"] for m in branch][-1] == stream_id_of(page, 1)
    asked, regenerated = branch[1]["siblingIds"], branch[1]["id"]
    assert len(asked) == 2 and asked[-1] == regenerated and branch[1]["parentId"] == branch[0]["id"], branch
    assert len(fake_openai.requests_for(plain)) == 2
    assert len(fake_openai.requests_for(tool)) == 2, "one request per step"


def stop_and_check(page: Page, graphql: str, index: int) -> None:
    """Stop, on the answer at `index`: it is stored CANCELLED, with the text shown so far (or more)."""
    page.wait_for_function(
        f"(document.querySelectorAll('.answer .text')[{index}]?.textContent.length ?? 0) > 30"
        f" && document.querySelectorAll('.answer').length === {index + 1}"
    )
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    stream_id = stream_id_of(page, index)
    body: dict[str, Any] = {}
    for _ in range(50):
        body = query(page, graphql, BODY, {"id": stream_id})["streamBody"]
        if body["status"] == "CANCELLED":
            break
        page.wait_for_timeout(100)
    assert body["status"] == "CANCELLED", body
    shown = page.locator(".answer .text").nth(index).text_content() or ""
    assert LONG.startswith(body["text"]) and len(body["text"]) < len(LONG), body
    assert body["text"].startswith(shown) and shown, (shown, body)


def test_stop_cancels_the_answer_on_the_server_also_after_a_reload(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    first, second = unique("ai-sdk-stop"), unique("ai-sdk-stop-resumed")
    first_marker = fake_openai.add(first, Script(words(LONG), delay=0.04))
    second_marker = fake_openai.add(second, Script(words(LONG), delay=0.04))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"Go on and on {first_marker}")
    stop_and_check(page, server.graphql_http, 0)
    # An answer resumed after a reload: Stop cancels it on the server too.
    send(page, f"And on {second_marker}")
    page.wait_for_function("(document.querySelectorAll('.answer .text')[1]?.textContent.length ?? 0) > 10")
    page.reload()
    expect(page.get_by_role("button", name="Stop")).to_have_count(1)
    stop_and_check(page, server.graphql_http, 1)
    assert len(fake_openai.requests_for(second)) == 1


def test_a_reload_mid_answer_shows_the_whole_answer_once(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    name = unique("ai-sdk-reload")
    marker = fake_openai.add(name, Script(words(LONG), delay=0.03))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"Tell me a long story {marker}")
    expect(page.locator(".answer")).to_have_count(1)
    # Two reloads at random points: the first with the transport's place kept (sessionStorage: on from its
    # cursor), the second with it cleared (nothing kept: the whole answer replayed from the server).
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    stream_id = ""
    for limit, keep in zip(sorted(rng.sample(range(30, len(LONG) // 2), 2)), (True, False), strict=True):
        page.wait_for_function(f"(document.querySelector('.answer .text')?.textContent.length ?? 0) > {limit}")
        stream_id = stream_id_of(page)
        kept = page.evaluate("Object.keys(sessionStorage).filter((k) => k.includes(':live:')).length")
        assert kept == 1, f"seed {seed}: the live answer's place is kept"
        if not keep:
            page.evaluate("sessionStorage.clear()")
        records += page.evaluate("window.__shown")
        page.reload()
        expect(page.locator(".answer")).to_have_count(1)
    answer = page.locator(f'.answer[data-stream-id="{stream_id}"]')
    expect(answer).to_have_attribute("data-status", "DONE", timeout=20_000)
    body = query(page, server.graphql_http, BODY, {"id": stream_id})["streamBody"]
    assert (body["status"], body["text"]) == ("DONE", LONG), f"seed {seed}"
    expect(answer.locator(".text")).to_have_text(LONG)
    expect(page.locator(".answer")).to_have_count(1)
    after: list[dict[str, Any]] = page.evaluate("window.__shown")
    for record in records + after:
        assert LONG.startswith(record["text"]), f"seed {seed}: {record}"
    resumed = [r for r in after if 0 < len(r["text"]) < len(LONG)]
    assert resumed, f"seed {seed}: the last reload did not resume mid-answer"
    assert len(fake_openai.requests_for(name)) == 1, "the model was asked once"
