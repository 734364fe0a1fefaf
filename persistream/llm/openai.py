"""The openai provider: streaming chat completions from OpenAI or any OpenAI-compatible server.

The only module that imports the openai SDK. Errors become `ModelError`s whose user message names the kind of
failure and nothing else: a provider's own message can quote part of the key, so it only goes to the logs
after redaction.

The SDK makes the request (authentication, retries, timeouts, HTTP errors as its own exception types); the
streamed body is read here from the SDK's raw streaming response (`with_streaming_response`), because the SDK's
parse builds a pydantic object per token and that alone capped an answer at about 8,500 tokens/s. What is read is
what the SDK would read: `data: [DONE]` ends the answer, a frame holding `error` raises `openai.APIError` as the
SDK does, every choice's `delta.content` is text; a timeout or a broken connection while reading becomes the SDK's
`APITimeoutError` or `APIConnectionError`. Bytes that are not UTF-8 are read as U+FFFD where the SDK fails, and an
event over 64 MiB is refused (`llm/sse.py` says why). tests/unit/test_openai_parse.py holds both parses to the same
text. Two limits the SDK does not hold are held here: `max_tokens` (a model may ignore it) and the event size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai

from persistream.llm.base import ChatMessage, ModelError
from persistream.llm.sse import MAX_EVENT_BYTES, EventTooLarge, SSEParser
from persistream.redact import redact_line

log = logging.getLogger("persistream.llm")

# Seconds the start-up warm-up may take; it never delays serving.
WARM_TIMEOUT = 5.0
STREAM_ERROR = "An error occurred during streaming"


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
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.max_event_bytes = max_event_bytes
        # A local OpenAI-compatible server often needs no key, but the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        # Unset sends no `max_tokens` at all: the provider's own default applies.
        extra: dict[str, Any] = {} if self.max_tokens is None else {"max_tokens": self.max_tokens}
        request = self._client.chat.completions.with_streaming_response.create(
            model=self.model, messages=payload, stream=True, **extra
        )
        # Leaving the stack closes the HTTP response: without that it keeps streaming after a cancel.
        async with contextlib.AsyncExitStack() as stack:
            try:
                response = await stack.enter_async_context(request)
            except openai.OpenAIError as exc:
                raise _model_error(exc, started=False) from None
            try:
                # `max_tokens` is held here too: a model that ignores it would otherwise never end its answer. One
                # delta holds at least one token, so a model that keeps to the limit is never cut.
                deltas = 0
                async for text in read_stream(response.http_response, self.max_event_bytes):
                    deltas += 1
                    if self.max_tokens is not None and deltas > self.max_tokens:
                        raise ModelError(
                            f"The answer was cut at the limit of {self.max_tokens} tokens: the model went on past it.",
                            detail=f"the model sent more than max_tokens={self.max_tokens} deltas",
                        )
                    yield text
            except openai.OpenAIError as exc:
                raise _model_error(exc, started=True) from None

    async def warm(self) -> None:
        """Pay the first request's costs at start-up: the SDK's lazy imports, and a pooled connection to the model
        service (a `GET /models`, which OpenAI-compatible servers answer cheaply; any answer, even an error, does)."""
        _ = self._client.chat.completions.with_streaming_response  # the SDK imports its resources on first use
        try:
            await self._client.with_options(timeout=WARM_TIMEOUT, max_retries=0).models.list()
        except openai.OpenAIError as exc:
            log.debug("model warm-up request answered %s", type(exc).__name__)

    async def aclose(self) -> None:
        await self._client.close()


async def read_stream(http_response: Any, max_event_bytes: int = MAX_EVENT_BYTES) -> AsyncIterator[str]:
    """The text of a chat completions event stream, from the HTTP response the SDK opened."""
    transport = sys.modules[type(http_response).__module__.partition(".")[0]]  # httpx2, or httpx for older SDKs
    parser = SSEParser(max_event_bytes)
    chunks = http_response.aiter_bytes()
    try:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                if event.data.startswith("[DONE]"):
                    async for _ in chunks:
                        pass  # read to the end, so the connection goes back to the pool (HTTP/1.1)
                    return
                for text in _texts(event.data, http_response.request):
                    yield text
        for event in parser.finish():
            for text in _texts(event.data, http_response.request):
                yield text
    except EventTooLarge:
        size = f"{max_event_bytes / 2**20:g} MiB" if max_event_bytes >= 2**20 else f"{max_event_bytes} bytes"
        raise ModelError(
            f"The answer was cut: the model service sent more than {size} in one event.",
            detail=f"an event over max_event_bytes={max_event_bytes}",
        ) from None
    except transport.TimeoutException as exc:
        raise openai.APITimeoutError(request=http_response.request) from exc
    except transport.RequestError as exc:
        raise openai.APIConnectionError(request=http_response.request) from exc


def _texts(data: str, request: Any) -> list[str]:
    try:
        frame = json.loads(data)
    except ValueError:
        raise openai.APIError("The model service sent a frame that is not JSON", request, body=None) from None
    if not isinstance(frame, dict):
        return []
    if frame.get("error"):
        error = frame["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(message if isinstance(message, str) and message else STREAM_ERROR, request, body=error)
    texts = []
    for choice in frame.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            texts.append(content)
    return texts


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
