"""Retention (`PERSISTREAM_RETENTION_DAYS`) on real servers, with a period of under two seconds.

A thread whose newest message, and every answer's end, are older than the period disappears with its messages,
streams and chunks (checked in the database itself); a thread with a live answer stays, and so does an old thread
that got a newer message. Several processes sweeping one database (PostgreSQL, and one SQLite file) delete each
thread exactly once: the threads they report deleted add up to the threads created, and nothing fails.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import bindparam, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.chat import retention
from persistream.db.database import Database
from persistream.db.models import ChunkRow, MessageRow, StreamRow, ThreadRow, utcnow
from persistream.engine.ids import new_id
from tests.conftest import server_env
from tests.scale.conftest import ScaleServerFactory, create_database, drop_database, pg_url, start_servers
from tests.scale.flows import Sub, cancel, sentence_tokens
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import send
from tests.support.server import ServerProcess, stop_servers

pytestmark = pytest.mark.scale

RETENTION_DAYS = 0.00002
RETENTION = RETENTION_DAYS * 86400  # 1.728 s; the sweep runs every tenth of it
# The contract's bound past expiry (a tenth of the period), plus room for a loaded machine.
DEADLINE = RETENTION + RETENTION / 10 + 3.0
DELETED = re.compile(r"retention deleted (\d+) thread")


class Rows:
    """What the database holds for some threads: read directly, not through the server."""

    def __init__(self, url: str) -> None:
        self.engine = create_async_engine(url)
        # Each thread's answer streams seen so far: once its messages are gone they no longer lead to its streams.
        self.streams_of: dict[str, set[str]] = {}

    async def of(self, thread_ids: list[str]) -> dict[str, int]:
        """Row counts of these threads, their messages, and their answers' streams and chunks."""
        expanding = {"ids": bindparam("ids", expanding=True), "streams": bindparam("streams", expanding=True)}
        async with self.engine.connect() as conn:
            found = await conn.execute(
                text("SELECT thread_id, response_stream_id FROM messages WHERE thread_id IN :ids").bindparams(
                    expanding["ids"]
                ),
                {"ids": thread_ids},
            )
            for thread_id, stream_id in found:
                self.streams_of.setdefault(thread_id, set()).add(stream_id)
            streams = sorted(s for t in thread_ids for s in self.streams_of.get(t, ())) or ["none"]
            counts: dict[str, int] = {}
            for name, sql, key in (
                ("threads", "SELECT count(*) FROM threads WHERE id IN :ids", "ids"),
                ("messages", "SELECT count(*) FROM messages WHERE thread_id IN :ids", "ids"),
                ("streams", "SELECT count(*) FROM streams WHERE id IN :streams", "streams"),
                ("chunks", "SELECT count(*) FROM chunks WHERE stream_id IN :streams", "streams"),
            ):
                params = {"ids": thread_ids} if key == "ids" else {"streams": streams}
                counts[name] = (await conn.execute(text(sql).bindparams(expanding[key]), params)).scalar_one()
        return counts

    async def close(self) -> None:
        await self.engine.dispose()


async def answered(server: ServerProcess, fake: FakeOpenAI, script: Script, thread: str | None = None) -> str:
    """Send a prompt in `thread` (a new one when None) and drive its answer to the end; the thread's id."""
    name = f"ret-{random.getrandbits(48):012x}"
    message = await send(server.graphql_http, f"Answer {fake.add(name, script)}", thread)
    driver = await Sub(server, message["responseStreamId"], driver=True).wait()
    assert driver.error is None and driver.final is not None and driver.final["status"] == "DONE"
    thread_id: str = message["threadId"]
    return thread_id


def deleted_in(logs: str) -> int:
    return sum(int(n) for n in DELETED.findall(logs))


async def expired_metric(server: ServerProcess) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        page = (await client.get(f"{server.url}/metrics")).text
    match = re.search(r"^persistream_threads_expired_total (\S+)$", page, re.MULTILINE)
    assert match, "persistream_threads_expired_total missing from /metrics"
    return float(match.group(1))


def assert_clean(logs: str) -> None:
    for bad in ("retention failed", "ERROR", "Traceback", "IntegrityError"):
        assert bad not in logs, bad


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A database of its own: retention deletes every old thread, other tests' included."""
    name = create_database()
    yield name
    drop_database(name)


async def test_finished_threads_expire_live_and_recent_ones_stay(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    db_path = tmp_path / "retention.db"
    server = ServerProcess(
        server_env(fake_openai, db_path, PERSISTREAM_RETENTION_DAYS=str(RETENTION_DAYS)),
        log_path=tmp_path / "server.log",
    ).start()
    rows = Rows(f"sqlite+aiosqlite:///{db_path}")
    try:
        long_answer = Script(sentence_tokens(30), delay=0.005)  # several chunks
        finished = await answered(server, fake_openai, long_answer)
        # An answer that hangs: STREAMING (heartbeats alive) far longer than the period.
        hung_name = f"ret-hang-{random.getrandbits(32):08x}"
        hung_message = await send(
            server.graphql_http,
            f"Answer {fake_openai.add(hung_name, Script(sentence_tokens(4), hang_after=2))}",
        )
        hung_thread, hung_stream = hung_message["threadId"], hung_message["responseStreamId"]
        hung_driver = Sub(server, hung_stream, driver=True)
        await hung_driver.until_text(1)
        # An old thread kept alive by a newer message, sent when its first one is most of a period old.
        revived = await answered(server, fake_openai, Script(sentence_tokens(3)))
        await asyncio.sleep(RETENTION * 0.7)
        await answered(server, fake_openai, Script(sentence_tokens(3)), revived)
        assert (await rows.of([finished]))["chunks"] >= 1

        started = time.monotonic()
        while (await rows.of([finished]))["threads"]:
            assert time.monotonic() - started < DEADLINE, "the finished thread outlived its retention"
            await asyncio.sleep(0.05)
        assert await rows.of([finished]) == {"threads": 0, "messages": 0, "streams": 0, "chunks": 0}
        # The revived thread's newest message is younger than the period: kept whole.
        revived_rows = await rows.of([revived])
        assert (revived_rows["threads"], revived_rows["messages"], revived_rows["streams"]) == (1, 2, 2)

        # Well past two periods the hung answer is still live, and its thread untouched.
        await asyncio.sleep(max(0.0, 2 * RETENTION + 0.5 - (time.monotonic() - started)))
        hung_rows = await rows.of([hung_thread])
        assert (hung_rows["threads"], hung_rows["messages"], hung_rows["streams"]) == (1, 1, 1)
        assert hung_driver.final is None
        # Once it ends, its end is the age that counts: a period after the cancel, not before.
        assert (await cancel(server, hung_stream))["status"] == "CANCELLED"
        await hung_driver.wait()
        ended = time.monotonic()
        await asyncio.sleep(RETENTION / 2)
        assert (await rows.of([hung_thread]))["threads"] == 1, "deleted before its answer had ended a period ago"
        while (await rows.of([hung_thread, revived]))["threads"]:
            assert time.monotonic() - ended < DEADLINE + RETENTION, "threads outlived their retention"
            await asyncio.sleep(0.05)
        assert await rows.of([hung_thread, revived]) == {"threads": 0, "messages": 0, "streams": 0, "chunks": 0}
        assert deleted_in(server.log()) == 3
        assert await expired_metric(server) == 3
        assert_clean(server.log())
    finally:
        await rows.close()
        server.stop()


async def expire_many(servers: list[ServerProcess], fake: FakeOpenAI, rows: Rows, rounds: int = 2) -> None:
    """Threads created on every server at random moments (abandoned answers that time out, and driven ones with
    several chunks), then swept by all of them at once: each deleted once, by exactly one of them."""
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    created: list[str] = []
    for round_number in range(rounds):
        # The first round's threads trickle in; the last's come in one burst, so they all expire at once.
        spread = RETENTION / 2 if round_number < rounds - 1 else 0.0

        async def abandoned(i: int, spread: float) -> str:
            await asyncio.sleep(rng.uniform(0, spread))
            message = await send(servers[i % len(servers)].graphql_http, f"Never driven {i}")
            thread_id: str = message["threadId"]
            return thread_id

        async def driven(i: int, spread: float) -> str:
            await asyncio.sleep(rng.uniform(0, spread))
            return await answered(servers[i % len(servers)], fake, Script(sentence_tokens(15)))

        batch = await asyncio.gather(*(abandoned(i, spread) for i in range(40)), *(driven(i, spread) for i in range(6)))
        created += batch
        started = time.monotonic()
        while (await rows.of(batch))["threads"]:
            assert time.monotonic() - started < DEADLINE + 1.5, f"threads outlived their retention (seed {seed})"
            await asyncio.sleep(0.1)
        assert await rows.of(batch) == {"threads": 0, "messages": 0, "streams": 0, "chunks": 0}, seed
    logs = "".join(server.log() for server in servers)
    assert deleted_in(logs) == len(created), f"threads deleted twice or not counted (seed {seed})"
    assert sum([await expired_metric(server) for server in servers]) == len(created), seed
    assert_clean(logs)


# Abandoned answers time out quickly (a driven one still starts in time on a loaded machine), so their threads
# expire like finished ones, a pending timeout after they were sent.
SWEEP_ENV = {"PERSISTREAM_RETENTION_DAYS": str(RETENTION_DAYS), "PERSISTREAM_PENDING_TIMEOUT": "1.5"}


async def test_processes_on_one_postgresql_delete_each_thread_once(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, fresh_pg: str
) -> None:
    servers = make_scale_servers(2, pg_url(fresh_pg), **SWEEP_ENV)
    rows = Rows(pg_url(fresh_pg))
    try:
        await expire_many(servers, fake_openai, rows)
    finally:
        await rows.close()


async def test_processes_on_one_sqlite_file_delete_each_thread_once(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    db_path = tmp_path / "shared.db"
    servers = [
        ServerProcess(server_env(fake_openai, db_path, **SWEEP_ENV), log_path=tmp_path / f"server-{i}.log")
        for i in range(2)
    ]
    # The first creates the schema; the second starts once it is there.
    start_servers(servers[0])
    start_servers(servers[1])
    rows = Rows(f"sqlite+aiosqlite:///{db_path}")
    try:
        await expire_many(servers, fake_openai, rows)
    finally:
        await rows.close()
        stop_servers(*servers)


# --- the conditional delete itself, on both databases: batches, and two engines (as two processes) at once -------


async def seed_threads(db: Database, age: float) -> dict[str, list[str]]:
    """Threads `age` seconds old of every kind retention must tell apart; their ids by kind."""
    old, now = utcnow() - timedelta(seconds=age), utcnow()
    kinds: dict[str, list[str]] = {"finished": [], "empty": [], "live": [], "revived": [], "just_ended": []}
    threads: list[dict[str, object]] = []
    streams: list[dict[str, object]] = []
    messages: list[dict[str, object]] = []
    chunks: list[dict[str, object]] = []

    def thread(kind: str, answers: list[tuple[str, datetime, datetime]]) -> None:
        thread_id = new_id()
        kinds[kind].append(thread_id)
        threads.append({"id": thread_id, "owner": "local", "title": kind, "created_at": old})
        for status, asked, ended in answers:
            stream_id = new_id()
            streams.append({"id": stream_id, "status": status, "created_at": asked, "updated_at": ended, "last_seq": 2})
            chunks.extend({"stream_id": stream_id, "seq": s, "text": "ab", "end_offset": 2 * s} for s in (1, 2))
            messages.append(
                {
                    "id": new_id(),
                    "thread_id": thread_id,
                    "prompt": "q",
                    "response_stream_id": stream_id,
                    "created_at": asked,
                }
            )

    for _ in range(230):
        thread("finished", [("DONE", old, old), ("TIMEOUT", old, old)])
    for _ in range(5):
        thread("empty", [])
    for status in ("PENDING", "STREAMING") * 5:
        thread("live", [("DONE", old, old), (status, old, old)])
    for _ in range(10):
        thread("revived", [("DONE", old, old), ("DONE", now, now)])
    for _ in range(10):
        thread("just_ended", [("CANCELLED", old, now)])
    async with db.session() as session:
        for model, values in ((ThreadRow, threads), (StreamRow, streams), (MessageRow, messages), (ChunkRow, chunks)):
            if values:
                await session.execute(insert(model), values)
        await session.commit()
    return kinds


async def two_sweepers_at_once(url: str) -> None:
    seeding, first, second = Database(url), Database(url), Database(url)
    rows = Rows(url)
    try:
        if url.startswith("sqlite"):
            await seeding.create_tables()
        kinds = await seed_threads(seeding, age=120.0)
        everything = [thread_id for ids in kinds.values() for thread_id in ids]
        assert (await rows.of(everything))["chunks"] == 2 * (230 * 2 + 10 * 2 + 10 * 2 + 10)
        period = 60.0
        deleted = await asyncio.gather(
            *(retention.expire_threads(db, period, batch=20, batches=3) for db in (first, second) for _ in range(3))
        )
        # Six runs of at most 60: the 235 expired threads need more than one run each, and all are taken once.
        while sum(deleted) < 235:
            more = await asyncio.gather(*(retention.expire_threads(db, period, batch=20) for db in (first, second)))
            assert sum(more) > 0, f"{sum(deleted)} of 235 expired threads deleted, then none"
            deleted += more
        assert sum(deleted) == 235
        assert await retention.expire_threads(first, period) == 0
        assert await rows.of(kinds["finished"] + kinds["empty"]) == {
            "threads": 0,
            "messages": 0,
            "streams": 0,
            "chunks": 0,
        }
        for kind in ("live", "revived", "just_ended"):
            kept = await rows.of(kinds[kind])
            answers = 1 if kind == "just_ended" else 2
            assert kept == {"threads": 10, "messages": 10 * answers, "streams": 10 * answers, "chunks": 20 * answers}, (
                kind
            )
    finally:
        await rows.close()
        for db in (seeding, first, second):
            await db.close()


async def test_the_conditional_delete_on_sqlite(tmp_path: Path) -> None:
    await two_sweepers_at_once(f"sqlite+aiosqlite:///{tmp_path / 'expire.db'}")


async def test_the_conditional_delete_on_postgresql(fresh_pg: str) -> None:
    await two_sweepers_at_once(pg_url(fresh_pg))


def test_retention_runs_every_tenth_of_the_period_at_most_a_minute_apart() -> None:
    assert retention.retention_interval(1.728) == pytest.approx(0.1728)
    assert retention.retention_interval(300.0) == 30.0
    assert retention.retention_interval(30 * 86400) == 60.0
    assert retention.retention_interval(0.01) == retention.RETENTION_MIN_INTERVAL
