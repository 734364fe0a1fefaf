"""The page's answer bookkeeping (the JavaScript client's answer module, as the page loads it from
static/vendor/persistream-client), run in the browser on hand-made events: deltas append, a final status freezes
the text, and the one cut the contract allows counts Unicode code points."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import ServerProcess

from .conftest import OfflineContext

pytestmark = pytest.mark.browser

SCRIPT = """async (cases) => {
  const { applyEvent, codePointLength } = await import("/static/vendor/persistream-client/answer.js");
  return cases.map(({ start, events }) => {
    let state = { text: "", offset: 0, status: "PENDING", error: null, ...start };
    const changed = events.map((event) => {
      const before = state;
      state = applyEvent(state, event);
      return state.text !== before.text || state.status !== before.status || state.error !== before.error;
    });
    return { text: state.text, offset: state.offset, status: state.status, error: state.error,
             changed, length: codePointLength(state.text) };
  });
}"""


def event(delta: str, offset: int, status: str = "STREAMING", error: str | None = None) -> dict[str, Any]:
    return {"delta": delta, "offset": offset, "status": status, "error": error}


def test_answer_state_applies_events_by_the_contract(offline: OfflineContext, chat_server: ServerProcess) -> None:
    page = offline.context.new_page()
    page.goto(chat_server.url)
    cases = [
        # Deltas append; the offsets are the server's, in code points (an emoji is one, not two UTF-16 units).
        {"start": {}, "events": [event("Hi 🎉", 4), event(" there", 10), event("", 10, "DONE")]},
        # A resumed observer starts from the text it had; an empty first event changes nothing visible.
        {"start": {"text": "abc", "offset": 3, "status": "STREAMING"}, "events": [event("", 3), event("d", 4)]},
        # A stream that ends shorter than what was shown (its process died): the copy is cut to the final length.
        {
            "start": {"text": "ab🎉cd", "offset": 5, "status": "STREAMING"},
            "events": [event("", 3, "TIMEOUT", "The server stopped.")],
        },
        # Nothing changes after a final status.
        {"start": {"text": "kept", "offset": 4, "status": "CANCELLED"}, "events": [event(" more", 9, "DONE")]},
    ]
    results = page.evaluate(SCRIPT, cases)
    assert results[0] == {
        "text": "Hi 🎉 there",
        "offset": 10,
        "status": "DONE",
        "error": None,
        "changed": [True, True, True],
        "length": 10,
    }
    assert results[1]["text"] == "abcd" and results[1]["changed"] == [False, True]
    assert results[2] == {
        "text": "ab🎉",
        "offset": 3,
        "status": "TIMEOUT",
        "error": "The server stopped.",
        "changed": [True],
        "length": 3,
    }
    assert results[3]["text"] == "kept" and results[3]["status"] == "CANCELLED" and results[3]["changed"] == [False]
