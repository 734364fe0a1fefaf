"""The process's one link to the broadcast backend, fanning messages out to in-process watchers.

Interest-based: a process listens to the control channel (cancel requests, its own pings) and, for each stream it
has an observer of, to that stream's channel (`engine/interest.py`), subscribed on the first local follower and
dropped after the last. A process with no observers hears no chunk of any answer, however busy the cluster is.

Why one link of our own over broadcaster's backends, not `Broadcast.subscribe` per channel: broadcaster 0.3.1 loses
subscribers when two first subscriptions to a channel race, keeps unbounded queues, never recovers once its
listener dies, and would need a task per subscription. The hub drives the backend (Redis, PostgreSQL NOTIFY,
memory) itself: one connection, any number of channels, one receiving task. And:
- watchers (one per followed stream) get bounded queues; one that overflows is marked stale and reads the database;
- `publish` never waits and never raises: it appends to a bounded outbox that one sender task drains in order, and
  the same task subscribes and unsubscribes channels (the PostgreSQL backend fails on concurrent commands), so a
  slow or dead link never slows a generation;
- a stream channel counts only once *confirmed*: the hub publishes a probe on it and waits for it to come back;
  its followers read the database after that, and again whenever the channel is confirmed anew;
- the link is one unit: a failed or stuck command, or a ping of this process that does not come back within
  `3 * ping_interval` (the backend's listener died silently) tears it down, and the hub reconnects with backoff
  and subscribes every channel again;
- whenever the link goes down, every watcher is marked stale, so each follower catches up from the database
  (anything published meanwhile is lost: pub/sub is a hint, the database is the source of truth).
Messages are typed (`engine/messages.py`, which also owns their JSON wire form); malformed ones are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn

from broadcaster import Broadcast

from persistream.engine.interest import CONTROL_CHANNEL, Interest, Watcher, stream_channel
from persistream.engine.messages import Cancel, Chunk, HubMessage, Ping, decode
from persistream.redact import redact_line
from persistream.retry import Backoff, Retrying

log = logging.getLogger("persistream.hub")

# The control channel keeps the name of the single channel of earlier versions (see docs/scaling.md, rolling deploy).
CHANNEL = CONTROL_CHANNEL
# broadcaster's Postgres backend (NOTIFY) refuses payloads of 8000 bytes or more; stay well below.
MAX_PAYLOAD_BYTES = 7000
# Seconds allowed to connect and subscribe, for one command (publish, subscribe), and for each step of closing.
CONNECT_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 2.0
CLOSE_TIMEOUT = 1.0
# Reconnection backoff, in seconds: doubles from the first to the last.
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0
# Seconds before a probe that has not come back is sent again (Redis may apply a publish from another connection
# before the SUBSCRIBE it received first; the probe is then lost, not the guarantee).
PROBE_RETRY = 0.2


class LinkDown(ConnectionError):
    """The broadcast link stopped working; the hub reconnects."""


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
        self._interests: dict[str, Interest] = {}  # by stream id
        self._by_channel: dict[str, Interest] = {}
        self._unconfirmed: set[Interest] = set()  # to subscribe and probe on the current link
        self._leaving: set[str] = set()  # channels nobody here follows any more: to unsubscribe
        self._subscribed: set[str] = set()  # stream channels subscribed on the current link
        self._probe_ids = itertools.count(1)
        self._probe_due = 0.0
        self._outbox: deque[tuple[str, str]] = deque(maxlen=outbox_limit)
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
        """Follow `stream_id`: the first watcher of a stream subscribes its channel, the last one drops it."""
        interest = self._interests.get(stream_id)
        if interest is None:
            interest = self._interests[stream_id] = Interest(stream_id)
            self._by_channel[interest.channel] = interest
            self._leaving.discard(interest.channel)
            self._unconfirmed.add(interest)
            self._probe_due = 0.0
            self._outbox_wake.set()
        watcher = Watcher(self.watcher_limit, interest.confirmed)
        interest.watchers.add(watcher)
        try:
            yield watcher
        finally:
            interest.watchers.discard(watcher)
            if not interest.watchers and self._interests.get(stream_id) is interest:
                del self._interests[stream_id]
                del self._by_channel[interest.channel]
                self._unconfirmed.discard(interest)
                self._leaving.add(interest.channel)
                self._outbox_wake.set()

    @property
    def watcher_count(self) -> int:
        return sum(len(i.watchers) for i in self._interests.values())

    # --- publishing ----------------------------------------------------------------------------------------

    async def publish(self, message: HubMessage) -> bool:
        """Queue `message` for the processes that follow it (cancels and pings: all of them); False when the link
        is down (it is dropped). Never waits or raises."""
        payload = message.encode()
        if len(payload.encode()) > MAX_PAYLOAD_BYTES and isinstance(message, Chunk) and message.text is not None:
            # Too large for every backend: observers fetch the text from the database instead.
            payload = message.without_text().encode()
        if not self.connected:
            return False
        channel = CONTROL_CHANNEL if isinstance(message, Cancel | Ping) else stream_channel(message.stream_id)
        self._enqueue(channel, payload)
        return True

    def _enqueue(self, channel: str, payload: str) -> None:
        if len(self._outbox) == self._outbox.maxlen and not self._overflow_logged:
            # The oldest message is dropped; observers that needed it find the gap and read the database.
            log.warning("broadcast outbox full; dropping the oldest messages")
            self._overflow_logged = True
        self._outbox.append((channel, payload))
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
            # broadcaster's backend for the URL (Redis, PostgreSQL NOTIFY, memory), driven directly: see above.
            backend: Any = Broadcast(self.url)._backend
            try:
                # asyncio.timeout, never wait_for: on Python 3.11 wait_for loses a cancel that lands as the awaited
                # call finishes, and a link task that misses its cancel would keep the hub from ever reconnecting.
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await backend.connect()
                    await backend.subscribe(CONTROL_CHANNEL)
                self._last_ping_seen = loop.time()
                self.connected = True
                retrying.succeeded()
                self._ready.set()
                self._probe_due = 0.0  # every followed stream's channel is subscribed again, and confirmed
                await self._serve_link(backend, loop)
            except asyncio.CancelledError:
                self._link_lost()
                await _close(backend)
                raise
            except Exception as exc:
                backoff = retrying.failed(exc)  # never gives up
            self._link_lost()
            await _close(backend)
            await asyncio.sleep(backoff)

    def _restored(self, failures: int, seconds: float) -> None:
        self.reconnects += 1
        log.info("broadcast link restored after %.1f s", seconds)

    async def _serve_link(self, backend: Any, loop: asyncio.AbstractEventLoop) -> NoReturn:
        """Receive, send and watch the pings until one of them finds the link broken (raises LinkDown)."""
        tasks = [
            asyncio.create_task(self._receive(backend)),
            asyncio.create_task(self._send(backend, loop)),
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

    async def _receive(self, backend: Any) -> None:
        while True:
            event = await backend.next_published()
            self._dispatch(event.message, event.channel)

    async def _send(self, backend: Any, loop: asyncio.AbstractEventLoop) -> None:
        """The one task that talks to the backend: channel changes first, then the outbox, in order."""
        while True:
            if self._leaving or (self._unconfirmed and loop.time() >= self._probe_due):
                await self._sync_channels(backend, loop)
            if not self._outbox:
                self._outbox_empty.set()
                self._outbox_wake.clear()
                if self._leaving or (self._unconfirmed and loop.time() >= self._probe_due):
                    continue
                wait = max(0.0, self._probe_due - loop.time()) if self._unconfirmed else None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._outbox_wake.wait()
                continue
            channel, payload = self._outbox[0]
            await _command(backend.publish(channel, payload), "publish")
            if self._outbox and self._outbox[0][1] is payload:
                self._outbox.popleft()

    async def _sync_channels(self, backend: Any, loop: asyncio.AbstractEventLoop) -> None:
        """Drop the channels nobody follows any more; subscribe and probe the unconfirmed ones (again, for a probe
        that has not come back within PROBE_RETRY)."""
        leaving, self._leaving = self._leaving, set()
        for channel in leaving:
            if channel in self._subscribed and channel not in self._by_channel:
                self._subscribed.discard(channel)
                await _command(backend.unsubscribe(channel), "unsubscribe")
        now = loop.time()
        self._probe_due = now + PROBE_RETRY
        for interest in tuple(self._unconfirmed):
            probed_lately = interest.probe is not None and interest.probed_at > now - PROBE_RETRY
            if interest not in self._unconfirmed or probed_lately:
                continue  # confirmed or dropped meanwhile, or probed a moment ago
            if interest.channel not in self._subscribed:
                self._subscribed.add(interest.channel)
                await _command(backend.subscribe(interest.channel), "subscribe")
            if interest.probe is None:  # a new subscription on this link: a probe of its own
                interest.probe = f"{self.process_id}.{next(self._probe_ids)}"
            interest.probed_at = now
            await _command(backend.publish(interest.channel, Ping(interest.probe).encode()), "publish")

    async def _watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        ping = Ping(self.process_id).encode()
        while True:
            self._enqueue(CONTROL_CHANNEL, ping)
            await asyncio.sleep(self.ping_interval)
            if loop.time() - self._last_ping_seen > 3 * self.ping_interval:
                raise LinkDown("no ping came back: the subscription is dead")

    def _dispatch(self, payload: str, channel: str = CONTROL_CHANNEL) -> None:
        message = decode(payload)
        if message is None:
            log.warning("ignored a malformed broadcast message")
        elif isinstance(message, Ping):
            if channel == CONTROL_CHANNEL:
                if message.origin == self.process_id:
                    self._last_ping_seen = asyncio.get_running_loop().time()
                return
            interest = self._by_channel.get(channel)
            if interest is not None and interest.probe == message.origin and interest in self._unconfirmed:
                self._unconfirmed.discard(interest)
                interest.confirm()
        elif isinstance(message, Cancel):
            if self.on_cancel_request is not None:
                self.on_cancel_request(message.stream_id)
        else:
            # Chunks and statuses come on their stream's channel; a process of an earlier version sends them on the
            # control channel, and they are delivered all the same.
            interest = self._interests.get(message.stream_id)
            for watcher in tuple(interest.watchers) if interest is not None else ():
                watcher.push(message)

    def _link_lost(self) -> None:
        self.connected = False
        # Queued messages would reach nobody reliably now; observers catch up from the database instead.
        self._outbox.clear()
        self._outbox_empty.set()
        self._overflow_logged = False
        self._subscribed.clear()
        self._leaving.clear()
        for interest in self._interests.values():
            interest.unconfirm()  # marks its watchers stale
            self._unconfirmed.add(interest)


async def _command(operation: Awaitable[Any], what: str) -> None:
    """One command to the backend, bounded in time; any failure takes the link down."""
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await operation
    except Exception as exc:
        raise LinkDown(f"{what} failed: {type(exc).__name__}: {_short(exc)}") from exc


async def _close(backend: Any) -> None:
    """Close a backend that may be half open or dead, each step bounded in time, leaking no task (the Redis
    backend's own listener task is cancelled here too: its `disconnect` may not get that far)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await backend.disconnect()
    listener: asyncio.Task[None] | None = getattr(backend, "_listener", None)
    if isinstance(listener, asyncio.Task):
        listener.cancel()
        await asyncio.wait([listener], timeout=CLOSE_TIMEOUT)


def _link_down(exc: Exception) -> None:
    log.warning("broadcast link down (%s: %s); reconnecting", type(exc).__name__, _short(exc))


def _reconnect_failed(exc: Exception, failures: int) -> None:
    if failures > 1:  # the first one said the link is down
        log.debug("broadcast reconnect failed (%s)", type(exc).__name__)


def _short(exc: BaseException) -> str:
    # A link error can quote the broadcast URL, password included.
    return redact_line(str(exc))
