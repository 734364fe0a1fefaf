"""The streaming engine: persistent text streams, usable from any Python code, with or without GraphQL.

    engine = StreamEngine.from_urls("sqlite+aiosqlite:///app.db")
    async with engine:
        stream_id = await engine.create_stream()
        async for event in engine.drive(stream_id, lambda: my_async_iterator()):
            ...
        body = await engine.body(stream_id)

Ownership: generation tasks, the hub, the sweeper and the heartbeat belong to the engine. A subscription (or any
caller of `drive`/`observe`) only reads; abandoning its iterator never stops a generation: `cancel` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from persistream import metrics
from persistream.config import heartbeat_interval, sweep_interval
from persistream.db import compaction, streams
from persistream.db.database import Database
from persistream.db.models import utcnow
from persistream.db.status import FINAL_STATUSES
from persistream.engine import sweeper
from persistream.engine.admission import Admission
from persistream.engine.cursor import Position
from persistream.engine.events import StreamBody, StreamEvent, StreamStatus
from persistream.engine.feed import Feeds
from persistream.engine.generation import Generation, GenerationLimits
from persistream.engine.hub import Hub
from persistream.engine.ids import new_id
from persistream.engine.log import body_of
from persistream.engine.messages import Cancel, Final, Status
from persistream.engine.observer import observe
from persistream.engine.sources import SourceError, check_source
from persistream.errinfo import describe
from persistream.errors import NotFound
from persistream.logs import bind_stream
from persistream.parts import PartEvent

log = logging.getLogger("persistream.engine")

# What a source yields: text as `str`, and the other parts (persistream.parts).
PartSource = AsyncIterator[PartEvent]
SourceFactory = Callable[[], PartSource | Awaitable[PartSource]]

# A cancel sent to another process's generation is forced after this long without an answer from it.
REMOTE_CANCEL_GRACE = 3.0


class StreamEngine:
    def __init__(
        self,
        db: Database,
        hub: Hub,
        *,
        flush_chars: int = 1000,
        flush_ms: int = 500,
        pending_timeout: float = 300.0,
        stream_timeout: float = 60.0,
        first_token_timeout: float = 600.0,
        observer_poll_interval: float = 1.0,
        max_generations: int = 0,
        max_waiting: int = 0,
        sweep: bool = True,
        compact_finished: bool = True,
    ) -> None:
        self.db = db
        self.hub = hub
        self.hub.on_cancel_request = self._on_cancel_request
        self.limits = GenerationLimits(
            flush_chars=flush_chars,
            flush_seconds=flush_ms / 1000,
            silence_timeout=stream_timeout,
            first_token_timeout=first_token_timeout,
        )
        self.pending_timeout = pending_timeout
        self.stream_timeout = stream_timeout
        self.observer_poll_interval = observer_poll_interval
        # One follower per observed stream; `observer_poll_interval` is its slow check (per stream, not observer).
        self.feeds = Feeds(db, hub, check_interval=observer_poll_interval)
        # How many answers this process generates at once; past it new ones wait in line (engine/admission.py).
        self.admission = Admission(max_generations, max_waiting)
        self.sweep_enabled = sweep
        # Compact a finished stream's chunks into one row right after it ends (benchmarks turn it off to compare).
        self.compact_finished = compact_finished
        self._generations: dict[str, Generation] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._claims: set[asyncio.Task[Generation | None]] = set()
        self._background: list[asyncio.Task[None]] = []
        self._create_tables = False
        # Set when the process is shutting down: streams are no longer claimed here (their drivers observe).
        self.draining = False

    @classmethod
    def from_urls(
        cls,
        database_url: str = "sqlite+aiosqlite:///persistream.db",
        broadcast_url: str = "memory://",
        **options: object,
    ) -> StreamEngine:
        """An engine that owns its database and hub and creates the tables it needs on start."""
        engine = cls(Database(database_url), Hub(broadcast_url), **options)  # type: ignore[arg-type]
        engine._create_tables = True
        return engine

    @classmethod
    def from_engine(
        cls,
        database_engine: AsyncEngine,
        broadcast_url: str = "memory://",
        *,
        table_prefix: str = "",
        **options: object,
    ) -> StreamEngine:
        """An engine on an app's own SQLAlchemy `AsyncEngine` (a database shared with the app): it migrates
        persistream's tables (behind `table_prefix`) on start like `from_urls`, and leaves the app's engine open
        when it stops (the app disposes of it)."""
        db = Database(engine=database_engine, table_prefix=table_prefix)
        engine = cls(db, Hub(broadcast_url), **options)  # type: ignore[arg-type]
        engine._create_tables = True
        return engine

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._create_tables:
            await self.db.create_tables()
        await self.hub.start()
        heartbeat = heartbeat_interval(self.stream_timeout)
        self._background.append(
            asyncio.create_task(
                sweeper.keep_alive(self.db, lambda: list(self._generations), self._stop_local, heartbeat),
                name="persistream-heartbeat",
            )
        )
        if self.sweep_enabled:
            interval = sweep_interval(self.pending_timeout, self.stream_timeout)
            self._background.append(
                asyncio.create_task(
                    sweeper.sweep_forever(
                        self.db,
                        self.hub,
                        pending_timeout=self.pending_timeout,
                        stream_timeout=self.stream_timeout,
                        interval=interval,
                        grace=heartbeat + sweeper.STOP_CHECK_INTERVAL,
                    ),
                    name="persistream-sweeper",
                )
            )

    async def stop_generations(self, grace: float = 5.0) -> None:
        """End every generation of this process in ERROR, its text kept, waiting up to `grace` for them to store it."""
        self.admission.close()  # answers waiting for a slot are not started here any more: they stay PENDING
        for generation in list(self._generations.values()):
            generation.request_stop(StreamStatus.ERROR, "The server stopped before the answer was complete.")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop every generation (their buffered text is stored), then the background tasks and the hub."""
        await self.stop_generations(grace)
        for task in [*self._tasks, *self._background]:
            task.cancel()
        for task in [*self._tasks, *self._background]:
            with contextlib.suppress(BaseException):
                await task
        self._background.clear()
        await self.feeds.close()
        await self.hub.stop()
        if self._create_tables:
            await self.db.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- streams -------------------------------------------------------------------------------------------

    async def create_stream(self) -> str:
        """A new PENDING stream, to be driven by `drive`."""
        stream_id = new_id()
        await streams.create_stream(self.db, stream_id)
        return stream_id

    def drive(self, stream_id: str, source: SourceFactory, *, speaker: str = "source") -> AsyncIterator[StreamEvent]:
        """Claim a PENDING stream and generate it from `source()`, yielding tokens as they come.

        `source` is a factory: a callable (an async generator function, say) returning an async iterator of text
        and parts, or an awaitable of one. Anything else (a non-callable, an iterator already made, a synchronous
        generator function) is a TypeError here, at the call. `source` is called only by the claimer. On a
        stream already claimed or final this starts nothing and is exactly `observe(stream_id, 0)`. Leaving the
        loop early does not stop the generation. `speaker` names the source in the silence message ("The model
        sent nothing for 60 seconds.").
        """
        check_source(source)
        return self._drive(stream_id, source, speaker)

    async def _drive(self, stream_id: str, source: SourceFactory, speaker: str) -> AsyncIterator[StreamEvent]:
        claiming = self.start_generation(stream_id, source, speaker=speaker)
        claim = asyncio.create_task(claiming, name=f"claim-{stream_id}")
        self._claims.add(claim)
        claim.add_done_callback(self._claim_done)
        # Shielded: a driver that leaves during the claim (a closed tab) must neither interrupt its database write
        # half-way (a cancelled aiosqlite statement can keep SQLite's write lock until the busy timeout, failing
        # every other writer) nor leave the stream claimed with no generation. Once asked, the answer is the server's.
        generation = await asyncio.shield(claim)
        if generation is None:
            async for event in self.observe(stream_id, 0):
                yield event
            return
        async for event in generation.feed.events(stream_id):
            yield event

    def _claim_done(self, claim: asyncio.Task[Generation | None]) -> None:
        self._claims.discard(claim)
        if not claim.cancelled():
            claim.exception()  # retrieved: a driver that left no longer awaits it (NotFound is its own answer)

    async def start_generation(
        self, stream_id: str, source: SourceFactory, *, speaker: str = "source"
    ) -> Generation | None:
        """The claim: start generating if the stream is PENDING; None if it is not (someone else has it). A source
        that is not a factory is a TypeError (see `drive`), raised before anything is claimed."""
        check_source(source)
        bind_stream(stream_id)  # the claim's lines, and the generation task started from here
        if self.draining:
            return None  # shutting down: left PENDING for a process that stays
        if not self.admission.has_room() and await streams.status_of(self.db, stream_id) != StreamStatus.PENDING:
            return None  # already someone's (or final, or gone): the driver observes it, no slot needed
        if not await self.admission.acquire():
            return None  # the process stopped taking answers while this one waited
        try:
            generation_id = new_id()
            claimed = not self.draining and await streams.claim_stream(self.db, stream_id, generation_id)
        except BaseException:
            self.admission.release()
            raise
        if not claimed:
            self.admission.release()
            if await streams.get_stream(self.db, stream_id) is None:
                raise NotFound("No stream with that id.")
            return None

        async def open_source() -> PartSource:
            opened = source()
            opened = await opened if isinstance(opened, Awaitable) else opened
            if not isinstance(opened, AsyncIterator):
                raise SourceError(f"the source returned {type(opened).__name__}, not an async iterator")
            return opened

        generation = Generation(
            stream_id=stream_id,
            generation_id=generation_id,
            source_factory=open_source,
            db=self.db,
            hub=self.hub,
            limits=self.limits,
            speaker=speaker,
        )
        self._generations[stream_id] = generation
        task = asyncio.create_task(self._run(generation), name=f"generate-{stream_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await self.hub.publish(Status(stream_id, StreamStatus.STREAMING))
        log.info("stream %s claimed", stream_id)
        return generation

    async def _run(self, generation: Generation) -> None:
        try:
            await generation.run()
        except Exception as exc:
            log.error("stream %s: generation crashed: %s", generation.stream_id, describe(exc))
        finally:
            self._generations.pop(generation.stream_id, None)
            self.admission.release()
        if self.compact_finished:
            await self._compact(generation.stream_id)

    async def _compact(self, stream_id: str) -> None:
        """Once the final status is stored and the driver told, fold the stream's chunks into one row, so reading
        the finished answer reads one row. Off the token path: the generation is over. A failure leaves it to the
        sweeper (`sweeper.compact_finished`)."""
        try:
            await compaction.compact_stream(self.db, stream_id)
        except Exception as exc:
            log.warning("stream %s: compaction failed (%s); the sweeper will retry", stream_id, type(exc).__name__)

    def observe(
        self,
        stream_id: str,
        from_offset: int = 0,
        *,
        from_position: Position | None = None,
        from_text: int | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """What is stored after `from_offset` of the TEXT (or after `from_position` in the whole log, when given,
        `from_text` being the TEXT the reader had there), then each chunk as it is stored, until the final status."""
        return observe(self.db, self.feeds, stream_id, from_offset, from_position, from_text)

    async def body(self, stream_id: str) -> StreamBody:
        snapshot = await streams.read_after_offset(self.db, stream_id, 0)
        if snapshot is None:
            raise NotFound("No stream with that id.")
        return body_of(snapshot)

    async def cancel(self, stream_id: str) -> StreamBody:
        """Stop a live stream, keeping its text (CANCELLED). Idempotent; a final stream is left as it is."""
        row = await streams.get_stream(self.db, stream_id)
        if row is None:
            raise NotFound("No stream with that id.")
        if row.status == StreamStatus.PENDING and await streams.cancel_pending(self.db, stream_id):
            await self.hub.publish(Final(stream_id, StreamStatus.CANCELLED))
            metrics.stream_finished(StreamStatus.CANCELLED)
            log.info("stream %s cancelled before it started", stream_id)
            return await self.body(stream_id)
        local = self._generations.get(stream_id)
        if local is not None:
            local.request_stop(StreamStatus.CANCELLED)
            await local.done.wait()
        elif await streams.request_cancel(self.db, stream_id):
            await self.hub.publish(Cancel(stream_id))
            await self._await_remote_cancel(stream_id)
        return await self.body(stream_id)

    async def _await_remote_cancel(self, stream_id: str) -> None:
        """Wait for another process to stop its generation; force the final status if it never answers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REMOTE_CANCEL_GRACE
        while loop.time() < deadline:
            row = await streams.get_stream(self.db, stream_id)
            if row is None or row.status in FINAL_STATUSES:
                return
            await asyncio.sleep(0.05)
        # A live process sees the request within a second (hub message, or its stop check): this one is gone
        # or stuck, so the database decides without it (its unflushed tail is lost, as with any dead process).
        if await streams.force_final(self.db, stream_id, StreamStatus.CANCELLED, None, stale_before=utcnow()):
            await self.hub.publish(Final(stream_id, StreamStatus.CANCELLED))
            metrics.stream_finished(StreamStatus.CANCELLED)

    async def delete(self, stream_ids: list[str]) -> None:
        """Cancel what is live among `stream_ids`, then delete them and their chunks."""
        for stream_id in stream_ids:
            with contextlib.suppress(NotFound):
                await self.cancel(stream_id)
        await streams.delete_streams(self.db, stream_ids)

    # --- stop requests -------------------------------------------------------------------------------------

    def _on_cancel_request(self, stream_id: str) -> None:
        generation = self._generations.get(stream_id)
        if generation is not None:
            generation.request_stop(StreamStatus.CANCELLED)

    def _stop_local(self, stream_id: str) -> None:
        # Cancel requested elsewhere, or the stream was finalized under us: either way the generation stops,
        # and it reports whatever final status the database holds.
        self._on_cancel_request(stream_id)

    @property
    def live_generations(self) -> int:
        return len(self._generations)

    @property
    def live_stream_ids(self) -> list[str]:
        """The streams this process is generating now."""
        return list(self._generations)

    # --- health and gauges -----------------------------------------------------------------------------------

    async def database_reachable(self) -> bool:
        """Whether the database answers a trivial query now (a health check: never raises)."""
        return await self.db.reachable()

    def metrics_sampler(self) -> metrics.Sampler:
        """The gauges read off this engine's live objects: its observers, its hub, its database pool."""
        # Observers are the feeds' subscriptions: the hub holds one watcher per observed stream, not per observer.
        return metrics.Sampler(
            observers=lambda: self.feeds.subscription_count,
            broadcast_up=lambda: self.hub.connected,
            reconnects=lambda: self.hub.reconnects,
            database_connections=self.db.pool_connections,
        )
