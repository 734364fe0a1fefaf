"""Branches on the chat page: Regenerate under an answer, Edit on a prompt (in place: Enter sends, Escape keeps the
old prompt), the "< n / m >" switcher with the keyboard alone, the chosen variant surviving a reload (it is in the
URL), and a second tab following a variant started in the first."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess

from .chat import ChatPage, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser


def leaf_of(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("leaf")
    return values[0] if values else None


def test_regenerate_edit_switch_reload_and_a_second_tab(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    first = fake_openai.add("branch-first", Script(words("The first answer."), delay=0.01))
    asked = fake_openai.add("branch-asked", Script(words("An answer worth asking again."), delay=0.01))
    edited = fake_openai.add("branch-edited", Script(words("The edited question's answer."), delay=0.01))
    more = fake_openai.add("branch-more", Script(words("A follow-up on the second variant."), delay=0.01))
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    chat.wait_status(chat.send(f"Start {first}"), "DONE")
    original = chat.send(f"Ask {asked}")
    chat.wait_status(original, "DONE")
    original_stream = chat.stream_id(original)
    second = chat.turns.nth(1)
    expect(second.locator(".variants")).to_be_hidden()

    # Regenerate: a second variant of the same prompt, with a new answer, shown in its place.
    second.locator("button.regenerate").click()
    expect(second.locator(".variant-label")).to_have_text("2 / 2")
    expect(chat.turns).to_have_count(2)
    regenerated = chat.answers.nth(1)
    expect(regenerated).not_to_have_attribute("data-stream-id", original_stream)
    chat.wait_status(regenerated, "DONE")
    regenerated_stream = chat.stream_id(regenerated)
    assert chat.text(regenerated) == "An answer worth asking again."
    expect(second.locator(".prompt-text")).to_have_text(f"Ask {asked}")

    # Edit with the keyboard: Escape keeps the old prompt, Enter sends the new one as a third variant.
    second.locator("button.edit").focus()
    chat.page.keyboard.press("Enter")
    editor = second.locator(".prompt-edit-input")
    expect(editor).to_be_focused()
    chat.page.keyboard.type(" never sent")
    chat.page.keyboard.press("Escape")
    expect(editor).to_have_count(0)
    expect(second.locator(".prompt-text")).to_have_text(f"Ask {asked}")
    expect(second.locator("button.edit")).to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(editor).to_be_focused()
    editor.fill(f"Ask differently {edited}")
    chat.page.keyboard.press("Enter")
    expect(second.locator(".variant-label")).to_have_text("3 / 3")
    expect(second.locator(".prompt-text")).to_have_text(f"Ask differently {edited}")
    chat.wait_status(chat.answers.nth(1), "DONE")
    assert chat.text(chat.answers.nth(1)) == "The edited question's answer."

    # Switch with the keyboard alone: back to 2 / 3, then 1 / 3, then forward to 2 / 3 again.
    second.locator("button.variant-previous").focus()
    chat.page.keyboard.press("Enter")
    expect(second.locator(".variant-label")).to_have_text("2 / 3")
    expect(chat.answers.nth(1)).to_have_attribute("data-stream-id", regenerated_stream)
    expect(second.locator("button.variant-previous")).to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(second.locator(".variant-label")).to_have_text("1 / 3")
    expect(chat.answers.nth(1)).to_have_attribute("data-stream-id", original_stream)
    expect(second.locator("button.variant-next")).to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(second.locator(".variant-label")).to_have_text("2 / 3")
    expect(chat.answers.nth(1)).to_have_attribute("data-stream-id", regenerated_stream)
    assert leaf_of(chat.page.url) is not None

    # A reload shows the variant chosen, not the newest one.
    chat.page.reload()
    chat.wait_ready()
    expect(second.locator(".variant-label")).to_have_text("2 / 3")
    expect(chat.answers.nth(1)).to_have_attribute("data-stream-id", regenerated_stream)
    expect(second.locator(".prompt-text")).to_have_text(f"Ask {asked}")

    # A prompt sent now continues the variant shown.
    chat.wait_status(chat.send(f"And then {more}"), "DONE")
    expect(chat.turns).to_have_count(3)
    expect(chat.answers.nth(1)).to_have_attribute("data-stream-id", regenerated_stream)
    assert leaf_of(chat.page.url) is None

    # A second tab on the thread follows a variant started in the first: its branch, its live answer.
    other = ChatPage(offline.context.new_page(), chat_server.url).open(chat.thread_id)
    expect(other.turns).to_have_count(3)
    chat.turns.nth(2).locator("button.regenerate").click()
    expect(chat.turns.nth(2).locator(".variant-label")).to_have_text("2 / 2")
    newest = chat.stream_id(chat.answers.nth(2))
    expect(other.answers.nth(2)).to_have_attribute("data-stream-id", newest, timeout=10_000)
    expect(other.turns.nth(2).locator(".variant-label")).to_have_text("2 / 2")
    other.wait_status(other.answers.nth(2), "DONE")
    assert other.text(other.answers.nth(2)) == "A follow-up on the second variant."
    assert len(fake_openai.requests_for("branch-asked")) == 2
    assert len(fake_openai.requests_for("branch-more")) == 2
