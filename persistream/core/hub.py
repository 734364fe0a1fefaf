"""The process's one link to broadcaster, fanning messages out to in-process watchers.

Why not one broadcaster subscription per observer: broadcaster 0.3.1 loses subscribers when two first
subscriptions to a channel race, keeps unbounded queues, and never recovers once its listener dies. So each
process holds exactly one subscription to one channel, and:
- watchers (one per observer) get bounded queues; one that overflows is marked stale and reads the database;
- a ping published by this process every `ping_interval` must come back; when it does not (the link died
  silently) or the subscription fails, the hub reconnects with backoff and marks every watcher stale so each
  one catches up from the database;
- publishes are serialised (the Postgres backend fails on concurrent publishes) and never raise: pub/sub is a
  hint, the database is the source of truth.
Messages are small JSON objects: {"k": kind, "s": stream id, ...}; kinds are listed in `Kind`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from broadcaster import Broadcast

log = logging.getLogger("persistream.hub")

CHANNEL = "persistream"
# broadcaster's Postgres backend (NOTIFY) refuses payloads of 8000 bytes or more; stay well below.
MAX_PAYLOAD_BYTES = 7000


class Kind:
    CHUNK = "c"  # s, q (seq), e (end offset), d (text; absent when too large to publish)
    STATUS = "s"  # s, st (a live status: STREAMING)
    FINAL = "f"  # s, st (final status)
    CANCEL = "x"  # s: please stop your generation of s
    PING = "p"  # o (origin process), n (nonce)


Message = dict[str, Any]


class Watcher:
    """The queue of one observer: bounded, and marked stale instead of growing."""

    def __init__(self, limit: int) -> None:
        self._items: deque[Message] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.stale = False

    def push(self, message: Message) -> None:
        if len(self._items) >= self._limit:
            self._items.clear()
            self.stale = True
        else:
            self._items.append(message)
        self._wake.set()

    def mark_stale(self) -> None:
        self.stale = True
        self._wake.set()

    async def next(self, timeout: float) -> tuple[list[Message], bool]:
        """Messages since the last call and whether any were lost; ([], True) after `timeout` of silence."""
        if not self._items and not self.stale:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
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
        self._broadcast: Broadcast | None = None
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_ping_seen = 0.0

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, wait: float = 5.0) -> None:
        self._task = asyncio.create_task(self._run(), name="persistream-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)
        if not self.connected:
            log.warning("broadcast link not up after %.1f s; observers will read the database until it is", wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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

    async def publish(self, message: Message) -> bool:
        """Send `message` to every process; False (and logged) when the link is down. Never raises."""
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD_BYTES and "d" in message:
            # Too large for every backend: observers fetch the text from the database instead.
            payload = json.dumps({k: v for k, v in message.items() if k != "d"}, separators=(",", ":"))
        broadcast = self._broadcast
        if broadcast is None or not self.connected:
            return False
        try:
            async with self._publish_lock:
                await asyncio.wait_for(broadcast.publish(CHANNEL, payload), timeout=2.0)
        except Exception as exc:  # the link is a hint; the listener's watchdog handles reconnection
            log.warning("publish failed (%s); observers will catch up from the database", type(exc).__name__)
            return False
        return True

    # --- the listener --------------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.1
        first = True
        loop = asyncio.get_running_loop()
        while True:
            broadcast = Broadcast(self.url)
            try:
                await asyncio.wait_for(broadcast.connect(), timeout=5.0)
                async with broadcast.subscribe(CHANNEL) as subscriber:
                    self._broadcast = broadcast
                    self.connected = True
                    self._last_ping_seen = loop.time()
                    if not first:
                        self.reconnects += 1
                        log.info("broadcast link restored; observers catch up from the database")
                    first = False
                    self._ready.set()
                    # Anything published while the link was down is lost: every watcher re-reads the database.
                    self._mark_all_stale()
                    backoff = 0.1
                    await self._listen(subscriber, loop)
            except asyncio.CancelledError:
                self.connected = False
                await self._close(broadcast)
                raise
            except Exception as exc:
                if self.connected or first:
                    log.warning("broadcast link down (%s: %s); reconnecting", type(exc).__name__, _short(exc))
            self.connected = False
            self._mark_all_stale()
            await self._close(broadcast)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 3.0)

    async def _listen(self, subscriber: Any, loop: asyncio.AbstractEventLoop) -> None:
        pinger = asyncio.create_task(self._ping_forever())
        try:
            while True:
                try:
                    event = await asyncio.wait_for(subscriber.get(), timeout=self.ping_interval)
                except TimeoutError:
                    event = None
                if event is not None:
                    self._dispatch(event.message)
                if loop.time() - self._last_ping_seen > 3 * self.ping_interval:
                    raise ConnectionError("no ping came back: the subscription is dead")
                if pinger.done():
                    pinger.result()  # re-raise what killed it
        finally:
            pinger.cancel()
            with contextlib.suppress(BaseException):
                await pinger

    async def _ping_forever(self) -> None:
        while True:
            await self.publish({"k": Kind.PING, "o": self.process_id})
            await asyncio.sleep(self.ping_interval)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            kind = message["k"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed broadcast message")
            return
        if kind == Kind.PING:
            if message.get("o") == self.process_id:
                self._last_ping_seen = asyncio.get_running_loop().time()
            return
        stream_id = message.get("s")
        if not isinstance(stream_id, str):
            return
        if kind == Kind.CANCEL:
            if self.on_cancel_request is not None:
                self.on_cancel_request(stream_id)
            return
        for watcher in tuple(self._watchers.get(stream_id, ())):
            watcher.push(message)

    def _mark_all_stale(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.mark_stale()

    async def _close(self, broadcast: Broadcast) -> None:
        if self._broadcast is broadcast:
            self._broadcast = None
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(broadcast.disconnect(), timeout=2.0)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""
