"""One follower per stream per process: it alone consumes the hub's messages for its stream and turns them into
shared, immutable steps that every observer of the stream in this process receives.

Why: with one hub watcher per observer, a chunk watched by N observers was applied N times, a lost message sent
N observers to the database, and every idle observer woke each second to read it. Now, for each stream with at
least one observer here, exactly one `Feed`:
- holds the stream's one hub watcher (the first feed of a stream in this process subscribes the stream's broadcast
  channel, `engine/interest.py`, and reads the database only once that subscription is confirmed) and applies
  messages strictly in sequence (`last_seq + 1`, each chunk starting where the stored log ends, `engine/log.py`); a
  gap, a message without text, a stale watcher (overflow, a confirmation, or the hub's link failed, went silent or
  came back), a final status, or a failed read sends *the feed* to the database: one read per stream, not one per
  observer;
- guards against a publish lost while the link looks healthy with one slow check: a read after `check_interval` of
  silence, per live stream, whatever the number of observers (idle observers themselves have no timer);
- publishes a `Step` per change, whose `event` (a StreamEvent at the stream's stored length) is the very object every
  caught-up observer yields, so the web layer can render it once for all of them;
- ends after a final step (or a deleted stream), which it keeps: an observer that subscribes later gets it at once.
The feed is created by the first subscription and stopped when the last one leaves. Subscriptions are bounded: one
that falls `limit` steps behind (its client reads slowly) is marked overflowed and its observer catches up from the
database, so a slow observer costs memory of its own only, and never delays the feed or the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from persistream.db import streams
from persistream.db.database import Database
from persistream.db.streams import StoredChunk
from persistream.engine.cursor import START, Position
from persistream.engine.events import PartDelta, StreamEvent, StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.log import LogReader, head_of, make_event, usage_of
from persistream.engine.messages import Chunk, HubMessage, Status
from persistream.parts import PartKind, Usage

log = logging.getLogger("persistream.feed")

# Seconds between attempts of a feed whose database read failed (a restart): bounded, so nobody waits forever.
READ_RETRY = 0.5


@dataclass(frozen=True, slots=True)
class Step:
    """One change of a stream as stored: chunks `first_seq..last_seq` (none for a status-only step), as `chunks`
    (each observer slices them from where it stands, `engine/log.py`); `event` is what they say to a reader that
    stood exactly where the feed stood before them."""

    first_seq: int
    last_seq: int
    chunks: tuple[StoredChunk, ...]
    event: StreamEvent
    deleted: bool = False
    # Where the feed stood before the step (its TEXT offset and place; None: unknown) and after it, and whether the
    # step adds anything to the log. An observer standing exactly where the feed stood takes the step whole: its
    # `event` is then exactly what the observer would make of it (engine/observer.py), with no slicing of its own.
    before: tuple[int, Position] | None = None
    after: Position | None = None
    adds: bool = False


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
        self.reader = LogReader()  # where the stored log ends, as far as this feed knows; its last_seq and length
        self.status = StreamStatus.PENDING
        self.reads = 0  # database reads by this feed, for tests and the health page
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"feed-{self.stream_id}")

    async def _run(self) -> None:
        # The first read comes after the stream's channel is confirmed subscribed, so whatever is published after
        # that read reaches the watcher. Past `check_interval` it reads anyway (the link is down, or its probe is
        # slow); the confirmation, when it comes, marks the watcher stale and the feed reads again.
        with self.hub.watch(self.stream_id) as watcher:
            if self.hub.connected:
                await watcher.until_confirmed(self.check_interval)
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

    @property
    def last_seq(self) -> int:
        return self.reader.last_seq

    @property
    def length(self) -> int:
        return self.reader.offset

    async def _first_read(self) -> bool:
        try:
            tail = await streams.read_tail(self.db, self.stream_id)
        except Exception as exc:
            log.debug("stream %s: feed read failed (%s); retrying", self.stream_id, type(exc).__name__)
            return False
        finally:
            self.reads += 1
        if tail is None:
            event = StreamEvent(self.stream_id, "", 0, StreamStatus.CANCELLED)
            self._publish(Step(1, 0, (), event, deleted=True))
            return True
        row = tail.stream
        last = tail.chunks[-1] if tail.chunks else None
        position = START if last is None else Position(last.part, last.part_end)
        self.reader = LogReader(row.length, position, row.last_seq)
        self.status = StreamStatus(row.status)
        final = self.status.is_final
        event = make_event(
            self.stream_id,
            "",
            row.length,
            self.status,
            row.error if final else None,
            (),
            position,
            usage_of(row) if final else None,
        )
        # Said even when it adds nothing: an observer whose own first read came before this one (chunks were stored
        # in between, while the channel was being confirmed) sees the gap it leaves and reads the database.
        self._publish(Step(row.last_seq + 1, row.last_seq, (), event, before=(row.length, position), after=position))
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
        self.status_before = feed.status
        self.before = (feed.reader.offset, feed.reader.end)
        self.chunks: list[StoredChunk] = []
        self.texts: list[str] = []
        self.deltas: list[PartDelta] = []
        self.error: str | None = None
        self.usage: Usage | None = None
        self.deleted = False

    def apply(self, message: HubMessage) -> bool:
        """Apply one hub message; True when the database must be read (gap, no text, final, unknown)."""
        feed = self.feed
        if isinstance(message, Chunk):
            if message.seq <= feed.last_seq:
                return False  # already applied
            if message.seq != feed.last_seq + 1 or message.text is None:
                return True
            chunk = message.stored(message.text)
            if not _continues(feed.reader, chunk):
                return True  # does not continue the log as this feed knows it: the database decides
            self._take(chunk)
            if feed.status == StreamStatus.PENDING:
                feed.status = StreamStatus.STREAMING
            return False
        if isinstance(message, Status):
            if feed.status == StreamStatus.PENDING and message.status == StreamStatus.STREAMING:
                feed.status = StreamStatus.STREAMING
            return False
        # A final status (or anything unknown) is confirmed from the database with every chunk before it.
        return True

    def _take(self, chunk: StoredChunk) -> None:
        text, delta = self.feed.reader.take(chunk)
        self.chunks.append(chunk)
        if text:
            self.texts.append(text)
        if delta is not None:
            self.deltas.append(delta)

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
            # Sliced by offsets, not by seq + 1: a finished stream's chunks may have been compacted into one per
            # part (seq = the last seq, the whole part), and only what lies past what the feed has is new.
            if chunk.seq > feed.last_seq:
                self._take(chunk)
        feed.reader.last_seq = max(feed.last_seq, fresh.stream.last_seq)
        feed.reader.offset = fresh.stream.length
        status = StreamStatus(fresh.stream.status)
        if status.is_final or feed.status == StreamStatus.PENDING:
            feed.status = status
        self.error = fresh.stream.error if status.is_final else None
        self.usage = usage_of(fresh.stream) if status.is_final else None
        return True

    def build(self) -> Step | None:
        feed = self.feed
        delta = "".join(self.texts)
        chunks = tuple(self.chunks)
        position = feed.reader.end
        if self.deleted:
            event = make_event(feed.stream_id, delta, feed.length, StreamStatus.CANCELLED, None, self.deltas, position)
            return Step(self.first_seq, feed.last_seq, chunks, event, deleted=True)
        if not self.deltas and feed.status == self.status_before:
            return None
        event = make_event(
            feed.stream_id, delta, feed.length, feed.status, self.error, self.deltas, position, self.usage
        )
        return Step(
            self.first_seq, feed.last_seq, chunks, event, before=self.before, after=position, adds=bool(self.deltas)
        )


def _continues(reader: LogReader, chunk: StoredChunk) -> bool:
    """True when `chunk` starts exactly where the stored log ends as `reader` knows it."""
    position = reader.end
    index, start = chunk.part, chunk.part_end - len(chunk.text)
    text_start = chunk.end_offset - (len(chunk.text) if head_of(chunk).kind is PartKind.TEXT else 0)
    if text_start != reader.offset:
        return False
    return (index == position.part and start == position.offset) or (index == position.part + 1 and start == 0)


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
