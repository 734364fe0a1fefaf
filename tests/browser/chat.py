"""Driving the chat page the way a person does (typing, Enter, clicking), and reading what it shows."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Dialog, Locator, Page, Request, expect

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Every page records each distinct text each answer showed, in order, so a test can check that no state it
# ever displayed repeated or lost text (every one must be a prefix of the final answer).
RECORDER = """
(() => {
  window.__shown = {};
  const record = () => {
    for (const answer of document.querySelectorAll(".answer[data-stream-id]")) {
      const body = answer.querySelector(".answer-body");
      const id = answer.dataset.streamId;
      const seen = (window.__shown[id] ??= []);
      const text = body ? body.textContent : "";
      if (seen[seen.length - 1] !== text) seen.push(text);
    }
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def assert_never_wrong(shown: list[str], final: str) -> None:
    """Every text the page ever displayed was the start of the final answer: nothing repeated, nothing lost."""
    for text in shown:
        # (Markdown's block elements end in a line break the answer does not have.)
        assert final.startswith(text.rstrip("\n")), f"showed {text!r}, which is not a prefix of {final!r}"


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOOPBACK


def install_recorder(context: BrowserContext) -> None:
    context.add_init_script(RECORDER)


def words(text: str) -> list[str]:
    """Tokens the way a model sends them: each word after the first with its leading space."""
    parts = text.split(" ")
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


class ChatPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.input = page.locator("#composer-input")
        self.notice = page.locator("#notice")
        self.answers = page.locator(".answer")
        self.turns = page.locator("#messages > .turn")
        self.thread_links = page.locator("#threads a.thread-link")

    def open(self, thread_id: str | None = None) -> ChatPage:
        url = f"{self.base_url}/" + (f"?thread={thread_id}" if thread_id else "")
        self.page.goto(url)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    def send(self, prompt: str) -> Locator:
        """Types the prompt and presses Enter; returns the new answer."""
        before = self.answers.count()
        self.input.fill(prompt)
        self.input.press("Enter")
        expect(self.answers).to_have_count(before + 1)
        return self.answers.nth(before)

    @property
    def thread_id(self) -> str | None:
        values = parse_qs(urlsplit(self.page.url).query).get("thread")
        return values[0] if values else None

    def answer_for(self, stream_id: str) -> Locator:
        return self.page.locator(f'.answer[data-stream-id="{stream_id}"]')

    @staticmethod
    def stream_id(answer: Locator) -> str:
        value = answer.get_attribute("data-stream-id")
        assert value
        return value

    @staticmethod
    def text(answer: Locator) -> str:
        return answer.locator(".answer-body").inner_text()

    @staticmethod
    def wait_status(answer: Locator, status: str, timeout: float = 15_000) -> None:
        expect(answer).to_have_attribute("data-status", status, timeout=timeout)

    def wait_text_at_least(self, answer: Locator, chars: int, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = answer.locator(".answer-body").text_content() or ""
            if len(text) >= chars:
                return text
            assert time.monotonic() < deadline, f"the answer showed only {text!r}"
            self.page.wait_for_timeout(20)

    def shown(self, stream_id: str) -> list[str]:
        """Every distinct text the page displayed for this answer since it was loaded."""
        result: Any = self.page.evaluate("id => (window.__shown || {})[id] || []", stream_id)
        return list(result)


def watch_dialogs_and_requests(page: Page) -> tuple[list[str], list[str]]:
    """Every dialog the page opens (dismissed at once) and every URL it requests, from now on: what untrusted text
    that got executed would leave behind."""
    dialogs: list[str] = []
    requests: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("dialog", on_dialog)
    page.on("request", on_request)
    return dialogs, requests
