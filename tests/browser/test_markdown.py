"""Answers render as Markdown, and an answer cannot run code, inject elements or make the browser fetch anything.

(Item 4 of the issue's list.)"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, watch_dialogs_and_requests
from .conftest import OfflineContext

pytestmark = pytest.mark.browser


def chunks(text: str, size: int) -> list[str]:
    """Streams the text in pieces that cut through tags and links, as a model's tokens do."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_markdown_renders_paragraphs_lists_code_and_links(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    markdown = (
        "First paragraph with `inline code` and **bold**.\n\n"
        "Second paragraph with a [link](https://example.com/docs).\n\n"
        "- apples\n- pears\n\n"
        "1. one\n2. two\n\n"
        "```python\nprint('<b>not bold</b>')\n```\n"
    )
    marker = fake_openai.add("markdown", Script(chunks(markdown, 5), delay=0.005))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    answer = chat.send(f"Show me markdown {marker}")
    chat.wait_status(answer, "DONE")
    body = answer.locator(".answer-body")

    expect(body.locator("> p")).to_have_count(2)
    expect(body.locator("p code")).to_have_text("inline code")
    expect(body.locator("p strong")).to_have_text("bold")
    expect(body.locator("ul > li")).to_have_text(["apples", "pears"])
    expect(body.locator("ol > li")).to_have_text(["one", "two"])
    expect(body.locator("pre > code")).to_have_text("print('<b>not bold</b>')\n")
    expect(body.locator("pre b")).to_have_count(0)
    link = body.locator("a", has_text="link")
    expect(link).to_have_attribute("href", "https://example.com/docs")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b.*\bnoreferrer\b"))


def test_html_and_script_in_an_answer_stay_inert(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    canary = f"{chat_server.url}/canary"
    payload = (
        f'Look: <img src="{canary}/img" onerror="window.__pwned = \'img\'; alert(1)">\n\n'
        "<script>window.__pwned = 'script'; alert(2)</script>\n\n"
        f'<iframe src="{canary}/frame"></iframe> <svg onload="window.__pwned = \'svg\'"></svg>\n\n'
        "[click me](javascript:window.__pwned='link';alert(3)) and "
        "<a href=\"javascript:window.__pwned='raw-link'\">raw link</a>\n\n"
        f"![picture]({canary}/markdown-image.png) and ![far](https://images.example.net/x.png)\n\n"
        "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n\n"
        "The end."
    )
    marker = fake_openai.add("xss", Script(chunks(payload, 7), delay=0.005))
    page = offline.context.new_page()
    dialogs, requests = watch_dialogs_and_requests(page)
    chat = ChatPage(page, chat_server.url).open()
    answer = chat.send(f"Try to hack yourself {marker}")
    chat.wait_status(answer, "DONE")
    body = answer.locator(".answer-body")

    # The HTML shows as text: the reader sees what the model wrote.
    text = body.inner_text()
    assert '<img src="' in text
    assert "<script>window.__pwned = 'script'; alert(2)</script>" in text
    assert "<iframe src=" in text
    assert "The end." in text

    # No element came from the answer but the safe Markdown ones.
    injected = body.locator("img, script, iframe, svg, object, embed, style, form, input, [onerror], [onload]")
    expect(injected).to_have_count(0)
    tags = set(body.evaluate("b => [...b.querySelectorAll('*')].map(e => e.tagName.toLowerCase())"))
    assert tags <= {"p", "a", "br", "code", "strong", "em"}, tags

    # No link can run script or carry a data: document: they are left as plain text.
    hrefs = body.evaluate("b => [...b.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert all(h is None or h.startswith(("http://", "https://")) for h in hrefs), hrefs
    click_me = body.locator("a", has_text="click me")
    expect(click_me).to_have_count(1)
    assert click_me.get_attribute("href") is None
    click_me.click()
    body.locator("a", has_text="data link").click()
    # Images became links, which load nothing until followed.
    expect(body.locator("a", has_text="picture")).to_have_attribute("href", f"{canary}/markdown-image.png")

    page.wait_for_timeout(300)  # give any handler that slipped through the time to run
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert [url for url in requests if "canary" in url or "example.net" in url] == []
    assert len(page.context.pages) == 1
