"""The example app (examples/react-chat, Vite + React on persistream-client) built from its lock file and driven in
headless Chromium: `tsc --noEmit` and `vite build` with no warning, the built `dist/` served from another origin
than a real server, and there: an answer streaming as Markdown, a reload mid-answer that resumes without repeating a
character, several threads, a share link opened by another person, the stop button and a model that fails; an answer
that reasons and calls a tool shows its reasoning (folded once the text starts), the call, its result and usage."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY
from tests.support.server import ROOT
from tests.support.streams import unique
from tests.support.tool_answers import stored_parts, tool_answer, tools_env

from .built_example import open_example, send, served_example
from .chat import words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "examples" / "react-chat"
LONG = " ".join(f"Sentence {i} of a long answer is still being written when the page reloads." for i in range(14))
MARKDOWN = "**Bold** start, then " + " ".join(f"word{i}" for i in range(80))
# Every answer element's shown text and status, on every change, for this page load.
RECORDER = """
window.__shown = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.answer')) {
    const text = el.querySelector('.text');
    window.__shown.push({ id: el.dataset.streamId, status: el.dataset.status, text: text ? text.textContent : '' });
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


@pytest.fixture(scope="module")
def example_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example type-checked and built, its dist/ served over HTTP on loopback; its origin."""
    with served_example(EXAMPLE, tmp_path_factory.mktemp("react-chat-dist")) as origin:
        yield origin


def stored(graphql: str, stream_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(graphql, json={"query": BODY, "variables": {"id": stream_id}}).json()["data"][
        "streamBody"
    ]
    return body


def open_app(offline: OfflineContext, origin: str, graphql: str) -> Page:
    return open_example(offline, origin, graphql, RECORDER)


def shown(page: Page) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = page.evaluate("window.__shown")
    return records


def test_the_example_streams_resumes_after_a_reload_keeps_threads_and_shares(
    offline: OfflineContext,
    other_offline: OfflineContext,
    make_server: ServerFactory,
    fake_openai: FakeOpenAI,
    example_origin: str,
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    long_name, short_name = unique("example-long"), unique("example-short")
    long_marker = fake_openai.add(long_name, Script(words(LONG), delay=0.025))
    short_marker = fake_openai.add(short_name, Script(words("A short second answer."), delay=0.01))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"Tell me a long story {long_marker}")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-status", "STREAMING")
    stream_id = answer.get_attribute("data-stream-id")
    assert stream_id is not None
    thread_id = page.evaluate("location.hash.slice(1)")
    assert thread_id, "the open thread is in the URL"

    # Reloads mid-answer, at random points: the tab no longer drives the answer, it observes it from the server
    # and goes on from what it had. Every text shown, in every page load, is a prefix of the stored answer.
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    answer = page.locator(f'.answer[data-stream-id="{stream_id}"]')
    for limit in sorted(rng.sample(range(20, len(LONG) // 2), 2)):
        page.wait_for_function(f"(document.querySelector('.answer .text')?.textContent.length ?? 0) > {limit}")
        records += shown(page)
        page.reload()
        expect(answer).to_be_visible()
    expect(answer).to_have_attribute("data-status", "DONE")
    body = stored(server.graphql_http, stream_id)
    assert (body["status"], body["text"]) == ("DONE", LONG), f"seed {seed}"
    assert answer.locator(".text").text_content() == LONG, f"seed {seed}"
    after = shown(page)
    for record in records + after:
        assert LONG.startswith(record["text"]), f"seed {seed}: {record}"
    resumed = [r for r in after if r["status"] == "STREAMING" and 0 < len(r["text"]) < len(LONG)]
    assert resumed, f"seed {seed}: the last reload did not resume mid-answer"
    assert len(fake_openai.requests_for(long_name)) == 1, "the model was asked once"

    # A second thread, then back to the first from the list.
    page.get_by_role("button", name="New thread").click()
    expect(page.locator(".answer")).to_have_count(0)
    send(page, f"Something short {short_marker}")
    expect(page.locator(".answer").first).to_have_attribute("data-status", "DONE")
    expect(page.locator(".answer .text")).to_have_text("A short second answer.")
    threads = page.locator("nav button:not(:first-child)")
    expect(threads).to_have_count(2)
    page.locator("nav button", has_text="Tell me a long story").click()
    expect(page).to_have_url(re.compile(f"#{re.escape(thread_id)}$"))
    expect(page.locator(".answer .text")).to_have_text(LONG)

    # The share link, opened by someone else, shows the thread read-only.
    page.get_by_role("button", name="Share").click()
    link = page.get_by_label("Share link").input_value()
    assert "#share=" in link
    reader = other_offline.context.new_page()
    reader.goto(link)
    expect(reader.locator(".answer .text")).to_have_text(LONG)
    expect(reader.get_by_label("Message")).to_have_count(0)


def test_the_example_stops_an_answer_and_shows_a_failed_one(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    slow, failing = unique("example-stop"), unique("example-fail")
    slow_marker = fake_openai.add(slow, Script(words(MARKDOWN), delay=0.05))
    failing_marker = fake_openai.add(failing, Script(words("This answer breaks off here"), delay=0.02, error_after=3))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"Go on and on {slow_marker}")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-status", "STREAMING")
    expect(answer.locator(".text strong")).to_have_text("Bold")  # rendered as Markdown while it streams
    answer.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-status", "CANCELLED")
    stream_id = answer.get_attribute("data-stream-id")
    assert stream_id is not None
    body = stored(server.graphql_http, stream_id)
    assert body["status"] == "CANCELLED" and len(body["text"]) < len(MARKDOWN)
    expect(answer.get_by_role("button", name="Stop")).to_have_count(0)

    send(page, f"Fail please {failing_marker}")
    failed = page.locator(".answer").nth(1)
    expect(failed).to_have_attribute("data-status", "ERROR")
    expect(failed.get_by_role("alert")).to_contain_text("Error")
    failed_id = failed.get_attribute("data-stream-id")
    assert failed_id is not None
    assert stored(server.graphql_http, failed_id)["status"] == "ERROR"


def test_the_example_shows_reasoning_a_tool_call_and_usage(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str, tmp_path: Path
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin, **tools_env(tmp_path))
    name = unique("example-parts")
    marker = fake_openai.add(name, tool_answer(reasoning=40, delay=0.04))
    page = open_app(offline, example_origin, server.graphql_http)

    send(page, f"What is 2 + 3? {marker}")
    answer = page.locator(".answer").first
    reasoning = answer.locator("details.reasoning")
    # While the model thinks, its reasoning streams in an open block...
    expect(reasoning).to_contain_text("think1")
    expect(reasoning).to_have_attribute("open", "")
    expect(answer.locator(".text")).to_have_count(0)
    # ...which folds itself once the answer's text starts; the tool call shows its name, arguments and result.
    expect(answer.locator(".text")).to_contain_text("sum0")
    expect(reasoning).not_to_have_attribute("open", re.compile(".*"))
    expect(answer).to_have_attribute("data-status", "DONE")
    parts = stored_parts(reasoning=40)
    expect(reasoning.locator(".reasoning-text")).to_have_text(parts[0]["text"])
    call = answer.locator(".tool-call")
    expect(call.locator(".tool-name")).to_have_text("add")
    expect(call.locator(".tool-arguments")).to_have_text(parts[1]["text"])
    expect(call.locator(".tool-result")).to_have_text("5")
    expect(answer.locator(".text")).to_have_text(parts[3]["text"])
    expect(answer.locator(".usage")).to_have_text("Tokens: 21 in, 40 out (9 reasoning)")
    # The reader can unfold it again.
    reasoning.locator("summary").click()
    expect(reasoning).to_have_attribute("open", "")

    # A tool's result is text, never HTML; and a reload shows the finished answer's parts from history, folded.
    hostile = '<img src=x onerror="window.__pwned = 1"><b>not bold</b>'
    echo_name = unique("example-echo")
    echo_marker = fake_openai.add(
        echo_name, tool_answer(reasoning=2, text=3, tool="echo", arguments=json.dumps({"text": hostile}))
    )
    send(page, f"Echo this {echo_marker}")
    echoed = page.locator(".answer").nth(1)
    expect(echoed).to_have_attribute("data-status", "DONE")
    expect(echoed.locator(".tool-result")).to_have_text(hostile)
    assert echoed.locator(".tool-result img, .tool-result b").count() == 0
    page.reload()
    expect(page.locator(".answer")).to_have_count(2)
    expect(page.locator(".answer").first.locator(".tool-result")).to_have_text("5")
    expect(page.locator("details.reasoning").first).not_to_have_attribute("open", re.compile(".*"))
    assert page.evaluate("window.__pwned") is None
    assert len(fake_openai.requests_for(name)) == 2


def test_the_example_regenerates_edits_and_switches_variants(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    first, edited = unique("example-variant"), unique("example-edited")
    first_marker = fake_openai.add(first, Script(words("The first answer."), delay=0.01))
    edited_marker = fake_openai.add(edited, Script(words("The edited answer."), delay=0.01))
    page = open_app(offline, example_origin, server.graphql_http)
    send(page, f"Ask once {first_marker}")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-status", "DONE")
    original = answer.get_attribute("data-stream-id")

    # Regenerate: a second variant, shown in place of the first.
    answer.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".variant-label")).to_have_text("2 / 2")
    expect(answer).not_to_have_attribute("data-stream-id", original or "")
    expect(answer).to_have_attribute("data-status", "DONE")
    regenerated = answer.get_attribute("data-stream-id")

    # Edit: Escape keeps the old prompt, Enter sends the new one as a third variant.
    page.get_by_role("button", name="Edit prompt").click()
    editor = page.get_by_label("Edit your prompt")
    editor.fill("never sent")
    editor.press("Escape")
    expect(page.locator(".prompt-text")).to_have_text(f"Ask once {first_marker}")
    page.get_by_role("button", name="Edit prompt").click()
    editor.fill(f"Ask differently {edited_marker}")
    editor.press("Enter")
    expect(page.locator(".variant-label")).to_have_text("3 / 3")
    expect(page.locator(".prompt-text")).to_have_text(f"Ask differently {edited_marker}")
    expect(answer.locator(".text")).to_have_text("The edited answer.")

    # The switcher goes back through the variants.
    page.get_by_role("button", name="Previous variant").click()
    expect(page.locator(".variant-label")).to_have_text("2 / 3")
    expect(answer).to_have_attribute("data-stream-id", regenerated or "")
    page.get_by_role("button", name="Previous variant").click()
    expect(page.locator(".variant-label")).to_have_text("1 / 3")
    expect(answer).to_have_attribute("data-stream-id", original or "")
    expect(page.locator(".prompt-text")).to_have_text(f"Ask once {first_marker}")

    # The chosen variant survives a reload (it is in the URL), and the switcher works by keyboard.
    page.get_by_role("button", name="Next variant").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".variant-label")).to_have_text("2 / 3")
    page.reload()
    expect(page.locator(".variant-label")).to_have_text("2 / 3")
    expect(page.locator(".answer").first).to_have_attribute("data-stream-id", regenerated or "")
    assert len(fake_openai.requests_for(first)) == 2
    assert len(fake_openai.requests_for(edited)) == 1


def test_a_second_tab_of_the_example_follows_a_variant_made_in_the_first(
    offline: OfflineContext, make_server: ServerFactory, fake_openai: FakeOpenAI, example_origin: str
) -> None:
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS=example_origin)
    name = unique("example-follow")
    marker = fake_openai.add(name, Script(words("An answer worth a second try."), delay=0.01))
    first = open_app(offline, example_origin, server.graphql_http)
    send(first, f"Follow me {marker}")
    expect(first.locator(".answer").first).to_have_attribute("data-status", "DONE")
    second = offline.context.new_page()
    second.goto(first.url)  # the same thread (in the hash), in another tab
    expect(second.locator(".answer").first).to_have_attribute("data-status", "DONE")
    expect(second.locator(".variant-label")).to_have_count(0)

    first.locator(".answer").first.get_by_role("button", name="Regenerate").click()
    expect(first.locator(".variant-label")).to_have_text("2 / 2")
    expect(first.locator(".answer").first).to_have_attribute("data-status", "DONE")
    regenerated = first.locator(".answer").first.get_attribute("data-stream-id")
    # The other tab reads the thread again on its own and shows the new variant, live or finished.
    expect(second.locator(".variant-label")).to_have_text("2 / 2", timeout=10_000)
    expect(second.locator(".answer").first).to_have_attribute("data-stream-id", regenerated or "")
    expect(second.locator(".answer").first).to_have_attribute("data-status", "DONE")
    assert len(fake_openai.requests_for(name)) == 2
