"""The tab that asks drives the answer live; other tabs and reloads observe it; stopping keeps the text.

(Items 1-3 of the issue's list.)"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import BODY
from tests.support.server import ServerProcess

from .chat import ChatPage, assert_never_wrong, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser


def stored_body(server: ServerProcess, stream_id: str) -> dict[str, object]:
    response = httpx.post(server.graphql_http, json={"query": BODY, "variables": {"id": stream_id}}, timeout=10)
    body: dict[str, object] = response.json()["data"]["streamBody"]
    return body


ANSWER_1 = (
    "Rivers carve their patient way through stone and time alike, and every bend remembers the rain that "
    "shaped it long before the valley had a name."
)
ANSWER_2 = "A second answer arrives in the same thread, and the other tab picks it up without being told."


def test_sender_streams_live_and_another_tab_sees_the_same_answer(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    first = fake_openai.add("two-tabs-1", Script(words(ANSWER_1), delay=0.04))
    second = fake_openai.add("two-tabs-2", Script(words(ANSWER_2), delay=0.04))
    a = ChatPage(offline.context.new_page(), chat_server.url).open()

    answer_a = a.send(f"Tell me about rivers {first}")
    stream_1 = a.stream_id(answer_a)
    a.wait_text_at_least(answer_a, 30)
    expect(answer_a.locator(".answer-state")).to_have_text("Writing…")
    assert a.thread_id is not None

    # Tab B opens the thread mid-answer: it starts from the text stored so far and resumes from its offset.
    b = ChatPage(offline.context.new_page(), chat_server.url).open(a.thread_id)
    answer_b = b.answer_for(stream_1)
    expect(answer_b).to_have_count(1)

    for page, answer in ((a, answer_a), (b, answer_b)):
        page.wait_status(answer, "DONE")
        assert page.text(answer) == ANSWER_1
        expect(answer.locator(".answer-state")).to_have_text("Done")
        expect(answer.locator(".stop")).to_be_hidden()
        assert_never_wrong(page.shown(stream_1), ANSWER_1)
    live_updates = [t for t in a.shown(stream_1) if t.strip() and t.rstrip("\n") != ANSWER_1]
    assert len(live_updates) > 1, f"the sending tab did not stream: {a.shown(stream_1)}"
    assert stored_body(chat_server, stream_1)["text"] == ANSWER_1

    # A prompt sent from tab A appears in tab B, already open on the thread, and streams there too.
    answer_a2 = a.send(f"And another {second}")
    stream_2 = a.stream_id(answer_a2)
    answer_b2 = b.answer_for(stream_2)
    expect(answer_b2).to_have_count(1, timeout=10_000)
    for page, answer in ((a, answer_a2), (b, answer_b2)):
        page.wait_status(answer, "DONE")
        assert page.text(answer) == ANSWER_2
        assert_never_wrong(page.shown(stream_2), ANSWER_2)
    expect(b.turns).to_have_count(2)


ANSWER_RELOAD = (
    "Reloading in the middle of an answer must neither repeat a single word nor lose one, because the page "
    "asks only for what comes after the text it already has, and the server keeps writing meanwhile."
)


def test_reload_mid_answer_ends_with_exactly_the_full_answer(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    # Slow enough that the reloaded page, even on a busy machine, is back before the answer ends.
    marker = fake_openai.add("reload", Script(words(ANSWER_RELOAD), delay=0.1))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    answer = chat.send(f"Keep talking {marker}")
    stream_id = chat.stream_id(answer)
    before = chat.wait_text_at_least(answer, 40)
    assert len(before) < len(ANSWER_RELOAD)
    assert_never_wrong(chat.shown(stream_id), ANSWER_RELOAD)

    chat.page.reload()
    chat.wait_ready()
    answer = chat.answer_for(stream_id)
    expect(answer).to_have_count(1)
    chat.wait_status(answer, "DONE")
    assert chat.text(answer) == ANSWER_RELOAD
    shown = chat.shown(stream_id)
    assert_never_wrong(shown, ANSWER_RELOAD)
    assert len(shown) > 1, "the reloaded page should have followed the rest of the answer live"
    assert stored_body(chat_server, stream_id)["text"] == ANSWER_RELOAD


def test_stop_mid_answer_cancels_in_both_tabs_with_the_same_kept_text(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    full = " ".join(f"word{i}." for i in range(200))
    marker = fake_openai.add("stop", Script(words(full), delay=0.05))
    a = ChatPage(offline.context.new_page(), chat_server.url).open()
    answer_a = a.send(f"Count for me {marker}")
    stream_id = a.stream_id(answer_a)
    b = ChatPage(offline.context.new_page(), chat_server.url).open(a.thread_id)
    answer_b = b.answer_for(stream_id)
    b.wait_text_at_least(answer_b, 20)

    # Stop from the keyboard: the button is reachable and works like any button.
    stop = answer_a.locator("button.stop")
    expect(stop).to_be_visible()
    stop.focus()
    a.page.keyboard.press("Enter")

    for page, answer in ((a, answer_a), (b, answer_b)):
        page.wait_status(answer, "CANCELLED")
        expect(answer.locator(".answer-state")).to_have_text("Stopped")
        expect(answer.locator(".stop")).to_be_hidden()
    body = stored_body(chat_server, stream_id)
    assert body["status"] == "CANCELLED"
    kept = str(body["text"])
    assert 20 <= len(kept) < len(full)
    assert full.startswith(kept)
    assert a.text(answer_a) == kept
    assert b.text(answer_b) == kept
    # A final answer never changes again, however long the pages stay open.
    a.page.wait_for_timeout(300)
    assert a.text(answer_a) == kept
    assert b.text(answer_b) == kept


def test_a_tab_reloaded_before_its_answer_was_claimed_drives_it(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    """If the sending tab goes away between sendMessage and streamChat, the stream would wait for a driver until
    it timed out; the same tab, reloaded, remembers what it sent and drives it."""
    answer_text = "Driven after the reload, by the tab that asked."
    marker = fake_openai.add("redrive", Script(words(answer_text), delay=0.01))
    page = offline.context.new_page()
    hold = {"sockets": True}

    def route(ws: WebSocketRoute) -> None:
        # While held, the page's socket reaches nobody: its streamChat never arrives and the stream stays PENDING.
        if not hold["sockets"]:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/graphql$"), route)
    chat = ChatPage(page, chat_server.url).open()
    answer = chat.send(f"Drive me later {marker}")
    stream_id = chat.stream_id(answer)
    expect(answer.locator(".answer-state")).to_have_text("Thinking…")
    page.wait_for_timeout(300)
    assert stored_body(chat_server, stream_id)["status"] == "PENDING"

    hold["sockets"] = False
    page.reload()
    chat.wait_ready()
    answer = chat.answer_for(stream_id)
    chat.wait_status(answer, "DONE")
    assert chat.text(answer) == answer_text
    assert len(fake_openai.requests_for("redrive")) == 1
