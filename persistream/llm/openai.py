"""The openai provider: streaming chat completions from OpenAI or any OpenAI-compatible server.

The only module that imports the openai SDK. Errors become `ModelError`s whose user message names the kind of
failure and nothing else: a provider's own message can quote part of the key, so it only goes to the logs
after redaction.

The SDK makes the request (authentication, retries, timeouts, HTTP errors as its own exception types); the streamed body
is read here from the SDK's raw streaming response (`with_streaming_response`), because the SDK's parse builds a
pydantic object per token and that alone capped an answer at about 8,500 tokens/s. What is read is what the SDK would
read: `data: [DONE]` ends the answer, a frame holding `error` raises `openai.APIError` as the SDK does, every choice's
`delta.content` is text (and the rest of each delta, reasoning and tool-call fragments, and a chunk's usage, become part
events as `llm/turn.py` says); a timeout or a broken connection while reading becomes the SDK's `APITimeoutError` or
`APIConnectionError`. Bytes that are not UTF-8 are read as U+FFFD where the SDK fails, and an event over 64 MiB is
refused (`llm/sse.py` says why). tests/unit/test_openai_parse.py holds both parses to the same text, and
tests/llm/test_openai_parts.py its tool calls. Two limits the SDK does not hold are held here: `max_tokens` (a model may
ignore it) and the event size.

`stream_parts(messages, tools)` yields every part event; `stream(messages)` yields only the text of the same reader
(the engine's path, no slower for the parts: a delta that holds only text is read as before). Both ask for usage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openai

from persistream.llm.base import BuiltInModel, ChatMessage, ModelError
from persistream.llm.sse import MAX_EVENT_BYTES, EventTooLarge, SSEParser
from persistream.llm.turn import Turn
from persistream.parts import PartEvent
from persistream.redact import redact_line

log = logging.getLogger("persistream.llm")

# Seconds the start-up warm-up may take; it never delays serving.
WARM_TIMEOUT = 5.0
STREAM_ERROR = "An error occurred during streaming"


class OpenAIModel(BuiltInModel):
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
        async with self._answer(messages, None) as response:
            async for event in read_stream(response.http_response, self.max_event_bytes, self.max_tokens):
                if type(event) is str:
                    yield event

    async def stream_parts(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> AsyncIterator[PartEvent]:
        async with self._answer(messages, tools) as response:
            async for event in read_stream(response.http_response, self.max_event_bytes, self.max_tokens):
                yield event

    @contextlib.asynccontextmanager
    async def _answer(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None
    ) -> AsyncIterator[Any]:
        """The streaming response to one request, its failures as `ModelError`s. Leaving it closes the HTTP
        response: without that it keeps streaming after a cancel."""
        # Usage comes in a last chunk with no choices, and only when asked for. Unset `max_tokens` sends none at all:
        # the provider's own default applies.
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}}
        if self.max_tokens is not None:
            extra["max_tokens"] = self.max_tokens
        if tools:
            extra["tools"] = list(tools)
        payload: list[Any] = [_wire(m) for m in messages]
        request = self._client.chat.completions.with_streaming_response.create(
            model=self.model, messages=payload, stream=True, **extra
        )
        async with contextlib.AsyncExitStack() as stack:
            try:
                response = await stack.enter_async_context(request)
            except openai.OpenAIError as exc:
                raise _model_error(exc, started=False) from None
            try:
                yield response
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


async def read_stream(
    http_response: Any, max_event_bytes: int = MAX_EVENT_BYTES, max_tokens: int | None = None
) -> AsyncIterator[PartEvent]:
    """The part events of a chat completions event stream, from the HTTP response the SDK opened. When the stream
    fails, what the model sent before is still given (`Turn.finish`), then the failure is raised."""
    transport = sys.modules[type(http_response).__module__.partition(".")[0]]  # httpx2, or httpx for older SDKs
    parser = SSEParser(max_event_bytes)
    # `max_tokens` is held here too: a model that ignores it would otherwise never end its answer. One delta holds
    # at least one token, so a model that keeps to the limit is never cut.
    turn = Turn(max_tokens)
    request = http_response.request
    chunks = http_response.aiter_bytes()
    failure: Exception | None = None
    cause: BaseException | None = None
    try:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                if event.data.startswith("[DONE]"):
                    async for _ in chunks:
                        pass  # read to the end, so the connection goes back to the pool (HTTP/1.1)
                    break
                for part in _events(event.data, request, turn):
                    yield part
            else:
                continue
            break
        else:
            for event in parser.finish():
                for part in _events(event.data, request, turn):
                    yield part
    except EventTooLarge:
        size = f"{max_event_bytes / 2**20:g} MiB" if max_event_bytes >= 2**20 else f"{max_event_bytes} bytes"
        failure = ModelError(
            f"The answer was cut: the model service sent more than {size} in one event.",
            detail=f"an event over max_event_bytes={max_event_bytes}",
        )
    except transport.TimeoutException as exc:
        failure, cause = openai.APITimeoutError(request=request), exc
    except transport.RequestError as exc:
        failure, cause = openai.APIConnectionError(request=request), exc
    except (ModelError, openai.APIError) as exc:
        failure = exc
    for part in turn.finish():
        yield part
    if failure is not None:
        raise failure from cause


def _events(data: str, request: Any, turn: Turn) -> list[PartEvent]:
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
    events: list[PartEvent] = []
    for choice in frame.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict):
            turn.read(delta, events)
    usage = frame.get("usage")
    if usage:
        turn.read_usage(usage)
    return events


def _wire(message: ChatMessage) -> dict[str, Any]:
    """A message as the chat completions API takes it."""
    if message.tool_calls:
        calls = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
        return {"role": "assistant", "content": message.content or None, "tool_calls": calls}
    if message.role == "tool":
        return {"role": "tool", "content": message.content, "tool_call_id": message.tool_call_id}
    return {"role": message.role, "content": message.content}


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
