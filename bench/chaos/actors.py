"""The clients of one run: the driver and the observers, each ONE logical subscriber however many times it has to
resubscribe, and the plain requests (sendMessage, cancelStream, streamBody) with the retries a real client makes.

A subscriber resubscribes the way the JavaScript client does: while it has received nothing the driver asks
`streamChat` again, otherwise `streamBody(fromOffset: the offset it holds)`; after a drop it tries the other
process of the pair (the one it was on may have been killed), with capped backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.chaos.cluster import Cluster
from bench.chaos.history import History, short
from bench.chaos.plan import RunPlan, SubscriberPlan
from bench.chaos.record import FINAL, Segment, StoredBody, SubscriberRecord
from bench.chaos.transports import Dropped, subscription
from tests.support.gql import BODY, CANCEL, SEND, SubscriptionError

OTHER = {"A": "B", "B": "A", "C": "C"}


@dataclass
class RunContext:
    plan: RunPlan
    cluster: Cluster
    history: History
    # Monotonic time the message was sent: every planned moment counts from it.
    t0: float
    # Monotonic time by which every subscriber must have ended and the stream reached a final status.
    deadline: float
    stream_id: str = ""

    def live(self, process: str) -> str:
        """`process`, or its partner while it is down (killed, not answering yet)."""
        return OTHER[process] if process in self.cluster.down else process

    async def sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, self.t0 + at - time.monotonic()))

    def expired(self) -> bool:
        return time.monotonic() > self.deadline


async def request(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=15) as client:
        result: dict[str, Any] = (await client.post(url, json={"query": query, "variables": variables})).json()
    return result


async def send_message(
    cluster: Cluster, process: str, prompt: str, history: History, deadline: float
) -> tuple[str, str] | None:
    """sendMessage, retried (on the partner too) until it is answered; (stream id, process) or None."""
    attempt = 0
    while time.monotonic() < deadline:
        process = OTHER[process] if process in cluster.down else process
        try:
            result = await request(cluster.url(process), SEND, {"prompt": prompt, "thread": None})
            if not result.get("errors"):
                stream_id: str = result["data"]["sendMessage"]["responseStreamId"]
                history.add("client", f"sendMessage on {process} -> stream {stream_id}")
                return stream_id, process
            history.add("client", f"sendMessage on {process} failed: {result['errors']}")
        except (httpx.HTTPError, ValueError) as exc:
            history.add("client", f"sendMessage on {process} failed: {type(exc).__name__}")
        attempt += 1
        process = OTHER[process]
        await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
    return None


async def cancel_stream(ctx: RunContext, process: str, who: str) -> bool:
    """cancelStream, retried a few times through a fault; whether a request was sent at all (any one sent may
    have taken effect, even one whose answer was lost)."""
    sent = False
    for attempt in range(5):
        target = ctx.live(process)
        sent = True
        try:
            result = await request(ctx.cluster.url(target), CANCEL, {"id": ctx.stream_id})
            if not result.get("errors"):
                body = result["data"]["cancelStream"]
                ctx.history.add(who, f"cancelStream on {target} -> {body['status']} with {len(body['text'])} chars")
                return sent
            ctx.history.add(who, f"cancelStream on {target} failed: {result['errors']}")
        except (httpx.HTTPError, ValueError) as exc:
            ctx.history.add(who, f"cancelStream on {target} failed: {type(exc).__name__}")
        await asyncio.sleep(0.2 * (attempt + 1))
    return sent


async def read_body(cluster: Cluster, process: str, stream_id: str) -> StoredBody | None:
    try:
        result = await request(cluster.url(process), BODY, {"id": stream_id})
    except (httpx.HTTPError, ValueError):
        return None
    if result.get("errors"):
        return None
    body = result["data"]["streamBody"]
    return StoredBody(body["text"], body["status"], body["error"])


class Subscriber:
    def __init__(self, plan: SubscriberPlan, ctx: RunContext) -> None:
        self.plan = plan
        self.ctx = ctx
        self.record = SubscriberRecord(plan.name, plan.driver, plan.transport)
        self._paused = False

    @property
    def label(self) -> str:
        return self.plan.name

    async def run(self) -> None:
        await self.ctx.sleep_until(self.plan.join_at)
        if self.plan.leave_at is None:
            await self._follow()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(self._loop_time(self.plan.leave_at)):
                await self._follow()
            return
        self.record.left = True
        if self.record.segments and not self.record.segments[-1].ending:
            self.record.segments[-1].ending = "left"
        self.ctx.history.add(self.label, "leaves on purpose")

    def _loop_time(self, at: float) -> float:
        return asyncio.get_running_loop().time() + (self.ctx.t0 + at - time.monotonic())

    async def _start_offset(self, process: str) -> int:
        kind, value = self.plan.start
        if kind != "beyond":
            return value
        for _ in range(20):  # past the stored length as it is now: read it (through a fault, again)
            body = await read_body(self.ctx.cluster, self.ctx.live(process), self.ctx.stream_id)
            if body is not None:
                return len(body.text) + value
            await asyncio.sleep(0.25)
        return value

    async def _follow(self) -> None:
        ctx = self.ctx
        process = self.plan.process
        start = 0 if self.plan.driver else await self._start_offset(process)
        self.record.start = start
        held, received, attempt = start, False, 0
        while not ctx.expired():
            process = ctx.live(process)
            drive = self.plan.driver and not received
            segment = Segment(process, self.plan.transport, "streamChat" if drive else "streamBody", held)
            self.record.segments.append(segment)
            ctx.history.add(
                self.label,
                f"{segment.operation}(from {held}) on {process} over {self.plan.transport}"
                + (" (again)" if attempt else ""),
            )
            server = ctx.cluster.servers[process]
            events = subscription(
                server.graphql_http,
                server.graphql_ws,
                self.plan.transport,
                ctx.stream_id,
                drive=drive,
                offset=held,
            )
            try:
                async with contextlib.aclosing(events):
                    async for event in events:
                        received = True
                        segment.events.append(event)
                        segment.arrived.append(time.monotonic())
                        ctx.history.add(
                            self.label,
                            f"  {event['offset']:>5} +{short(event['delta'] or '')} {event['status']}"
                            + (f" {event['error']!r}" if event.get("error") else ""),
                        )
                        held = event["offset"]
                        if event["status"] in FINAL:
                            segment.ending = "completed"
                            return
                        await self._maybe_pause()
                segment.ending = "dropped: ended without a final event"
            except SubscriptionError as exc:
                segment.ending = f"error: {exc.code} {exc.errors[0].get('message') if exc.errors else ''}"
            except Dropped as exc:
                segment.ending = f"dropped: {exc}"
            except AssertionError as exc:  # the HTTP framing parser refused what the server sent
                segment.ending = f"error: bad framing {exc}"
            ctx.history.add(self.label, segment.ending)
            attempt += 1
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
            process = OTHER[process]
        self.record.segments.append(Segment(process, self.plan.transport, "none", held, ending="gave up"))
        ctx.history.add(self.label, "gave up at the deadline")

    async def _maybe_pause(self) -> None:
        at = self.plan.pause_at
        if at is None or self._paused or time.monotonic() < self.ctx.t0 + at:
            return
        self._paused = True
        self.record.paused = self.plan.pause_for
        self.ctx.history.add(self.label, f"stops reading for {self.plan.pause_for:.1f} s")
        await asyncio.sleep(self.plan.pause_for)
        self.ctx.history.add(self.label, "reads again")
