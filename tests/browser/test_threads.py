"""Threads (newest first, new chat, switching, history after a reload), the composer's keyboard and refusals,
and a phone-sized window. (Item 5 of the issue's list, and the page's input rules.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Request, expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, words
from .conftest import MAX_PROMPT_CHARS, OfflineContext

pytestmark = pytest.mark.browser


def test_threads_new_chat_switching_and_history_after_reload(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    one = fake_openai.add("thread-one", Script(words("The first thread's answer."), delay=0.01))
    two = fake_openai.add("thread-two", Script(words("The second thread's answer."), delay=0.01))
    three = fake_openai.add("thread-three", Script(words("A follow-up in the first thread."), delay=0.01))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    expect(chat.page.locator("#intro")).to_be_visible()

    chat.wait_status(chat.send(f"Question one {one}"), "DONE")
    thread_1 = chat.thread_id
    assert thread_1 is not None
    expect(chat.page.locator("#intro")).to_be_hidden()

    # "New chat" empties the page; Shift+Enter makes a new line and Enter sends.
    chat.page.locator("#new-chat").click()
    expect(chat.turns).to_have_count(0)
    expect(chat.page.locator("#thread-title")).to_have_text("New chat")
    assert chat.thread_id is None
    chat.input.focus()
    chat.page.keyboard.type("Question two, line one")
    chat.page.keyboard.press("Shift+Enter")
    chat.page.keyboard.type(f"line two {two}")
    expect(chat.turns).to_have_count(0)  # Shift+Enter did not send
    chat.page.keyboard.press("Enter")
    expect(chat.answers).to_have_count(1)
    chat.wait_status(chat.answers.first, "DONE")
    assert chat.page.locator(".prompt-text").inner_text() == f"Question two, line one\nline two {two}"
    expect(chat.input).to_have_value("")
    thread_2 = chat.thread_id
    assert thread_2 not in (None, thread_1)

    # The list is newest first and marks the open thread.
    expect(chat.thread_links.first).to_have_attribute("data-thread-id", thread_2)
    ids = chat.thread_links.evaluate_all("links => links.map(a => a.dataset.threadId)")
    assert ids.index(thread_2) < ids.index(thread_1)
    expect(chat.page.locator('#threads a[aria-current="page"]')).to_have_attribute("data-thread-id", thread_2)
    expect(chat.page.locator("#thread-title")).to_have_text(f"Question two, line one line two {two}")

    # Switch to the first thread and continue it.
    chat.page.locator(f'#threads a[data-thread-id="{thread_1}"]').click()
    expect(chat.turns).to_have_count(1)
    expect(chat.page.locator(".prompt-text")).to_have_text(f"Question one {one}")
    expect(chat.answers.first).to_have_attribute("data-status", "DONE")
    assert chat.text(chat.answers.first) == "The first thread's answer."
    assert chat.thread_id == thread_1
    chat.wait_status(chat.send(f"Question three {three}"), "DONE")

    # History survives a reload, in order.
    chat.page.reload()
    chat.wait_ready()
    expect(chat.turns).to_have_count(2)
    expect(chat.page.locator(".prompt-text")).to_have_text([f"Question one {one}", f"Question three {three}"])
    expect(chat.page.locator(".answer-body")).to_have_text(
        ["The first thread's answer.", "A follow-up in the first thread."]
    )
    expect(chat.page.locator('.answer[data-status="DONE"]')).to_have_count(2)
    expect(chat.page.locator('#threads a[aria-current="page"]')).to_have_attribute("data-thread-id", thread_1)

    # The keyboard alone reaches another thread; the browser's Back button returns.
    chat.page.locator(f'#threads a[data-thread-id="{thread_2}"]').focus()
    chat.page.keyboard.press("Enter")
    expect(chat.turns).to_have_count(1)
    expect(chat.page.locator(".answer-body")).to_have_text("The second thread's answer.")
    chat.page.go_back()
    expect(chat.turns).to_have_count(2)
    assert chat.thread_id == thread_1


def test_empty_and_too_long_prompts_are_refused_politely(offline: OfflineContext, chat_server: ServerProcess) -> None:
    page = offline.context.new_page()
    sends: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and "sendMessage" in (request.post_data or ""):
            sends.append(request.post_data or "")

    page.on("request", on_request)
    chat = ChatPage(page, chat_server.url).open()

    chat.input.press("Enter")
    expect(chat.notice).to_have_text("Please write a message first.")
    chat.input.fill("   \n  ")
    chat.input.press("Enter")
    expect(chat.notice).to_have_text("Please write a message first.")
    assert sends == []

    too_long = "x" * (MAX_PROMPT_CHARS + 1)
    chat.input.fill(too_long)
    chat.input.press("Enter")
    expect(chat.notice).to_have_text(f"Not sent: The prompt is longer than {MAX_PROMPT_CHARS} characters.")
    expect(chat.input).to_have_value(too_long)  # nothing typed is lost
    expect(chat.turns).to_have_count(0)
    assert chat.thread_id is None

    # Typing again clears the notice.
    chat.input.press("Backspace")
    expect(chat.notice).to_have_text("")


def test_phone_sized_window_is_readable_and_keyboard_usable(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    text = "A phone-sized answer that wraps over several lines " * 4
    marker = fake_openai.add("phone", Script(words(text.strip()), delay=0.005))
    page = offline.context.new_page()
    page.set_viewport_size({"width": 375, "height": 700})
    chat = ChatPage(page, chat_server.url).open()
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_be_hidden()

    answer = chat.send(f"Phone test {marker} with a long prompt that must wrap inside the bubble")
    chat.wait_status(answer, "DONE")
    # Nothing is wider than the screen, and the answer and the composer are both in view.
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    for locator in (answer, chat.input, page.locator("#send")):
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    expect(chat.input).to_be_in_viewport()

    # The chat list opens from the keyboard, takes focus, and Escape closes it again.
    toggle = page.locator("#toggle-sidebar")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#threads a.thread-link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_focused()
