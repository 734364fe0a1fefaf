"""GraphQL subscriptions over plain HTTP, read off the wire with httpx: Server-Sent Events (`graphql-sse`'s
"distinct connections" mode) and multipart (`multipart/mixed;subscriptionSpec=1.0`, what Apollo's HttpLink asks
for). The parsers are strict on purpose: they are how the tests pin the exact framing the server sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

SSE_ACCEPT = "text/event-stream"
MULTIPART_ACCEPT = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'


@dataclass
class HTTPStream:
    """What one HTTP subscription received: the response head, and each frame as raw text and parsed."""

    status: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    raw: str = ""
    frames: list[tuple[str, Any]] = field(default_factory=list)  # (kind, payload): next/complete/ping

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [p for kind, p in self.frames if kind == "next"]

    def events(self, field_name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for payload in self.payloads:
            assert not payload.get("errors"), payload
            events.append(payload["data"][field_name])
        return events


def parse_sse(text: str) -> tuple[list[tuple[str, Any]], str]:
    """Complete SSE blocks of `text` (each ends with a blank line, lines end CRLF) and the unparsed rest."""
    frames: list[tuple[str, Any]] = []
    while (end := text.find("\r\n\r\n")) >= 0:
        block, text = text[:end], text[end + 4 :]
        lines = block.split("\r\n")
        if all(line.startswith(":") for line in lines):
            frames.append(("ping", None))
            continue
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        kind, data = lines[0][7:], lines[1][6:]
        frames.append((kind, json.loads(data) if data else None))
    return frames, text


def parse_multipart(text: str) -> tuple[list[tuple[str, Any]], str, bool]:
    """Complete parts of a multipart subscription body: (frames, unparsed rest, whether the closing boundary came).
    A part is `Content-Type` and `Content-Length` headers, a blank line and a JSON object: `{"payload": ...}` for
    an event, `{}` for a heartbeat."""
    frames: list[tuple[str, Any]] = []
    while True:
        if text.startswith("\r\n--graphql--"):
            return frames, text, True
        start = text.find("Content-Type: application/json; charset=utf-8\r\n")
        if start < 0:
            return frames, text, False
        head_end = text.find("\r\n\r\n", start)
        if head_end < 0:
            return frames, text, False
        length = int(text[start:head_end].split("Content-Length: ")[1])
        body_start = head_end + 4
        body_bytes = text[body_start:].encode()
        if len(body_bytes) < length + len("\r\n--graphql"):
            return frames, text, False
        body = body_bytes[:length].decode()
        rest = body_bytes[length:].decode()
        assert rest.startswith("\r\n--graphql"), rest[:40]
        obj = json.loads(body)
        frames.append(("next", obj["payload"]) if "payload" in obj else ("ping", obj))
        text = rest[len("\r\n--graphql") :]


async def subscribe_http(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    multipart: bool = False,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> AsyncIterator[HTTPStream]:
    """Yield the growing HTTPStream after each frame; ends when the server ends the response."""
    accept = MULTIPART_ACCEPT if multipart else SSE_ACCEPT
    result = HTTPStream()
    body = {"query": query, "variables": variables or {}}
    # Plain HTTP: no TLS context to build (half a second of the caller's event loop on a busy machine, enough to
    # make every subscription of a many-client test late).
    async with (
        httpx.AsyncClient(timeout=timeout, verify=False) as client,
        client.stream("POST", url, json=body, headers={"accept": accept, **(headers or {})}) as response,
    ):
        result.status, result.headers = response.status_code, response.headers
        pending = ""
        async for chunk in response.aiter_text():
            result.raw += chunk
            pending += chunk
            if multipart:
                frames, pending, _ = parse_multipart(pending)
            else:
                frames, pending = parse_sse(pending)
            for frame in frames:
                result.frames.append(frame)
                yield result
        assert pending.strip() in ("", "--graphql--"), pending
        yield result


async def run_http(url: str, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> HTTPStream:
    """The whole of one HTTP subscription."""
    result = HTTPStream()
    async for result in subscribe_http(url, query, variables, **kwargs):  # noqa: B007
        pass
    return result
