"""Deleting a thread from the page: an in-page confirmation reached from the keyboard, then the list updates,
the open thread closes, and the server no longer has it."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

MESSAGES = "query($id: ID!) { messages(threadId: $id) { id } }"


def test_delete_asks_first_then_removes_the_thread_everywhere(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    keep = fake_openai.add("delete-keep", Script(words("This chat stays."), delay=0.005))
    gone = fake_openai.add("delete-gone", Script(words("This chat will be deleted."), delay=0.005))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    page = chat.page
    actions = page.locator("#thread-actions")
    expect(actions).to_be_hidden()  # nothing to delete in a new chat

    chat.wait_status(chat.send(f"Keep me {keep}"), "DONE")
    kept = chat.thread_id
    page.locator("#new-chat").click()
    chat.wait_status(chat.send(f"Delete me {gone}"), "DONE")
    doomed = chat.thread_id
    assert kept and doomed and kept != doomed
    expect(page.locator(f'#threads a[data-thread-id="{doomed}"]')).to_have_count(1)

    # The first press only asks; Escape (or "Keep it") changes nothing and gives the focus back.
    delete = page.locator("#delete")
    confirm = page.locator("#delete-confirm")
    expect(actions).to_be_visible()
    delete.focus()
    page.keyboard.press("Enter")
    expect(confirm).to_be_visible()
    expect(page.locator("#delete-yes")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(delete).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#delete-no").click()
    expect(confirm).to_be_hidden()
    expect(chat.turns).to_have_count(1)
    assert chat.thread_id == doomed

    # Asked and confirmed, from the keyboard alone.
    delete.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#delete-yes")).to_be_focused()
    page.keyboard.press("Enter")
    expect(chat.notice).to_have_text("Chat deleted.")
    expect(chat.turns).to_have_count(0)
    expect(page.locator("#thread-title")).to_have_text("New chat")
    expect(page.locator("#intro")).to_be_visible()
    expect(actions).to_be_hidden()
    expect(confirm).to_be_hidden()
    assert chat.thread_id is None
    expect(page.locator(f'#threads a[data-thread-id="{doomed}"]')).to_have_count(0)
    expect(page.locator(f'#threads a[data-thread-id="{kept}"]')).to_have_count(1)

    # The server agrees, and the other thread is untouched.
    for thread, present in ((doomed, False), (kept, True)):
        response = httpx.post(chat_server.graphql_http, json={"query": MESSAGES, "variables": {"id": thread}})
        result = response.json()
        if present:
            assert len(result["data"]["messages"]) == 1, result
        else:
            assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND", result

    # A reload does not bring it back, and its old address says it is gone.
    chat.open(doomed)
    expect(chat.notice).to_have_text("This chat does not exist (any more).")
    expect(page.locator(f'#threads a[data-thread-id="{doomed}"]')).to_have_count(0)
