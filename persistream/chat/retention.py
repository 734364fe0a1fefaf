"""Retention (only with `PERSISTREAM_RETENTION_DAYS`): threads whose newest message, and every answer's end, are
older than the retention period are deleted with their messages, streams and chunks.

`RETENTION_BATCH` threads go per transaction, by the conditional `retention.expire_threads`, so several processes
never delete twice and a thread with a live answer is never touched. It runs on its own loop, every tenth of the
period but at least once a minute. Threads are people's data, so this belongs to the chat layer, not the engine.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from persistream import metrics
from persistream.db import retention
from persistream.db.database import Database
from persistream.db.models import utcnow
from persistream.retry import Backoff, Retrying, every

log = logging.getLogger("persistream.retention")

# Threads deleted per transaction by retention, and transactions per run at most: a backlog (retention just turned
# on) is worked off over several runs, never in one long write.
RETENTION_BATCH = 100
RETENTION_BATCHES_PER_RUN = 10
# Retention runs every tenth of the period, at most a minute apart (the contract's promise) and at least 50 ms.
RETENTION_MAX_INTERVAL = 60.0
RETENTION_MIN_INTERVAL = 0.05


def retention_interval(retention_seconds: float) -> float:
    """How often retention looks for expired threads: a tenth of the period, at most a minute."""
    return max(RETENTION_MIN_INTERVAL, min(RETENTION_MAX_INTERVAL, retention_seconds / 10))


async def expire_forever(db: Database, retention_seconds: float) -> None:
    """Delete expired threads every `retention_interval`, forever; a failed run is retried at the next one."""
    interval = retention_interval(retention_seconds)
    retrying = Retrying(
        Backoff.fixed(interval),
        on_failing=lambda exc: log.warning(
            "retention failed (%s); trying again every %.1f s", type(exc).__name__, interval
        ),
        on_recovered=lambda failures, seconds: log.info("retention restored"),
    )
    await every(interval, lambda: expire_threads(db, retention_seconds), retrying)


async def expire_threads(
    db: Database, retention_seconds: float, *, batch: int = RETENTION_BATCH, batches: int = RETENTION_BATCHES_PER_RUN
) -> int:
    """Delete up to `batch * batches` threads past retention; returns how many this process deleted."""
    cutoff = utcnow() - timedelta(seconds=retention_seconds)
    deleted = 0
    for _ in range(batches):
        count = await retention.expire_threads(db, cutoff, batch)
        deleted += count
        if count < batch:  # nothing more, or the rest is being deleted by another process
            break
    if deleted:
        metrics.THREADS_EXPIRED.inc(deleted)
        log.info("retention deleted %d thread(s) older than %g days", deleted, retention_seconds / 86400)
    return deleted
