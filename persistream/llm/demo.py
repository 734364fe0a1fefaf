"""An offline model for trying persistream without a key: a labelled answer, token by token.

`stream` yields the answer's text, as it always has. `stream_parts` shows every kind of part on a fresh machine: a
short reasoning part, one call of a built-in tool (`current_time`, the server's clock) with its result, the same
text at the same pace, then the usage (tokens counted the way the demo cuts its text). The demo runs its own tool
and yields the result itself, so the tool loop has nothing left to run for it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from persistream.llm.base import BuiltInModel, ChatMessage
from persistream.parts import PartEvent, ReasoningDelta, ToolCallDelta, ToolResult, Usage

_TOKEN = re.compile(r"\s*\S+|\s+")
REASONING = "A demo answer is asked for. I will look at the server's clock first, to show a tool call."


def current_time() -> str:
    """The server's current time, in UTC, as ISO 8601 text."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class DemoModel(BuiltInModel):
    name = "demo"

    def __init__(self, token_delay: float = 0.03) -> None:
        self.token_delay = token_delay

    def answer_for(self, messages: Sequence[ChatMessage]) -> str:
        prompt = next((m.content for m in reversed(messages) if m.role == "user"), "")
        earlier = sum(1 for m in messages if m.role == "user") - 1
        topic = " ".join(prompt.split())
        if len(topic) > 80:
            topic = topic[:77] + "..."
        history = (
            f"This thread has {earlier} earlier question{'s' if earlier != 1 else ''}, and I was given them as context."
            if earlier > 0
            else "This is the first question of the thread."
        )
        return (
            "**Demo model.** This answer comes from persistream's offline demo provider, not from a real "
            f'language model. You asked: "{topic}".\n\n'
            f"{history} Each word you see arrives as its own token over a GraphQL subscription, while the "
            "server saves the text in chunks at the end of every sentence. Open this thread in a second tab "
            "and it will follow the same answer live; reload this one and it picks up where it left off.\n\n"
            "To talk to a real model, set `OPENAI_API_KEY` (and `OPENAI_BASE_URL` for any "
            "OpenAI-compatible server) and restart the server."
        )

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        for token in _TOKEN.findall(self.answer_for(messages)):
            await asyncio.sleep(self.token_delay)
            yield token

    async def stream_parts(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> AsyncIterator[PartEvent]:
        thinking = _TOKEN.findall(REASONING)
        for token in thinking:
            await asyncio.sleep(self.token_delay)
            yield ReasoningDelta(token)
        call_id = f"call_demo_{secrets.token_hex(4)}"
        await asyncio.sleep(self.token_delay)
        yield ToolCallDelta(call_id, current_time.__name__, "{}")
        yield ToolResult(call_id, current_time.__name__, current_time())
        answer = 0
        async for token in self.stream(messages):
            answer += 1
            yield token
        prompt = sum(len(_TOKEN.findall(m.content)) for m in messages)
        yield Usage(prompt, answer + len(thinking), len(thinking))

    async def aclose(self) -> None:
        return None
