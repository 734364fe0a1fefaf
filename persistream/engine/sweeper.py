"""Background upkeep of one process: heartbeats for its own generations, and the timeout sweep for everyone's.

- Heartbeat: every `heartbeat_interval` this process marks the streams it generates as alive, and asks the
  database which of them must stop (a cancel requested from another process, or a stream taken away). The
  hub's cancel message is the fast path; this poll is the one that cannot be lost.
- Sweep: streams PENDING for longer than the pending timeout, and STREAMING streams whose heartbeat is older
  than the stream timeout (their process died), become TIMEOUT. Every decision is one conditional UPDATE, so any
  number of processes can sweep at once and a stream is finalized once.
- Compaction: final streams whose chunks were not compacted into one row (their process stopped before it could,
  or they predate compaction) are compacted a few at a time (`COMPACT_BATCH` per sweep), each by the conditional
  `compaction.compact_stream`, so sweepers in several processes never compact twice or lose text.

Retention (deleting old threads) is people's data, not streams: it lives in `chat/retention.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from persistream import metrics
from persistream.db import compaction, streams
from persistream.db.database import Database
from persistream.db.models import utcnow
from persistream.engine.events import StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.messages import Final
from persistream.retry import Backoff, Retrying, every

log = logging.getLogger("persistream.sweeper")

# How often the stop check runs while this process generates anything (cancel must land within a second).
STOP_CHECK_INTERVAL = 0.5
# Old finished streams compacted per sweep: bounded, so a backlog after an upgrade is worked off without one long
# burst of writes (each compaction holds SQLite's write lock for a moment).
COMPACT_BATCH = 20


def pending_timeout_message(seconds: float) -> str:
    return f"Nobody started this answer within {seconds:g} seconds."


def silent_timeout_message(seconds: float) -> str:
    return f"The answer stopped making progress for {seconds:g} seconds."


async def keep_alive(
    db: Database, live_ids: Callable[[], list[str]], on_stop: Callable[[str], None], heartbeat_interval: float
) -> None:
    """Refresh heartbeats and deliver stop requests to local generations, forever."""
    interval = min(STOP_CHECK_INTERVAL, heartbeat_interval)
    since_beat = heartbeat_interval
    retrying = Retrying(
        Backoff.fixed(interval),
        on_failing=lambda exc: log.warning(
            "heartbeat failed (%s); retrying every %.1f s", type(exc).__name__, interval
        ),
        on_recovered=lambda failures, seconds: log.info("heartbeat restored"),
    )
    wait = interval
    while True:
        await asyncio.sleep(wait)
        since_beat += wait
        ids = live_ids()
        if not ids:  # nothing to beat for: neither a success nor a failure
            continue
        try:
            if since_beat >= heartbeat_interval:
                to_stop = await streams.refresh_heartbeats(db, ids)
                since_beat = 0.0  # only once it is stored: after an outage the next tick beats again at once
            else:
                to_stop = await streams.streams_to_stop(db, ids)
        except Exception as exc:
            wait = retrying.failed(exc)
            continue
        retrying.succeeded()
        for stream_id in to_stop:
            on_stop(stream_id)


async def sweep_forever(
    db: Database, hub: Hub, *, pending_timeout: float, stream_timeout: float, interval: float, grace: float
) -> None:
    """Sweep every `interval`. After a failed sweep (the database was away, so heartbeats everywhere may have
    failed too) wait `grace` more before the next one, so live generations refresh their heartbeats first and
    are not taken for dead."""

    async def sweep_and_compact() -> None:
        await sweep_once(db, hub, pending_timeout=pending_timeout, stream_timeout=stream_timeout)
        try:
            await compact_finished(db)
        except Exception as exc:  # not a failed sweep: the next sweep comes on time
            log.warning(
                "compaction of finished streams failed (%s); trying again at the next sweep", type(exc).__name__
            )

    # Every failed sweep is told, not only the first: each one holds back the timeouts of the whole cluster.
    retrying = Retrying(
        Backoff.fixed(interval + grace),
        on_retry=lambda exc, failures: log.warning(
            "sweep failed (%s); sweeping again in %.1f s", type(exc).__name__, interval + grace
        ),
    )
    await every(interval, sweep_and_compact, retrying)


async def sweep_once(db: Database, hub: Hub, *, pending_timeout: float, stream_timeout: float) -> list[str]:
    now = utcnow()
    finalized = await streams.sweep_timeouts(
        db,
        pending_before=now - timedelta(seconds=pending_timeout),
        silent_before=now - timedelta(seconds=stream_timeout),
        pending_error=pending_timeout_message(pending_timeout),
        silent_error=silent_timeout_message(stream_timeout),
    )
    for stream_id in finalized:
        log.info("stream %s timed out", stream_id)
        metrics.stream_finished(StreamStatus.TIMEOUT)
        await hub.publish(Final(stream_id, StreamStatus.TIMEOUT))
    return finalized


async def compact_finished(db: Database, limit: int = COMPACT_BATCH) -> int:
    """Compact up to `limit` final streams still stored in several chunks; returns how many were compacted."""
    await compaction.mark_short_streams_compacted(db)
    compacted = 0
    for stream_id in await compaction.streams_to_compact(db, limit):
        if await compaction.compact_stream(db, stream_id):
            compacted += 1
    if compacted:
        log.debug("compacted %d finished streams", compacted)
    return compacted
