"""ERROR and TIMEOUT answers show their state and the server's message, and keep the text sent before.

(Item 6 of the issue's list.)"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.fake_openai import SECRET_KEY, FakeOpenAI, Script
from tests.support.gql import SEND
from tests.support.server import ServerProcess

from .chat import ChatPage
from .conftest import STREAM_TIMEOUT, OfflineContext
from .test_streaming import stored_body

pytestmark = pytest.mark.browser

TOKENS = ["The", " first", " sentence.", " Then", " a", " second", " one", " that", " breaks", " off."]


def test_error_and_timeout_answers_show_their_state_and_message(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    cases = {
        "fails-at-once": (Script(TOKENS, fail_status=500), "ERROR", "Error", ""),
        "fails-midway": (Script(TOKENS, delay=0.01, error_after=3), "ERROR", "Error", "The first sentence."),
        "goes-silent": (Script(TOKENS, delay=0.01, hang_after=5), "TIMEOUT", "Timed out", "The first sentence. Then a"),
    }
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    streams = {}
    for name, (script, *_) in cases.items():
        marker = fake_openai.add(f"failure-{name}", script)
        streams[name] = chat.stream_id(chat.send(f"Case {name} {marker}"))

    for name, (_, status, label, kept) in cases.items():
        answer = chat.answer_for(streams[name])
        chat.wait_status(answer, status, timeout=(STREAM_TIMEOUT + 10) * 1000)
        body = stored_body(chat_server, streams[name])
        assert body["status"] == status
        assert body["text"] == kept
        error = str(body["error"])
        assert error and SECRET_KEY not in error and "Traceback" not in error
        expect(answer.locator(".answer-state")).to_have_text(label)
        expect(answer.locator(".answer-error")).to_have_text(error)
        expect(answer.locator(".answer-error")).to_be_visible()
        expect(answer.locator(".stop")).to_be_hidden()
        assert chat.text(answer) == kept
    assert str(STREAM_TIMEOUT) in chat.answer_for(streams["goes-silent"]).locator(".answer-error").inner_text()

    # The same states come back from the database after a reload.
    chat.page.reload()
    chat.wait_ready()
    for name, (_, status, label, kept) in cases.items():
        answer = chat.answer_for(streams[name])
        expect(answer).to_have_attribute("data-status", status)
        expect(answer.locator(".answer-state")).to_have_text(label)
        expect(answer.locator(".answer-error")).not_to_be_empty()
        assert chat.text(answer) == kept


def test_an_answer_nobody_drives_yet_shows_thinking_and_can_be_stopped(
    offline: OfflineContext, chat_server: ServerProcess
) -> None:
    # A prompt sent through the API by someone else: its stream stays PENDING until a driver claims it.
    response = httpx.post(
        chat_server.graphql_http, json={"query": SEND, "variables": {"prompt": "Waiting for a driver"}}, timeout=10
    )
    message = response.json()["data"]["sendMessage"]
    chat = ChatPage(offline.context.new_page(), chat_server.url).open(message["threadId"])
    answer = chat.answer_for(message["responseStreamId"])
    expect(answer).to_have_attribute("data-status", "PENDING")
    expect(answer.locator(".answer-state")).to_have_text("Thinking…")
    expect(answer.locator(".stop")).to_be_visible()

    answer.locator(".stop").click()
    chat.wait_status(answer, "CANCELLED")
    expect(answer.locator(".answer-state")).to_have_text("Stopped")
    assert chat.text(answer) == ""
    assert stored_body(chat_server, message["responseStreamId"])["status"] == "CANCELLED"
