"""Sharing from the page in `anonymous` mode: each browser context is its own identity with private threads; the
owner's Share button copies a link, and another identity opened on it reads the thread read-only and follows a
live answer exactly; Stop sharing makes the link say it no longer works."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, assert_never_wrong, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

SHARED = "query($token: String!) { sharedThread(token: $token) { id messages { response { text status } } } }"
GONE = "This link no longer works. The chat may have been deleted, or its owner stopped sharing it."
LIVE_ANSWER = (
    "A shared answer is written for one person and watched by another, word by word, as the model sends it; "
    "the reader sees exactly what is stored, nothing twice and nothing lost, from the first word to the very "
    "last one, even though that reader never sent a prompt and cannot send one either."
)
# Slow enough that the reader's page (which polls for new prompts every 2.5 s) finds the answer still being written.
LIVE_DELAY = 0.08


def anonymous_server(make_server: ServerFactory) -> ServerProcess:
    return make_server(PERSISTREAM_AUTH="anonymous")


def open_link(page: Page, link: str, base_url: str) -> ChatPage:
    chat = ChatPage(page, base_url)
    page.goto(link)
    chat.wait_ready()
    return chat


def share(owner: ChatPage, *, copied: bool) -> str:
    owner.page.locator("#share").click()
    panel = owner.page.locator("#share-panel")
    expect(panel).to_have_attribute("data-copied", "true" if copied else "false")
    link = owner.page.locator("#share-link").input_value()
    assert link.startswith(f"{owner.base_url}/?share="), link
    return link


def expect_read_only(reader: ChatPage) -> None:
    page = reader.page
    expect(page.locator("#shared-badge")).to_be_visible()
    expect(page.locator("#own-chats")).to_be_visible()
    for hidden in ("#composer", "#composer-input", "#send", "#thread-actions", "#sidebar", "#new-chat"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(reader.input).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()


def test_share_link_is_copied_and_another_identity_follows_the_answer_live(
    offline: OfflineContext,
    other_offline: OfflineContext,
    make_server: ServerFactory,
    fake_openai: FakeOpenAI,
) -> None:
    server = anonymous_server(make_server)
    first = fake_openai.add("share-first", Script(words("Shared chats start here."), delay=0.005))
    live = fake_openai.add("share-live", Script(words(LIVE_ANSWER), delay=LIVE_DELAY))
    offline.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    owner = ChatPage(offline.context.new_page(), server.url).open()
    owner.wait_status(owner.send(f"Begin {first}"), "DONE")
    thread = owner.thread_id
    assert thread

    link = share(owner, copied=True)
    assert owner.page.evaluate("navigator.clipboard.readText()") == link
    expect(owner.page.locator("#share-status")).to_contain_text("Link copied.")
    expect(owner.page.locator("#unshare")).to_be_visible()

    # Another browser context is another identity: its own list is empty and the owner's thread is not found.
    stranger = ChatPage(other_offline.context.new_page(), server.url).open()
    expect(stranger.page.locator("#threads-empty")).to_be_visible()
    expect(stranger.thread_links).to_have_count(0)
    stranger.open(thread)
    expect(stranger.notice).to_have_text("This chat does not exist (any more).")
    expect(stranger.turns).to_have_count(0)

    # On the link it reads the thread, with nothing to write, stop, share or delete with.
    reader = open_link(stranger.page, link, server.url)
    expect_read_only(reader)
    expect(reader.turns).to_have_count(1)
    expect(reader.page.locator(".answer-body")).to_have_text("Shared chats start here.")

    # The owner asks again; the reader finds the new prompt and follows its answer as it is written.
    answer = owner.send(f"Go on {live}")
    stream = owner.stream_id(answer)
    followed = reader.answer_for(stream)
    expect(followed).to_have_count(1, timeout=10_000)
    expect(followed.locator(".stop")).to_be_hidden()
    for page, shown in ((owner, answer), (reader, followed)):
        page.wait_status(shown, "DONE", timeout=30_000)
        assert page.text(shown) == LIVE_ANSWER
        assert_never_wrong(page.shown(stream), LIVE_ANSWER)
    partial = [t for t in reader.shown(stream) if t.strip() and t.rstrip("\n") != LIVE_ANSWER]
    assert len(partial) > 1, f"the reader did not see the answer being written: {reader.shown(stream)}"
    token = link.split("?share=", 1)[1]
    result = httpx.post(server.graphql_http, json={"query": SHARED, "variables": {"token": token}}).json()
    stored = [m["response"] for m in result["data"]["sharedThread"]["messages"]]
    assert stored[-1] == {"text": LIVE_ANSWER, "status": "DONE"}

    # The reader's browser still owns nothing; the owner's still lists the thread.
    reader.open()
    expect(reader.thread_links).to_have_count(0)
    owner.open()
    expect(owner.thread_links).to_have_count(1)
    expect(owner.thread_links.first).to_have_attribute("data-thread-id", thread)


def test_refused_clipboard_shows_the_link_and_stop_sharing_kills_it(
    offline: OfflineContext,
    other_offline: OfflineContext,
    make_server: ServerFactory,
    fake_openai: FakeOpenAI,
) -> None:
    server = anonymous_server(make_server)
    marker = fake_openai.add("share-revoke", Script(words("Read this while you can."), delay=0.005))
    page = offline.context.new_page()
    # A browser that refuses the clipboard, as one without the permission does.
    page.add_init_script(
        "navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));"
    )
    owner = ChatPage(page, server.url).open()
    owner.wait_status(owner.send(f"Revocable {marker}"), "DONE")

    link = share(owner, copied=False)
    field = page.locator("#share-link")
    expect(field).to_be_focused()
    selected = page.evaluate(
        "() => { const f = document.getElementById('share-link'); return [f.selectionStart, f.selectionEnd]; }"
    )
    assert selected == [0, len(link)]
    expect(page.locator("#share-status")).to_contain_text("Copy this link.")

    reader = open_link(other_offline.context.new_page(), link, server.url)
    expect_read_only(reader)
    expect(reader.page.locator(".answer-body")).to_have_text("Read this while you can.")

    # Stop sharing: the page that is open on the link says so, and so does the link opened afresh.
    page.locator("#unshare").click()
    expect(page.locator("#share-status")).to_have_text("Sharing stopped: the link no longer works.")
    expect(field).to_be_hidden()
    expect(reader.page.locator("#intro h2")).to_have_text(GONE, timeout=10_000)
    expect(reader.turns).to_have_count(0)
    reader = open_link(reader.page, link, server.url)
    expect(reader.page.locator("#intro h2")).to_have_text(GONE)
    expect(reader.turns).to_have_count(0)
    expect_read_only(reader)
    expect(reader.page.get_by_role("link", name="Go to your own chats")).to_have_attribute("href", "/")

    # A made-up token reads the same; sharing again makes a new link, and only that one works.
    reader = open_link(reader.page, f"{server.url}/?share=not-a-real-token", server.url)
    expect(reader.page.locator("#intro h2")).to_have_text(GONE)
    page.locator("#share").click()
    expect(field).to_be_visible()
    new_link = field.input_value()
    assert new_link != link and new_link.startswith(f"{server.url}/?share=")
    reader = open_link(reader.page, new_link, server.url)
    expect(reader.page.locator(".answer-body")).to_have_text("Read this while you can.")
    reader = open_link(reader.page, link, server.url)
    expect(reader.page.locator("#intro h2")).to_have_text(GONE)

    # The links were requested from the server, yet its log names no token.
    log = server.log()
    assert "/?share=[redacted]" in log
    for token in (link, new_link):
        assert token.split("?share=", 1)[1] not in log
