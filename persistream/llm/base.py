"""The provider seam: a chat model turns a conversation into an async stream of text tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the answer's text as it is produced. Closing the iterator must close the model's stream."""
        ...

    async def aclose(self) -> None: ...


class ModelError(Exception):
    """The model failed. `user_message` is shown to users; `detail` is for logs and never holds a secret."""

    def __init__(self, user_message: str, detail: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail or user_message
