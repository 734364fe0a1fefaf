"""Every Prometheus metric persistream exposes on `GET /metrics`, defined in this one place.

The metrics are module-level objects in prometheus_client's default registry, as that library intends: the code
that counts something calls one line here (`metrics.TOKENS.inc()`, a `StreamMeter`) instead of carrying a
registry through every call. Nothing here connects or starts anything.

With `serve --workers N` each worker is its own process: `serve` points `PROMETHEUS_MULTIPROC_DIR` at a directory
it owns before the workers start, every value is then kept in a memory-mapped file there, and a scrape that lands
on any worker adds up the files of all of them (`exposition`). Gauges say how they combine across workers:
`livesum` for counts of live things, `livemin` for "the broadcast link is up" (0 as soon as one worker's is down).

What is counted where:
- a generation (core/generation.py) owns a `StreamMeter`: live gauge, tokens, time to first token, its final status;
- statuses decided without a generation (cancel before start, forced cancel, sweeper) call `stream_finished`;
- chunk writes are timed by `timed`, database retries and limits hit are counted where they happen;
- threads deleted by retention are counted by the sweeper that deleted them;
- the tokens a model reports for an answer (its `Usage`) are counted by the chat layer as they go by its source;
- observers, the broadcast link and its reconnects are read off the hub by a `Sampler` (web/metrics_view.py);
  so are the process's asyncio tasks and its database pool's connections, which say whether anything leaks.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from persistream.parts import Usage

T = TypeVar("T")

STREAMS_LIVE = Gauge(
    "persistream_streams_live",
    "Answers being generated now (claimed, not yet final).",
    multiprocess_mode="livesum",
)
STREAMS_FINISHED = Counter(
    "persistream_streams_finished",
    "Answers that reached a final status, by that status (counted once, by the process that stored it).",
    ["status"],
)
TOKENS = Counter(
    "persistream_tokens", "Deltas received from the model: text, reasoning, tool-call arguments and tool results."
)
TIME_TO_FIRST_TOKEN = Histogram(
    "persistream_time_to_first_token_seconds",
    "From the claim of an answer to its first delta from the model (text, reasoning or a tool call).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
CHUNK_WRITE = Histogram(
    "persistream_chunk_write_seconds",
    "Duration of one write of an answer's chunks to the database (each try, failed ones included).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
OBSERVERS = Gauge(
    "persistream_observers",
    "Subscriptions following a stream through the broadcast hub.",
    multiprocess_mode="livesum",
)
ADMISSION_WAITING = Gauge(
    "persistream_admission_waiting",
    "Answers waiting for a slot of this process (PERSISTREAM_MAX_GENERATIONS reached).",
    multiprocess_mode="livesum",
)
BROADCAST_UP = Gauge(
    "persistream_broadcast_up",
    "1 when the broadcast link is up (always for memory://), 0 when it is down (the lowest of all workers).",
    multiprocess_mode="livemin",
)
BROADCAST_RECONNECTS = Counter(
    "persistream_broadcast_reconnects", "Times the broadcast link came back after it was lost."
)
DATABASE_RETRIES = Counter(
    "persistream_database_retries", "Database writes of an answer retried after a transient failure."
)
OBSERVER_DATABASE_READS = Counter(
    "persistream_observer_database_fallbacks",
    "Times an observer read the database because the broadcast could not be trusted (a gap, a lost or silent "
    "link, an overflowing queue).",
)
ASYNCIO_TASKS = Gauge(
    "persistream_asyncio_tasks",
    "asyncio tasks not yet done on the server's event loop (every connection, subscription and answer has some).",
    multiprocess_mode="livesum",
)
DATABASE_CONNECTIONS = Gauge(
    "persistream_database_connections",
    "Connections of the database pool, by state: in_use (checked out by a unit of work) or idle (kept in the pool).",
    ["state"],
    multiprocess_mode="livesum",
)
THREADS_EXPIRED = Counter(
    "persistream_threads_expired",
    "Threads deleted by retention (PERSISTREAM_RETENTION_DAYS), with their messages and answers.",
)
SUBSCRIPTION_FRAMES = Counter(
    "persistream_subscription_frames",
    "Subscription events sent over WebSockets, by path: `direct` (rendered once per event and selection and written "
    "to the socket by the subscription itself) or `strawberry` (through Strawberry's result loop: queries sent over "
    "the socket, an event whose result has errors, a schema whose extensions read every result).",
    ["path"],
)
DIRECT_FRAMES = SUBSCRIPTION_FRAMES.labels("direct")
STRAWBERRY_FRAMES = SUBSCRIPTION_FRAMES.labels("strawberry")
LIMITS_HIT = Counter("persistream_limits_hit", "Requests refused by a limit, by limit.", ["limit"])
MODEL_TOKENS = Counter(
    "persistream_model_tokens",
    "Tokens the model reported for the answers, by kind: input, output (its completion tokens, reasoning included "
    "where the model counts it there) and reasoning.",
    ["kind"],
)

# Every series exists from the start at 0, so a rate() over a fresh process, or the first one, is right.
FINAL_STATUSES = ("DONE", "CANCELLED", "ERROR", "TIMEOUT")
LIMITS = (
    "send_rate",
    "live_answers",
    "subscriptions_per_connection",
    "body_bytes",
    "process_capacity",
    "database_connections",
)
TOKEN_KINDS = ("input", "output", "reasoning")
for _status in FINAL_STATUSES:
    STREAMS_FINISHED.labels(_status)
for _limit in LIMITS:
    LIMITS_HIT.labels(_limit)
for _kind in TOKEN_KINDS:
    MODEL_TOKENS.labels(_kind)


class StreamMeter:
    """One generation's figures: live from its creation until `close`, its time to first token, its tokens.

    Tokens are added to the counter in batches of `TOKEN_BATCH` (and the rest at `close`): an increment costs a few
    microseconds, a memory-mapped one with workers about 8, too much to pay on every token of the hot path."""

    __slots__ = ("_first", "_open", "_started", "_unflushed")
    TOKEN_BATCH = 64

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._first = True
        self._open = True
        self._unflushed = 0
        STREAMS_LIVE.inc()

    def token(self) -> None:
        self._unflushed += 1
        if self._first:
            self._first = False
            TIME_TO_FIRST_TOKEN.observe(time.monotonic() - self._started)
        if self._unflushed >= self.TOKEN_BATCH:
            TOKENS.inc(self._unflushed)
            self._unflushed = 0

    def finished(self, status: str) -> None:
        """This generation stored the final status `status`."""
        self._flush()
        stream_finished(status)

    def close(self) -> None:
        self._flush()
        if self._open:
            self._open = False
            STREAMS_LIVE.dec()

    def _flush(self) -> None:
        if self._unflushed:
            TOKENS.inc(self._unflushed)
            self._unflushed = 0


def stream_finished(status: str) -> None:
    STREAMS_FINISHED.labels(status).inc()


def model_tokens(usage: Usage) -> None:
    """Count the tokens one answer's model reported (a count the model did not give adds nothing)."""
    for kind, count in zip(TOKEN_KINDS, (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens), strict=True):
        if count:
            MODEL_TOKENS.labels(kind).inc(count)


async def timed(histogram: Histogram, operation: Awaitable[T]) -> T:
    """Await `operation`, observing how long it took in `histogram` (also when it fails)."""
    started = time.perf_counter()
    try:
        return await operation
    finally:
        histogram.observe(time.perf_counter() - started)


class Sampler:
    """Sets the gauges read off live objects (the hub, the event loop, the database pool) and counts the hub's
    reconnects since the last look. `refresh` runs on the event loop (asyncio's task list belongs to it)."""

    def __init__(
        self,
        observers: Callable[[], int],
        broadcast_up: Callable[[], bool],
        reconnects: Callable[[], int],
        database_connections: Callable[[], tuple[int, int] | None] = lambda: None,
    ):
        self._observers = observers
        self._broadcast_up = broadcast_up
        self._reconnects = reconnects
        self._database_connections = database_connections
        self._reconnects_seen = 0

    def refresh(self) -> None:
        OBSERVERS.set(self._observers())
        BROADCAST_UP.set(1 if self._broadcast_up() else 0)
        ASYNCIO_TASKS.set(len(asyncio.all_tasks()))
        connections = self._database_connections()
        if connections is not None:
            in_use, idle = connections
            DATABASE_CONNECTIONS.labels("in_use").set(in_use)
            DATABASE_CONNECTIONS.labels("idle").set(idle)
        reconnects = self._reconnects()
        if reconnects > self._reconnects_seen:
            BROADCAST_RECONNECTS.inc(reconnects - self._reconnects_seen)
        self._reconnects_seen = reconnects


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def exposition(multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: this process's figures, or every worker's."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    _forget_dead_workers(multiprocess_dir)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _forget_dead_workers(path: str) -> None:
    """A worker that died (and was replaced) leaves its live gauges behind; its counters rightly stay."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's
