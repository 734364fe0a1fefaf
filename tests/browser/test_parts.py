"""An answer's parts on the chat page: reasoning streams live in a block that folds itself once the text starts
(and stays the way the reader leaves it), a tool call shows its name, arguments and result (or its error), usage
shows under a finished answer, an observer tab, a reload mid-reasoning and the thread's history show the same
parts, and HTML in reasoning or a tool's result stays inert text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script, tool_call_deltas
from tests.support.server import ServerProcess
from tests.support.tool_answers import tools_env

from .chat import ChatPage, watch_dialogs_and_requests, words
from .conftest import OfflineContext

pytestmark = pytest.mark.browser

USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 7}}
# What the `echo` tool is asked to say back: markup, which must reach the reader as text.
ECHOED = "Sunny in Paris. <img src=\"/canary/tool\" onerror=\"window.__pwned = 'tool'; alert('tool')\">"

# Every page records each distinct reasoning text each answer showed, in order: none may repeat or lose text.
REASONING_RECORDER = """
(() => {
  window.__reasoning = {};
  const record = () => {
    for (const answer of document.querySelectorAll(".answer[data-stream-id]")) {
      const block = answer.querySelector(".reasoning-text");
      if (!block) continue;
      const seen = (window.__reasoning[answer.dataset.streamId] ??= []);
      if (seen[seen.length - 1] !== block.textContent) seen.push(block.textContent);
    }
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""

# What an answer shows besides its text, block by block.
SHOWN_PARTS = """answer => [...answer.querySelectorAll(".answer-parts > .part")].map((block) => ({
  kind: block.classList.contains("reasoning") ? "reasoning" : block.classList.contains("tool") ? "tool" : "other",
  name: block.querySelector(".tool-name")?.textContent ?? null,
  text: block.querySelector(".part-text")?.textContent ?? null,
  args: block.querySelector(".tool-args .tool-text")?.textContent ?? null,
  result: block.querySelector(".tool-result .tool-text")?.textContent ?? null,
  failed: block.querySelector(".tool-result")?.classList.contains("is-error") ?? null,
}))"""


@pytest.fixture(scope="module")
def tools_server(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose model may call the `add` and `echo` tools, as chat_server is otherwise."""
    directory = tmp_path_factory.mktemp("parts-tools")
    env = server_env(fake_openai, directory / "persistream.db", **tools_env(directory))
    process = ServerProcess(env, log_path=directory / "server.log").start()
    yield process
    process.stop()


def reasoning_deltas(text: str) -> list[dict[str, Any]]:
    return [{"reasoning_content": word} for word in words(text)]


def shown_parts(answer: Locator) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = answer.evaluate(SHOWN_PARTS)
    return result


def shown_reasoning(page: Page, stream_id: str) -> list[str]:
    result: list[str] = page.evaluate("id => (window.__reasoning || {})[id] || []", stream_id)
    return result


def assert_reasoning_never_wrong(page: Page, stream_id: str, final: str) -> None:
    shown = shown_reasoning(page, stream_id)
    assert shown, "no reasoning was shown"
    for text in shown:
        assert final.startswith(text), f"showed reasoning {text!r}, which is not a prefix of {final!r}"
    assert shown[-1] == final


def is_open(block: Locator) -> bool:
    return bool(block.evaluate("details => details.open"))


def wait_reasoning_at_least(answer: Locator, chars: int) -> str:
    text = answer.locator(".reasoning-text")
    expect(text).to_have_text(re.compile(rf"^[\s\S]{{{chars},}}$"))
    return text.text_content() or ""


REASONING = (
    "The reader wants a short poem about the sea. I should keep it to two lines, pick plain words, and end on an "
    "image of the tide coming back, since that is what people remember."
)
ANSWER = "The sea comes back each night to read the sand, and leaves before the morning understands."


def test_reasoning_streams_live_folds_when_the_text_starts_and_keeps_the_readers_choice(
    offline: OfflineContext, chat_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    offline.context.add_init_script(REASONING_RECORDER)
    script = Script(words(ANSWER), deltas=reasoning_deltas(REASONING), delay=0.06, usage=USAGE)
    marker = fake_openai.add("parts-reasoning", script)
    chat = ChatPage(offline.context.new_page(), chat_server.url).open()
    answer = chat.send(f"A poem about the sea {marker}")
    stream_id = chat.stream_id(answer)
    block = answer.locator("details.reasoning")
    summary = block.locator("summary")

    # While the model reasons, its reasoning streams into an open block and the answer says it is thinking.
    wait_reasoning_at_least(answer, 20)
    assert is_open(block)
    expect(answer.locator(".answer-state")).to_have_text("Thinking…")
    expect(summary).to_contain_text("Reasoning")
    assert chat.text(answer) == ""

    # The reader folds it from the keyboard: it stays folded while the reasoning goes on.
    summary.focus()
    chat.page.keyboard.press("Enter")
    expect(block).not_to_have_attribute("open", "")
    before = answer.locator(".reasoning-text").text_content() or ""
    wait_reasoning_at_least(answer, len(before) + 10)
    assert not is_open(block)
    # ... and opens it again: their choice, not the page's, from now on.
    chat.page.keyboard.press("Enter")
    expect(block).to_have_attribute("open", "")

    chat.wait_status(answer, "DONE")
    assert chat.text(answer) == ANSWER
    expect(answer.locator(".reasoning-text")).to_have_text(REASONING)
    assert is_open(block), "the text started and folded a block the reader had opened"
    assert_reasoning_never_wrong(chat.page, stream_id, REASONING)
    expect(answer.locator(".answer-usage")).to_have_text("Tokens: 12 in · 30 out · 7 reasoning")

    # Left alone, the block folds itself once the answer's text starts, and can be opened with a click.
    script = Script(words(ANSWER), deltas=reasoning_deltas(REASONING), delay=0.05)
    marker = fake_openai.add("parts-reasoning-fold", script)
    answer = chat.send(f"Another one {marker}")
    block = answer.locator("details.reasoning")
    wait_reasoning_at_least(answer, 10)
    assert is_open(block)
    chat.wait_text_at_least(answer, 1)
    expect(block).not_to_have_attribute("open", "")
    expect(answer.locator(".reasoning-text")).to_be_hidden()
    chat.wait_status(answer, "DONE")
    expect(answer.locator(".answer-usage")).to_be_hidden()  # the model reported none
    block.locator("summary").click()
    expect(answer.locator(".reasoning-text")).to_be_visible()
    expect(answer.locator(".reasoning-text")).to_have_text(REASONING)


CALL_REASONING = "I will have the echo tool repeat the forecast, then add two numbers."
TOOL_ANSWER = "It is sunny in Paris, though the sum could not be made."


def tool_script(delay: float, reasoning: str = CALL_REASONING) -> Script:
    """Reasoning, a call of `echo` and one of `add` that lacks an argument; then, given their results, the
    answer."""
    echo = json.dumps({"text": ECHOED})
    calls = tool_call_deltas([("call_1", "echo", echo), ("call_2", "add", '{"a": 2}')])
    answer = Script(words(TOOL_ANSWER), delay=delay, usage={"prompt_tokens": 40, "completion_tokens": 9})
    return Script(
        [],
        deltas=reasoning_deltas(reasoning) + calls,
        delay=delay,
        finish_reason="tool_calls",
        usage={"prompt_tokens": 20, "completion_tokens": 15},
        then=answer,
    )


EXPECTED_TOOLS = [
    {
        "kind": "tool",
        "name": "echo",
        "text": None,
        "args": json.dumps({"text": ECHOED}, indent=2),  # as JSON.stringify indents it
        "result": ECHOED,
        "failed": False,
    },
    {
        "kind": "tool",
        "name": "add",
        "text": None,
        "args": '{\n  "a": 2\n}',
        "result": "The tool add was not run: invalid arguments: b: Missing required argument.",
        "failed": True,
    },
]


def test_a_tool_call_shows_its_name_arguments_and_result_or_error(
    offline: OfflineContext, tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    marker = fake_openai.add("parts-tools", tool_script(0.01))
    chat = ChatPage(offline.context.new_page(), tools_server.url).open()
    answer = chat.send(f"Weather? {marker}")
    chat.wait_status(answer, "DONE")
    assert chat.text(answer) == TOOL_ANSWER
    reasoning = {"kind": "reasoning", "name": None, "text": CALL_REASONING, "args": None, "result": None}
    assert shown_parts(answer) == [{**reasoning, "failed": None}, *EXPECTED_TOOLS]
    expect(answer.locator(".answer-usage")).to_have_text("Tokens: 60 in · 24 out")

    # Folded once the answer's text came; each opens to show what was called with what, and what came back.
    tools = answer.locator("details.tool")
    expect(tools).to_have_count(2)
    for n in range(2):
        expect(tools.nth(n)).not_to_have_attribute("open", "")
        tools.nth(n).locator("summary").click()
    echo, add = tools.nth(0), tools.nth(1)
    expect(echo.locator("summary")).to_have_text("Tool echo")
    expect(echo.locator(".tool-args .tool-caption")).to_have_text("Arguments")
    expect(echo.locator(".tool-args .tool-text")).to_be_visible()
    expect(echo.locator(".tool-result .tool-caption")).to_have_text("Result")
    expect(echo.locator(".tool-result .tool-text")).to_be_visible()
    # A failed tool says so, in its summary too.
    expect(add.locator("summary")).to_have_text("Tool add failed")
    expect(add.locator(".tool-result .tool-caption")).to_have_text("Error")
    expect(add.locator(".tool-result .tool-text")).to_be_visible()
    expect(answer.locator(".answer-parts img")).to_have_count(0)


def test_an_observer_tab_a_reload_mid_reasoning_and_the_history_show_the_same_parts(
    offline: OfflineContext, tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    offline.context.add_init_script(REASONING_RECORDER)
    # Slow enough that the reloaded page, even on a busy machine, is back before the reasoning ends.
    reasoning = " ".join([CALL_REASONING] * 8)
    marker = fake_openai.add("parts-observed", tool_script(0.08, reasoning))
    a = ChatPage(offline.context.new_page(), tools_server.url).open()
    answer_a = a.send(f"Weather, slowly {marker}")
    stream_id = a.stream_id(answer_a)
    wait_reasoning_at_least(answer_a, 40)
    assert a.thread_id is not None

    # Another tab opens the thread mid-reasoning: it starts from the parts stored so far and follows the rest.
    b = ChatPage(offline.context.new_page(), tools_server.url).open(a.thread_id)
    answer_b = b.answer_for(stream_id)
    wait_reasoning_at_least(answer_b, 1)

    # The sending tab reloads mid-reasoning.
    before = wait_reasoning_at_least(answer_a, 80)
    assert len(before) < len(reasoning)
    a.page.reload()
    a.wait_ready()
    answer_a = a.answer_for(stream_id)
    wait_reasoning_at_least(answer_a, 1)
    assert len(answer_a.locator(".reasoning-text").text_content() or "") < len(reasoning), "reloaded too late"

    expected = [
        {"kind": "reasoning", "name": None, "text": reasoning, "args": None, "result": None, "failed": None},
        *EXPECTED_TOOLS,
    ]
    for page, answer in ((a, answer_a), (b, answer_b)):
        page.wait_status(answer, "DONE", timeout=30_000)
        assert page.text(answer) == TOOL_ANSWER
        assert shown_parts(answer) == expected
        assert_reasoning_never_wrong(page.page, stream_id, reasoning)
        expect(answer.locator(".answer-usage")).to_have_text("Tokens: 60 in · 24 out")
    assert len(shown_reasoning(a.page, stream_id)) > 1, "the reloaded page should have followed the reasoning live"
    assert len(shown_reasoning(b.page, stream_id)) > 1, "the observer should have followed the reasoning live"

    # The thread's history, opened after the end, shows the same.
    c = ChatPage(offline.context.new_page(), tools_server.url).open(a.thread_id)
    answer_c = c.answer_for(stream_id)
    c.wait_status(answer_c, "DONE")
    assert shown_parts(answer_c) == expected
    expect(answer_c.locator("details.part[open]")).to_have_count(0)  # a finished answer reads as its text


def test_html_in_reasoning_and_tool_results_stays_inert_text(
    offline: OfflineContext, tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    canary = f"{tools_server.url}/canary"
    evil = (
        f'Think <img src="{canary}/reasoning" onerror="window.__pwned = \'reasoning\'; alert(1)"> '
        "<script>alert(2)</script>"
    )
    marker = fake_openai.add("parts-xss", tool_script(0.005, evil))
    page = offline.context.new_page()
    dialogs, requests = watch_dialogs_and_requests(page)
    chat = ChatPage(page, tools_server.url).open()
    answer = chat.send(f"Hack the parts {marker}")
    chat.wait_status(answer, "DONE")
    for block in answer.locator("details.part").all():
        block.locator("summary").click()

    # The reader sees the markup as the text it is; no element came from it.
    expect(answer.locator(".reasoning-text")).to_have_text(evil)
    expect(answer.locator(".tool-result .tool-text").first).to_contain_text('<img src="/canary/tool" onerror=')
    parts = answer.locator(".answer-parts")
    expect(parts.locator("img, script, iframe, svg, [onerror], [onload]")).to_have_count(0)
    tags = set(parts.evaluate("p => [...p.querySelectorAll('*')].map(e => e.tagName.toLowerCase())"))
    assert tags <= {"details", "summary", "span", "code", "div", "p", "pre"}, tags

    page.wait_for_timeout(300)  # give any handler that slipped through the time to run
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert [url for url in requests if "canary" in url] == []
