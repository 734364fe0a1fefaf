"""What this process follows on the broadcast: one channel per observed stream, and a bounded queue per watcher.

Channels: every process always listens to the control channel (`persistream`: cancel requests, each process's pings
to itself); a stream's chunks and statuses go to that stream's own channel (`persistream.<stream id>`), which a
process listens to only while it has an observer of the stream. A process without observers hears no chunk at all.

An `Interest` is this process's hold on one stream channel: its watchers, and whether the subscription is
*confirmed*. Subscribing is not enough (a Redis SUBSCRIBE returns before the server has applied it), so the hub
publishes a probe on the channel, a `Ping` whose origin names this very subscription, and the channel is confirmed
when the probe comes back through it: from then on, anything published on the channel reaches this process. A
follower reads the database only after that, so a chunk published while the subscription was being set up is either
received or already in what it reads.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque

from persistream.engine.messages import HubMessage

CONTROL_CHANNEL = "persistream"
STREAM_CHANNEL_PREFIX = "persistream."
# PostgreSQL NOTIFY channel names stop at 63 bytes; a stream id (a 36-character UUID) fits with room to spare, and
# anything longer is named by a digest instead.
_LONGEST_ID = 48


def stream_channel(stream_id: str) -> str:
    """The channel that carries `stream_id`'s chunks and statuses."""
    if len(stream_id.encode()) > _LONGEST_ID:
        stream_id = hashlib.sha256(stream_id.encode()).hexdigest()[:40]
    return STREAM_CHANNEL_PREFIX + stream_id


class Watcher:
    """The queue of one follower: bounded, and marked stale instead of growing."""

    def __init__(self, limit: int, confirmed: asyncio.Event | None = None) -> None:
        self._items: deque[HubMessage] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self._confirmed = confirmed
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

    async def until_confirmed(self, timeout: float) -> bool:
        """Wait (at most `timeout`) until this watcher's channel is confirmed subscribed; True when it is. A read of
        the database right after True misses nothing: what is published later arrives here. On False, reading
        anyway is still safe: the confirmation, when it comes, marks the watcher stale (read again)."""
        if self._confirmed is None:
            return True
        if not self._confirmed.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._confirmed.wait()
            except TimeoutError:
                return False
        # The read the caller makes now covers what the confirmation (or an overflow before it) asked for.
        self.stale = False
        return True

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


class Interest:
    """This process's hold on one stream's channel: its watchers, and whether the subscription is confirmed on the
    current link (`probe` names the subscription; it comes back on the channel once the subscription is live)."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.channel = stream_channel(stream_id)
        self.watchers: set[Watcher] = set()
        self.confirmed = asyncio.Event()
        self.probe: str | None = None  # the origin of this subscription's probe; None until subscribed on this link
        self.probed_at = 0.0

    def confirm(self) -> None:
        """The probe came back: the channel is live. Every watcher reads the database once more, after this moment,
        so nothing published before it is missed either."""
        self.confirmed.set()
        for watcher in self.watchers:
            watcher.mark_stale()

    def unconfirm(self) -> None:
        """The link went down: the subscription is gone with it, and is made (and confirmed) again on the next."""
        self.confirmed.clear()
        self.probe = None
        for watcher in self.watchers:
            watcher.mark_stale()
