"""An offline model for trying persistream without a key: a labelled answer, token by token."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from persistream.llm.base import ChatMessage

_TOKEN = re.compile(r"\s*\S+|\s+")


class DemoModel:
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

    async def aclose(self) -> None:
        return None
