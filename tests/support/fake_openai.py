"""An OpenAI-compatible chat completions server for tests, speaking the real streaming wire format
(server-sent events of `chat.completion.chunk`, then `data: [DONE]`), so the real openai SDK runs against it.

What it answers is chosen by a marker in the last user message: `script(name)` picks a registered `Script`;
anything else gets the default script. A script can say more than text (`deltas`: reasoning under each name servers
use, tool-call fragments split across frames, several calls interleaved; `usage`), and can be followed by another
for the next request with the same marker (`then`: a tool loop's next step, whose last message is a tool result).
Every request is recorded, its whole body too, with when its connection closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.net import free_port

MARKER = re.compile(r"script\(([\w.-]+)\)")
SURROGATE = re.compile("[\ud800-\udfff]")
SECRET_KEY = "sk-test-SECRET-key-0123456789abcdef"


@dataclass
class Script:
    tokens: list[str]
    delay: float = 0.0
    # Before the first token, answer with this HTTP status and an error body instead of a stream.
    fail_status: int | None = None
    # After this many tokens, send an error frame (`data: {"error": ...}`) and end the stream.
    error_after: int | None = None
    # After this many tokens, send nothing more but keep the connection open.
    hang_after: int | None = None
    # Each token is replaced by the wall-clock time it is sent (`"1733100000.123456 "`), to measure latency.
    stamped: bool = False
    # With `stamped`: each stamp padded to this many characters and ending a line, so a server stores (and publishes)
    # each token as a chunk of its own.
    line: int = 0
    # Send every frame in pieces of this many bytes (splitting lines, CRLFs and UTF-8 sequences across reads).
    split_bytes: int | None = None
    # End lines with CRLF instead of LF.
    crlf: bool = False
    # After the last token start again from the first, for ever: a model that never sends `[DONE]`.
    forever: bool = False
    # `(every, seconds)`: after each `every` tokens, send nothing for `seconds` (a model that stops to think).
    pause: tuple[int, float] | None = None
    # Tokens carry raw bytes: each surrogate-escaped code point (U+DC80..U+DCFF, what
    # `data.decode("utf-8", "surrogateescape")` makes of a byte that is not UTF-8) goes on the wire as that very byte,
    # inside the JSON string, so the body is not valid UTF-8. Without it a lone surrogate is sent as a JSON escape.
    raw_bytes: bool = False
    # After the tokens, open a data line and never end it: `x` for ever (64 KiB a millisecond), no line ending.
    endless_line: bool = False
    # After this many tokens, break the connection: no `[DONE]`, not even the end of the chunked body.
    drop_after: int | None = None
    # Deltas sent as they are, one frame each, before the tokens: `{"reasoning_content": ...}`, `{"tool_calls": [...]}`
    # (see `tool_call_deltas`), `{"content": ...}` for text between them.
    deltas: list[dict[str, Any]] = field(default_factory=list)
    # The usage chunk (`choices: []`) sent last, when the request asked for it (`stream_options.include_usage`).
    usage: dict[str, Any] | None = None
    finish_reason: str = "stop"
    # After the role frame, send nothing for this many seconds before the first delta (a model that thinks first).
    first_delay: float = 0.0
    # The script of the next request whose last user message holds the same marker (then the one after, ...; the
    # last one answers every request after it).
    then: Script | None = None


@dataclass
class Recorded:
    messages: list[dict[str, Any]]
    model: str
    authorization: str | None
    started: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    tokens_sent: int = 0
    finished: bool = False
    # The request's `max_tokens`, None when it sent none.
    max_tokens: int | None = None
    # The whole request body, as JSON.
    body: dict[str, Any] = field(default_factory=dict)


class DroppedOnPurpose(Exception):
    """Raised inside a response a script breaks off: uvicorn then closes the connection mid-body."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for a connection a script broke on purpose, or one its client
    dropped before the request was read (a server process killed mid-request): the request is then not recorded."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedOnPurpose | ClientDisconnect))


def tool_call_deltas(
    calls: list[tuple[str | None, str, str]], *, pieces: int = 3, interleave: bool = False
) -> list[dict[str, Any]]:
    """Deltas of tool calls `(id or None, name, arguments)`, each call's arguments cut into `pieces` fragments, the
    first fragment carrying the id (when given) and the name; the calls one after the other, or `interleave`d
    (call 0's first fragment, call 1's first, call 0's second, ...)."""
    per_call = []
    for index, (call_id, name, arguments) in enumerate(calls):
        size = -(-len(arguments) // pieces) or 1
        cuts = [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
        fragments: list[dict[str, Any]] = []
        for n, cut in enumerate(cuts):
            fragment: dict[str, Any] = {"index": index, "function": {"arguments": cut}}
            if n == 0:
                fragment["type"] = "function"
                fragment["function"]["name"] = name
                if call_id is not None:
                    fragment["id"] = call_id
            fragments.append({"tool_calls": [fragment]})
        per_call.append(fragments)
    if not interleave:
        return [delta for fragments in per_call for delta in fragments]
    longest = max((len(f) for f in per_call), default=0)
    return [fragments[n] for n in range(longest) for fragments in per_call if n < len(fragments)]


def stamp(line: int = 0) -> str:
    """The wall-clock time now, as a stamped token; with `line`, padded to that many characters and ending a line."""
    head = f"{time.time():.6f} "
    return head + "x" * max(0, line - len(head) - 1) + "\n" if line else head


def last_user_content(messages: list[dict[str, Any]]) -> str:
    """What the marker is looked for in: the last user message (after it may come a tool loop's messages)."""
    users = [m for m in messages if m.get("role") == "user"]
    return str((users or messages or [{}])[-1].get("content", ""))


def default_tokens(prompt: str) -> list[str]:
    words = f"You said: {prompt}. This is a scripted answer. It has three sentences!".split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class FakeOpenAI:
    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.requests: list[Recorded] = []
        # Authorization headers of `GET /v1/models` requests (what the provider's start-up warm-up sends).
        self.model_list_requests: list[str | None] = []
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, name: str, script: Script) -> str:
        """Register a script; returns the marker to put in a prompt."""
        self.scripts[name] = script
        return f"script({name})"

    def requests_for(self, name: str) -> list[Recorded]:
        marker = f"script({name})"
        return [r for r in self.requests if r.messages and marker in last_user_content(r.messages)]

    # --- serving -------------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI application alone, for a caller that serves it in a process of its own."""
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def start(self) -> None:
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _models(self, request: Request) -> Response:
        self.model_list_requests.append(request.headers.get("authorization"))
        return JSONResponse({"object": "list", "data": [{"id": "test-model", "object": "model", "owned_by": "test"}]})

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        record = Recorded(
            body["messages"],
            body.get("model", ""),
            request.headers.get("authorization"),
            max_tokens=body.get("max_tokens"),
            body=body,
        )
        last = last_user_content(body["messages"])
        match = MARKER.search(last)
        script = self.scripts.get(match.group(1)) if match else None
        if match and script is not None:
            for _ in self.requests_for(match.group(1)):  # the n-th request of a script gets its n-th `then`
                script = script.then or script
        if script is None:
            script = Script(default_tokens(last))
        self.requests.append(record)
        if script.fail_status is not None:
            record.closed_at = time.monotonic()
            return JSONResponse(
                {
                    "error": {
                        "message": f"Upstream failure; key {SECRET_KEY} rejected",
                        "type": "server_error",
                    }
                },
                status_code=script.fail_status,
            )
        usage = script.usage if (body.get("stream_options") or {}).get("include_usage") else None
        frames = self._stream(script, record, body.get("model", "m"), usage)
        return StreamingResponse(self._wire(script, frames), media_type="text/event-stream")

    async def _wire(self, script: Script, frames: AsyncIterator[str]) -> AsyncIterator[bytes]:
        """The frames as bytes on the wire, with the script's line endings and network-read boundaries."""
        async for text in frames:
            data = (text.replace("\n", "\r\n") if script.crlf else text).encode(
                "utf-8", "surrogateescape" if script.raw_bytes else "strict"
            )
            if script.split_bytes is None:
                yield data
                continue
            for start in range(0, len(data), script.split_bytes):
                yield data[start : start + script.split_bytes]
                await asyncio.sleep(0)  # each piece its own write

    async def _stream(
        self, script: Script, record: Recorded, model: str, usage: dict[str, Any] | None
    ) -> AsyncIterator[str]:
        created = int(time.time())

        def frame(delta: dict[str, Any] | None, finish: str | None = None) -> str:
            chunk: dict[str, Any] = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if delta is None:
                chunk["usage"] = usage
            text = json.dumps(chunk, ensure_ascii=False)
            if not script.raw_bytes and SURROGATE.search(text):
                text = json.dumps(chunk)  # UTF-8 cannot carry a lone surrogate: only a JSON escape can
            return f"data: {text}\n\n"

        def tokens() -> Iterator[str]:
            yield from script.tokens
            while script.forever and script.tokens:
                yield from script.tokens

        try:
            yield frame({"role": "assistant", "content": ""})
            if script.first_delay:
                await asyncio.sleep(script.first_delay)
            for delta in script.deltas:
                if script.delay:
                    await asyncio.sleep(script.delay)
                yield frame(delta)
            for index, token in enumerate(tokens()):
                if script.error_after is not None and index == script.error_after:
                    error = {"error": {"message": f"model overloaded; key {SECRET_KEY}", "type": "server_error"}}
                    yield f"data: {json.dumps(error)}\n\n"
                    return
                if script.drop_after is not None and index == script.drop_after:
                    raise DroppedOnPurpose
                if script.hang_after is not None and index == script.hang_after:
                    await asyncio.sleep(3600)
                if script.delay:
                    await asyncio.sleep(script.delay)
                if script.pause is not None and index and index % script.pause[0] == 0:
                    await asyncio.sleep(script.pause[1])
                elif script.forever and not script.delay:
                    await asyncio.sleep(0)  # a tight endless loop would starve this server's other requests
                yield frame({"content": stamp(script.line) if script.stamped else token})
                record.tokens_sent += 1
            if script.endless_line:
                yield 'data: {"choices": [{"index": 0, "delta": {"content": "'
                while True:
                    yield "x" * 65536
                    await asyncio.sleep(0.001)
            yield frame({}, script.finish_reason)
            if usage is not None:
                yield frame(None)
            yield "data: [DONE]\n\n"
            record.finished = True
        finally:
            record.closed_at = time.monotonic()
