"""The openai provider: streaming chat completions from OpenAI or any OpenAI-compatible server.

The only module that imports the openai SDK. Errors become `ModelError`s whose user message names the kind of
failure and nothing else: a provider's own message can quote part of the key, so it only goes to the logs
after redaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai

from persistream.llm.base import ChatMessage, ModelError
from persistream.redact import redact_line


class OpenAIModel:
    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 1,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        # A local OpenAI-compatible server often needs no key, but the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        try:
            # Unset sends no `max_tokens` at all: the provider's own default applies.
            extra: dict[str, Any] = {} if self.max_tokens is None else {"max_tokens": self.max_tokens}
            stream = await self._client.chat.completions.create(
                model=self.model, messages=payload, stream=True, **extra
            )
        except openai.OpenAIError as exc:
            raise _model_error(exc, started=False) from None
        try:
            async for chunk in stream:
                for choice in chunk.choices:
                    content = choice.delta.content if choice.delta is not None else None
                    if content:
                        yield content
        except openai.OpenAIError as exc:
            raise _model_error(exc, started=True) from None
        finally:
            # Without this the HTTP response keeps streaming after a cancel.
            await stream.close()

    async def aclose(self) -> None:
        await self._client.close()


def _model_error(exc: openai.OpenAIError, *, started: bool) -> ModelError:
    when = "while answering" if started else ""
    if isinstance(exc, openai.APITimeoutError):
        message = "The model service timed out"
    elif isinstance(exc, openai.APIConnectionError):
        message = "The model service could not be reached"
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        message = "The model service refused the server's credentials"
    elif isinstance(exc, openai.RateLimitError):
        message = "The model service is busy (rate limited); please try again later"
    elif isinstance(exc, openai.APIStatusError):
        message = f"The model service returned an error (HTTP {exc.status_code})"
    else:
        message = "The model service reported an error"
    full = f"{message} {when}.".replace(" .", ".")
    return ModelError(full, detail=f"{type(exc).__name__}: {redact_line(str(exc), 300)}")
