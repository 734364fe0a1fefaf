"""The clients of one run: the driver and the observers, each ONE logical subscriber however many times it has to
resubscribe, and the plain requests (sendMessage, cancelStream, streamBody) with the retries a real client makes.

A subscriber resubscribes the way the clients do: while it has received nothing the driver asks `streamChat`
again; otherwise `streamBody(fromCursor: the last event's cursor)` (the JavaScript client's way, covering every
part) or `streamBody(fromOffset: the TEXT it holds)` (a text-only client's), as its plan says; after a drop it
tries the next process of its group (the one it was on may have been killed), with capped backoff.
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
from bench.chaos.queries import BODY, CANCEL, SEND
from bench.chaos.record import FINAL, Segment, StoredBody, SubscriberRecord
from bench.chaos.transports import Dropped, subscription
from tests.support.gql import SubscriptionError


def next_live(cluster: Cluster, process: str, *, step: bool = False) -> str:
    """`process` (or with `step` the next one of its group) if it answers, else the next of its group that does:
    a killed process is skipped until it is started again."""
    group = cluster.shared if process in cluster.shared else (process,)
    at = group.index(process) + (1 if step else 0)
    for turn in range(len(group)):
        candidate = group[(at + turn) % len(group)]
        if candidate not in cluster.down:
            return candidate
    return process


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
        """`process`, or the next of its group while it is down (killed, not answering yet)."""
        return next_live(self.cluster, process)

    async def sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, self.t0 + at - time.monotonic()))

    def expired(self) -> bool:
        return time.monotonic() > self.deadline


async def request(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    # Plain HTTP: no TLS context to build (up to half a second of this loop on a busy machine, which every run
    # shares: built per request, it made drivers claim too late).
    async with httpx.AsyncClient(timeout=15, verify=False) as client:
        result: dict[str, Any] = (await client.post(url, json={"query": query, "variables": variables})).json()
    return result


async def send_message(
    cluster: Cluster,
    process: str,
    prompt: str,
    history: History,
    deadline: float,
    *,
    thread: str | None = None,
    operation: tuple[str, str, dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """sendMessage (or `operation`: its name, document and variables: regenerate, editMessage), retried (on the
    next process too) until it is answered; the message (id, threadId, responseStreamId, ...) or None. A retry
    after an answer lost on the way may make a second message: the last one made is the run's."""
    name, document, variables = operation or ("sendMessage", SEND, {"prompt": prompt, "thread": thread})
    attempt = 0
    while time.monotonic() < deadline:
        process = next_live(cluster, process)
        try:
            result = await request(cluster.url(process), document, variables)
            if not result.get("errors"):
                message: dict[str, Any] = result["data"][name]
                stream = message["responseStreamId"]
                history.add("client", f"{name} on {process} -> message {message['id']}, stream {stream}")
                return message
            history.add("client", f"{name} on {process} failed: {result['errors']}")
        except (httpx.HTTPError, ValueError) as exc:
            history.add("client", f"{name} on {process} failed: {type(exc).__name__}")
        attempt += 1
        process = next_live(cluster, process, step=True)
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
    return stored_body(result["data"]["streamBody"])


def stored_body(body: dict[str, Any]) -> StoredBody:
    return StoredBody(body["text"], body["status"], body["error"], tuple(body["parts"]), body["cursor"])


class Subscriber:
    def __init__(self, plan: SubscriberPlan, ctx: RunContext) -> None:
        self.plan = plan
        self.ctx = ctx
        self.record = SubscriberRecord(plan.name, plan.driver, plan.transport, resume=plan.resume)
        self._paused = False
        self._cut = plan.cut_at is None

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

    async def _body_now(self, process: str) -> StoredBody | None:
        for _ in range(20):  # the body as it is stored now (through a fault, again)
            body = await read_body(self.ctx.cluster, self.ctx.live(process), self.ctx.stream_id)
            if body is not None:
                return body
            await asyncio.sleep(0.25)
        return None

    async def _start(self, process: str) -> tuple[int, str | None]:
        """Where it starts: (TEXT offset, cursor or None); an observer from a cursor also notes the parts it
        stands after."""
        kind, value = self.plan.start
        if self.plan.driver:
            self.record.start_parts = []
            return 0, None
        if kind == "at":
            return value, None
        if kind == "zero":
            self.record.start_parts = []
            return 0, None
        body = await self._body_now(process)
        if kind == "beyond":
            return (len(body.text) if body else 0) + value, None
        self.record.start_parts = list(body.parts) if body else []
        return (len(body.text), body.cursor) if body else (0, None)

    async def _follow(self) -> None:
        ctx = self.ctx
        process = self.plan.process
        held, cursor = await self._start(process)
        self.record.start = held
        received, attempt = False, 0
        while not ctx.expired():
            process = ctx.live(process)
            drive = self.plan.driver and not received
            operation = "streamChat" if drive else "streamBody"
            segment = Segment(
                process,
                self.plan.transport,
                operation,
                held,
                from_cursor=None if drive else cursor,
                opened=time.monotonic(),
            )
            self.record.segments.append(segment)
            origin = f"cursor {cursor}" if segment.from_cursor else str(held)
            ctx.history.add(
                self.label,
                f"{segment.operation}(from {origin}) on {process} over {self.plan.transport}"
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
                cursor=cursor,
            )
            try:
                async with contextlib.aclosing(events), self._cut_timer():
                    async for event in events:
                        received = True
                        segment.events.append(event)
                        segment.arrived.append(time.monotonic())
                        ctx.history.add(self.label, describe(event))
                        held = event["offset"]
                        if self.plan.resume == "cursor":
                            cursor = event["cursor"]
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
            except TimeoutError:
                self._cut = True
                segment.ending = "cut: its connection was cut on purpose"
            ctx.history.add(self.label, segment.ending)
            attempt += 1
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
            process = next_live(ctx.cluster, process, step=not segment.ending.startswith("cut"))
        self.record.segments.append(Segment(process, self.plan.transport, "none", held, ending="gave up"))
        ctx.history.add(self.label, "gave up at the deadline")

    def _cut_timer(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Cuts the subscription (closing its connection) once, at the planned moment, if it is still on then."""
        if self._cut or self.plan.cut_at is None:
            return contextlib.nullcontext()
        when = self._loop_time(self.plan.cut_at)
        if when <= asyncio.get_running_loop().time():
            self._cut = True  # it joined after the moment: nothing to cut
            return contextlib.nullcontext()
        return asyncio.timeout_at(when)

    async def _maybe_pause(self) -> None:
        at = self.plan.pause_at
        if at is None or self._paused or time.monotonic() < self.ctx.t0 + at:
            return
        self._paused = True
        self.record.paused = self.plan.pause_for
        self.ctx.history.add(self.label, f"stops reading for {self.plan.pause_for:.1f} s")
        await asyncio.sleep(self.plan.pause_for)
        self.ctx.history.add(self.label, "reads again")


def describe(event: dict[str, Any]) -> str:
    """One event as the history shows it: offset, TEXT delta, status, and what it adds to other parts."""
    others = [
        f"[{p['index']} {p['kind']} {short(p['delta'], 30)}]" for p in event.get("parts") or [] if p["kind"] != "TEXT"
    ]
    return (
        f"  {event['offset']:>5} +{short(event['delta'] or '')} {event['status']}"
        + (f" {event['error']!r}" if event.get("error") else "")
        + (" " + " ".join(others) if others else "")
    )
