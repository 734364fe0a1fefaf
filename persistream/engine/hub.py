"""The process's one link to broadcaster, fanning messages out to in-process watchers.

Why not one broadcaster subscription per observer: broadcaster 0.3.1 loses subscribers when two first
subscriptions to a channel race, keeps unbounded queues, and never recovers once its listener dies. So each
process holds exactly one subscription to one channel, and:
- watchers (one per observer) get bounded queues; one that overflows is marked stale and reads the database;
- `publish` never waits and never raises: it appends to a bounded outbox that one sender task drains in order
  (the Postgres backend fails on concurrent publishes), so a slow or dead link never slows a generation;
- the link is one unit: a failed or stuck publish, a dead subscription, or a ping of this process that does not
  come back within `3 * ping_interval` (the backend's listener died silently) tears it down, and the hub
  reconnects with backoff;
- whenever the link goes down or comes back, every watcher is marked stale, so each observer catches up from the
  database (anything published meanwhile is lost: pub/sub is a hint, the database is the source of truth).
Messages are typed (`engine/messages.py`, which also owns their JSON wire form); malformed ones are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from broadcaster import Broadcast

from persistream.engine.messages import Cancel, Chunk, HubMessage, Ping, decode
from persistream.redact import redact_line
from persistream.retry import Backoff, Retrying

log = logging.getLogger("persistream.hub")

CHANNEL = "persistream"
# broadcaster's Postgres backend (NOTIFY) refuses payloads of 8000 bytes or more; stay well below.
MAX_PAYLOAD_BYTES = 7000
# Seconds allowed to connect and subscribe, for one publish, and for each step of closing a broken link.
CONNECT_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 2.0
CLOSE_TIMEOUT = 1.0
# Reconnection backoff, in seconds: doubles from the first to the last.
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0


class LinkDown(ConnectionError):
    """The broadcast link stopped working; the hub reconnects."""


class Watcher:
    """The queue of one observer: bounded, and marked stale instead of growing."""

    def __init__(self, limit: int) -> None:
        self._items: deque[HubMessage] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.stale = False

    def push(self, message: HubMessage) -> None:
        if len(self._items) >= self._limit:
            self._items.clear()
            self.stale = True
        else:
            self._items.append(message)
        self._wake.set()

    def mark_stale(self) -> None:
        self.stale = True
        self._wake.set()

    async def next(self, timeout: float) -> tuple[list[HubMessage], bool]:
        """Messages since the last call and whether any were lost; ([], True) after `timeout` of silence."""
        if not self._items and not self.stale:
            # Not wait_for: on Python 3.11 it swallows a cancel that lands as the event is set, and an observer whose
            # client has left (Strawberry cancels it) would go on sending events until the stream ends.
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return [], True
        self._wake.clear()
        items = list(self._items)
        self._items.clear()
        stale, self.stale = self.stale, False
        return items, stale


class Hub:
    def __init__(
        self,
        url: str,
        *,
        ping_interval: float = 2.0,
        watcher_limit: int = 1024,
        outbox_limit: int = 10_000,
        on_cancel_request: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.ping_interval = ping_interval
        self.watcher_limit = watcher_limit
        self.on_cancel_request = on_cancel_request
        self.process_id = uuid.uuid4().hex
        self.connected = False
        self.reconnects = 0
        self._watchers: dict[str, set[Watcher]] = {}
        self._outbox: deque[str] = deque(maxlen=outbox_limit)
        self._outbox_wake = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._overflow_logged = False
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_ping_seen = 0.0

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, wait: float = 5.0) -> None:
        self._task = asyncio.create_task(self._run(), name="persistream-hub")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._ready.wait()
        if not self.connected:
            log.warning("broadcast link not up after %.1f s; observers will read the database until it is", wait)

    async def stop(self, drain: float = 1.0) -> None:
        """Send what is still in the outbox (final statuses of the generations just stopped), then disconnect."""
        if self._task is None:
            return
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await self._outbox_empty.wait()
        # Cancel until it is done: a cancel can still be lost inside a library's own wait_for on Python 3.11.
        while not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task], timeout=1.0)
        self._task = None

    # --- watchers ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def watch(self, stream_id: str) -> Iterator[Watcher]:
        watcher = Watcher(self.watcher_limit)
        self._watchers.setdefault(stream_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            watchers = self._watchers.get(stream_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[stream_id]

    @property
    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    # --- publishing ----------------------------------------------------------------------------------------

    async def publish(self, message: HubMessage) -> bool:
        """Queue `message` for every process; False when the link is down (it is dropped). Never waits or raises."""
        payload = message.encode()
        if len(payload.encode()) > MAX_PAYLOAD_BYTES and isinstance(message, Chunk) and message.text is not None:
            # Too large for every backend: observers fetch the text from the database instead.
            payload = message.without_text().encode()
        if not self.connected:
            return False
        self._enqueue(payload)
        return True

    def _enqueue(self, payload: str) -> None:
        if len(self._outbox) == self._outbox.maxlen and not self._overflow_logged:
            # The oldest message is dropped; observers that needed it find the gap and read the database.
            log.warning("broadcast outbox full; dropping the oldest messages")
            self._overflow_logged = True
        self._outbox.append(payload)
        self._outbox_empty.clear()
        self._outbox_wake.set()

    # --- the link ------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        retrying = Retrying(
            Backoff(BACKOFF_FIRST, BACKOFF_MAX),
            on_failing=_link_down,
            on_retry=_reconnect_failed,
            on_recovered=self._restored,
            clock=loop.time,
        )
        while True:
            broadcast = Broadcast(self.url)
            subscription: contextlib.AbstractAsyncContextManager[Any] | None = None
            try:
                # asyncio.timeout, never wait_for: on Python 3.11 wait_for loses a cancel that lands as the awaited
                # call finishes, and a link task that misses its cancel would keep the hub from ever reconnecting.
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await broadcast.connect()
                    subscription = broadcast.subscribe(CHANNEL)
                    subscriber = await subscription.__aenter__()
                self._last_ping_seen = loop.time()
                self.connected = True
                retrying.succeeded()
                self._ready.set()
                # Anything published while the link was down is lost: every watcher re-reads the database.
                self._mark_all_stale()
                await self._serve_link(broadcast, subscriber, loop)
            except asyncio.CancelledError:
                self._link_lost()
                await self._close(broadcast, subscription)
                raise
            except Exception as exc:
                backoff = retrying.failed(exc)  # never gives up
            self._link_lost()
            await self._close(broadcast, subscription)
            await asyncio.sleep(backoff)

    def _restored(self, failures: int, seconds: float) -> None:
        self.reconnects += 1
        log.info("broadcast link restored after %.1f s", seconds)

    async def _serve_link(self, broadcast: Broadcast, subscriber: Any, loop: asyncio.AbstractEventLoop) -> NoReturn:
        """Receive, send and watch the pings until one of them finds the link broken (raises LinkDown)."""
        tasks = [
            asyncio.create_task(self._receive(subscriber)),
            asyncio.create_task(self._send(broadcast)),
            asyncio.create_task(self._watchdog(loop)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise LinkDown("a link task ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _receive(self, subscriber: Any) -> None:
        while True:
            event = await subscriber.get()  # raises broadcaster's Unsubscribed when the subscription ends
            self._dispatch(event.message)

    async def _send(self, broadcast: Broadcast) -> None:
        while True:
            if not self._outbox:
                self._outbox_empty.set()
                self._outbox_wake.clear()
                await self._outbox_wake.wait()
                continue
            payload = self._outbox[0]
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT):
                    await broadcast.publish(CHANNEL, payload)
            except Exception as exc:
                raise LinkDown(f"publish failed: {type(exc).__name__}: {_short(exc)}") from exc
            if self._outbox and self._outbox[0] is payload:
                self._outbox.popleft()

    async def _watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        ping = Ping(self.process_id).encode()
        while True:
            self._enqueue(ping)
            await asyncio.sleep(self.ping_interval)
            if loop.time() - self._last_ping_seen > 3 * self.ping_interval:
                raise LinkDown("no ping came back: the subscription is dead")

    def _dispatch(self, payload: str) -> None:
        message = decode(payload)
        if message is None:
            log.warning("ignored a malformed broadcast message")
        elif isinstance(message, Ping):
            if message.origin == self.process_id:
                self._last_ping_seen = asyncio.get_running_loop().time()
        elif isinstance(message, Cancel):
            if self.on_cancel_request is not None:
                self.on_cancel_request(message.stream_id)
        else:
            for watcher in tuple(self._watchers.get(message.stream_id, ())):
                watcher.push(message)

    def _link_lost(self) -> None:
        self.connected = False
        # Queued messages would reach nobody reliably now; observers catch up from the database instead.
        self._outbox.clear()
        self._outbox_empty.set()
        self._overflow_logged = False
        self._mark_all_stale()

    def _mark_all_stale(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.mark_stale()

    async def _close(
        self, broadcast: Broadcast, subscription: contextlib.AbstractAsyncContextManager[Any] | None
    ) -> None:
        """Close a link that may be half open or dead, each step bounded in time, leaking no task.

        broadcaster 0.3.1's own `disconnect` re-raises its listener's error before closing the backend and fails
        outright after a failed `connect`, so the listener task and the backend are closed here directly.
        """
        if subscription is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await subscription.__aexit__(None, None, None)
        listener: asyncio.Task[None] | None = getattr(broadcast, "_listener_task", None)
        if listener is not None:
            listener.cancel()
            await asyncio.wait([listener], timeout=CLOSE_TIMEOUT)
        backend = getattr(broadcast, "_backend", None)
        if backend is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await backend.disconnect()


def _link_down(exc: Exception) -> None:
    log.warning("broadcast link down (%s: %s); reconnecting", type(exc).__name__, _short(exc))


def _reconnect_failed(exc: Exception, failures: int) -> None:
    if failures > 1:  # the first one said the link is down
        log.debug("broadcast reconnect failed (%s)", type(exc).__name__)


def _short(exc: BaseException) -> str:
    # A link error can quote the broadcast URL, password included.
    return redact_line(str(exc))
