"""One follower per stream per process: it alone consumes the hub's messages for its stream and turns them into
shared, immutable steps that every observer of the stream in this process receives.

Why: with one hub watcher per observer, a chunk watched by N observers was applied N times, a lost message sent
N observers to the database, and every idle observer woke each second to read it. Now, for each stream with at
least one observer here, exactly one `Feed`:
- holds the stream's one hub watcher and applies messages strictly in sequence (`last_seq + 1`, text ending where
  the stored text ends); a gap, a message without text, a stale watcher (overflow, or the hub's link failed, went
  silent or came back), a final status, or a failed read sends *the feed* to the database: one read per stream,
  not one per observer;
- guards against a publish lost while the link looks healthy with one slow check: a read after `check_interval`
  of silence, per live stream, whatever the number of observers (idle observers themselves have no timer);
- publishes a `Step` per change, whose `event` (a StreamEvent at the stream's stored length) is the very object
  every caught-up observer yields, so the web layer can render it once for all of them;
- ends after a final step (or a deleted stream), which it keeps: an observer that subscribes later gets it at once.
The feed is created by the first subscription and stopped when the last one leaves. Subscriptions are bounded:
one that falls `limit` steps behind (its client reads slowly) is marked overflowed and its observer catches up
from the database, so a slow observer costs memory of its own only, and never delays the feed or the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from persistream.db import streams
from persistream.db.database import Database
from persistream.engine.events import StreamEvent, StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.messages import Chunk, HubMessage, Status

log = logging.getLogger("persistream.feed")

# Seconds between attempts of a feed whose database read failed (a restart): bounded, so nobody waits forever.
READ_RETRY = 0.5


@dataclass(frozen=True, slots=True)
class Step:
    """One change of a stream as stored: chunks `first_seq..last_seq` (none for a status-only step) took the
    stored text from `start` to `event.offset` code points; `event.delta` is exactly that text."""

    first_seq: int
    last_seq: int
    start: int
    event: StreamEvent
    deleted: bool = False


class Subscription:
    """One observer's bounded queue of steps; it never blocks the feed."""

    def __init__(self, feed: Feed, limit: int) -> None:
        self.feed = feed
        self._steps: deque[Step] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.overflowed = False

    def push(self, step: Step) -> None:
        if step.event.status.is_final or len(self._steps) < self._limit:
            self._steps.append(step)  # a final step is always kept: it ends the observer
        else:
            self._steps.clear()
            self.overflowed = True
        self._wake.set()

    async def next(self, timeout: float | None = None) -> tuple[list[Step], bool]:
        """Steps since the last call and whether some were dropped (read the database); ([], False) on timeout."""
        if not self._steps and not self.overflowed:
            if timeout is None:  # the usual case: no timer at all
                await self._wake.wait()
            else:
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    return [], False
        self._wake.clear()
        steps = list(self._steps)
        self._steps.clear()
        overflowed, self.overflowed = self.overflowed, False
        return steps, overflowed


class Feed:
    """The follower of one stream in this process. Its state (`last_seq`, `length`, `status`) is the stored
    stream's as far as the hub and the database have told it; it never goes back."""

    def __init__(self, db: Database, hub: Hub, stream_id: str, check_interval: float) -> None:
        self.db = db
        self.hub = hub
        self.stream_id = stream_id
        self.check_interval = check_interval
        self.subscriptions: set[Subscription] = set()
        self.final: Step | None = None
        self.last_seq = 0
        self.length = 0
        self.status = StreamStatus.PENDING
        self.reads = 0  # database reads by this feed, for tests and the health page
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"feed-{self.stream_id}")

    async def _run(self) -> None:
        # The watcher is registered before the first read, so nothing published after that read is missed.
        with self.hub.watch(self.stream_id) as watcher:
            while not await self._first_read():  # noqa: ASYNC110 (a retry timer, not waiting on a condition)
                await asyncio.sleep(READ_RETRY)
            must_read = False
            while self.final is None:
                timeout = READ_RETRY if must_read else self.check_interval
                messages, stale = await watcher.next(timeout)
                # Silence for `check_interval` arrives here as stale: the one slow check of this stream.
                step = _Builder(self)
                must_read |= stale
                try:
                    for message in messages:
                        must_read |= step.apply(message)
                    if must_read:
                        must_read = not await step.read()
                    self._publish(step.build())
                except Exception as exc:  # a bug here must not leave every observer of the stream waiting
                    log.error("stream %s: feed step failed (%s); reading again", self.stream_id, type(exc).__name__)
                    must_read = True

    async def _first_read(self) -> bool:
        try:
            row = await streams.get_stream(self.db, self.stream_id)
        except Exception as exc:
            log.debug("stream %s: feed read failed (%s); retrying", self.stream_id, type(exc).__name__)
            return False
        finally:
            self.reads += 1
        if row is None:
            self._publish(Step(1, 0, 0, StreamEvent(self.stream_id, "", 0, StreamStatus.CANCELLED), deleted=True))
            return True
        self.last_seq, self.length, self.status = row.last_seq, row.length, StreamStatus(row.status)
        if self.status.is_final:
            event = StreamEvent(self.stream_id, "", self.length, self.status, row.error)
            self._publish(Step(self.last_seq + 1, self.last_seq, self.length, event))
        return True

    def _publish(self, step: Step | None) -> None:
        if step is None:
            return
        if step.event.status.is_final or step.deleted:
            self.final = step
        for subscription in tuple(self.subscriptions):
            subscription.push(step)


class _Builder:
    """What one wake-up of a feed adds: messages applied in place, then maybe a database read."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.first_seq = feed.last_seq + 1
        self.start = feed.length
        self.status_before = feed.status
        self.parts: list[str] = []
        self.error: str | None = None
        self.deleted = False

    def apply(self, message: HubMessage) -> bool:
        """Apply one hub message; True when the database must be read (gap, no text, final, unknown)."""
        feed = self.feed
        if isinstance(message, Chunk):
            if message.seq <= feed.last_seq:
                return False  # already applied
            if message.seq != feed.last_seq + 1 or message.text is None:
                return True
            if message.end - len(message.text) != feed.length:
                return True  # does not continue the text as this feed knows it: the database decides
            self.parts.append(message.text)
            feed.last_seq, feed.length = message.seq, message.end
            if feed.status == StreamStatus.PENDING:
                feed.status = StreamStatus.STREAMING
            return False
        if isinstance(message, Status):
            if feed.status == StreamStatus.PENDING and message.status == StreamStatus.STREAMING:
                feed.status = StreamStatus.STREAMING
            return False
        # A final status (or anything unknown) is confirmed from the database with every chunk before it.
        return True

    async def read(self) -> bool:
        """Catch up from the database; False when the read failed (the feed retries shortly)."""
        feed = self.feed
        try:
            fresh = await streams.read_after_seq(feed.db, feed.stream_id, feed.last_seq)
        except Exception as exc:
            # The database is away for a moment: stay subscribed and read again soon, instead of failing every
            # observer of the stream.
            log.debug("stream %s: feed read failed (%s); retrying", feed.stream_id, type(exc).__name__)
            return False
        finally:
            feed.reads += 1
        if fresh is None:  # deleted while observed: it was cancelled first
            self.deleted = True
            return True
        for chunk in fresh.chunks:
            # By offsets, not by seq + 1: a finished stream's chunks may have been compacted into one (seq = the
            # last seq, the whole text), and only its part past what the feed already has is new.
            if chunk.seq > feed.last_seq and chunk.end_offset > feed.length:
                self.parts.append(chunk.text[max(0, len(chunk.text) - (chunk.end_offset - feed.length)) :])
                feed.last_seq, feed.length = chunk.seq, chunk.end_offset
        feed.last_seq = max(feed.last_seq, fresh.stream.last_seq)
        feed.length = fresh.stream.length
        status = StreamStatus(fresh.stream.status)
        if status.is_final or feed.status == StreamStatus.PENDING:
            feed.status = status
        self.error = fresh.stream.error if status.is_final else None
        return True

    def build(self) -> Step | None:
        feed = self.feed
        delta = "".join(self.parts)
        if self.deleted:
            event = StreamEvent(feed.stream_id, delta, feed.length, StreamStatus.CANCELLED)
            return Step(self.first_seq, feed.last_seq, self.start, event, deleted=True)
        if not delta and feed.status == self.status_before:
            return None
        event = StreamEvent(feed.stream_id, delta, feed.length, feed.status, self.error)
        return Step(self.first_seq, feed.last_seq, self.start, event)


class Feeds:
    """The process's feeds, one per observed stream; state lives here and in each Feed, nowhere else."""

    def __init__(self, db: Database, hub: Hub, *, check_interval: float = 1.0, subscription_limit: int = 256) -> None:
        self.db = db
        self.hub = hub
        self.check_interval = check_interval
        self.subscription_limit = subscription_limit
        self._feeds: dict[str, Feed] = {}

    @contextlib.contextmanager
    def subscribe(self, stream_id: str) -> Iterator[Subscription]:
        feed = self._feeds.get(stream_id)
        if feed is None:
            feed = self._feeds[stream_id] = Feed(self.db, self.hub, stream_id, self.check_interval)
            feed.start()
        subscription = Subscription(feed, self.subscription_limit)
        feed.subscriptions.add(subscription)
        if feed.final is not None:
            subscription.push(feed.final)
        try:
            yield subscription
        finally:
            feed.subscriptions.discard(subscription)
            if not feed.subscriptions and self._feeds.get(stream_id) is feed:
                del self._feeds[stream_id]
                if feed.task is not None:
                    feed.task.cancel()

    def feed(self, stream_id: str) -> Feed | None:
        return self._feeds.get(stream_id)

    @property
    def subscription_count(self) -> int:
        return sum(len(f.subscriptions) for f in self._feeds.values())

    @property
    def feed_count(self) -> int:
        return len(self._feeds)

    async def close(self) -> None:
        tasks = [f.task for f in self._feeds.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
