"""The conversation follows a growing answer down, unless the reader scrolled up to read something else."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser


def long_answer(name: str, paragraphs: int) -> str:
    return "\n\n".join(f"{name} paragraph {i} has a few words." for i in range(paragraphs))


def distance_from_bottom(page: Page) -> float:
    script = "(s => s.scrollHeight - s.scrollTop - s.clientHeight)(document.getElementById('scroller'))"
    result: float = page.evaluate(script)
    return result


def scroll_top(page: Page) -> float:
    result: float = page.evaluate("document.getElementById('scroller').scrollTop")
    return result


def settled_scroll_top(page: Page) -> float:
    last = scroll_top(page)
    for _ in range(100):
        page.wait_for_timeout(100)
        now = scroll_top(page)
        if now == last:
            return now
        last = now
    raise AssertionError("the conversation never stopped scrolling")


def test_autoscroll_follows_the_answer_unless_the_reader_scrolled_up(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    first = fake_openai.add("scroll-1", Script(words(long_answer("First", 30)), delay=0.005))
    second = fake_openai.add("scroll-2", Script(words(long_answer("Second", 28)), delay=0.015))
    page = offline.context.new_page()
    page.set_viewport_size({"width": 900, "height": 500})
    chat = ChatPage(page, chat_server.url).open()

    chat.wait_status(chat.send(f"Long one {first}"), "DONE")
    assert distance_from_bottom(page) < 2
    expect(page.locator("#jump")).to_be_hidden()

    answer = chat.send(f"Another long one {second}")
    chat.wait_text_at_least(answer, 150)
    assert distance_from_bottom(page) < 60  # still following
    box = page.locator("#scroller").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    expect(page.locator("#jump")).to_be_visible()
    held = settled_scroll_top(page)  # the wheel scrolls smoothly, over a few frames

    chat.wait_status(answer, "DONE")
    page.wait_for_timeout(100)
    assert abs(scroll_top(page) - held) <= 1, "the page pulled the reader away from where they scrolled"
    assert distance_from_bottom(page) > 300

    page.locator("#jump").click()
    expect(page.locator("#jump")).to_be_hidden()
    assert distance_from_bottom(page) < 2
