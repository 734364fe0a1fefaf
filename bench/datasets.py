"""Databases for the data benchmarks: a fresh SQLite file or PostgreSQL database migrated to the newest schema, and
fast bulk fills written straight into the tables (the API would take minutes for 100,000 threads).

The rows are what persistream itself stores: each thread one prompt with a DONE answer, every timestamp distinct,
owned by the one local user of `PERSISTREAM_AUTH=none` (what `bench.server` runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from persistream.db.database import Database
from tests.support.pg import create_database, drop_database, pg_url

OWNER = "local"
ANSWER = "A stored answer. It has two sentences."


@contextlib.contextmanager
def database(backend: str, tmp: Path, label: str) -> Iterator[str]:
    """A URL of an empty database of `backend` ('sqlite' or 'postgresql'), migrated; dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'{label}.db'}"
        asyncio.run(_migrate(url))
        yield url
        return
    name = create_database(migrate=False)
    try:
        url = pg_url(name)
        asyncio.run(_migrate(url))
        yield url
    finally:
        drop_database(name)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.close()


@dataclass(frozen=True)
class History:
    """What a fill made: the newest thread, one in the middle (to page back from), and the long thread."""

    newest_thread: str
    middle_thread: str
    long_thread: str
    long_thread_middle_message: str


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


async def _insert(url: str, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk rows through the driver itself: SQLite `executemany`, PostgreSQL `COPY`."""
    columns = list(rows[0])
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        marks = ", ".join("?" * len(columns))
        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                ([_sqlite_value(r[c]) for c in columns] for r in rows),
            )
        return
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.copy_records_to_table(table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns)
    finally:
        await conn.close()


def _sqlite_value(value: object) -> object:
    # How SQLAlchemy stores a DateTime on SQLite: naive ISO text with microseconds (UTC here).
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


async def fill_history(url: str, threads: int, long_thread_messages: int) -> History:
    """`threads` threads of one message each, plus one thread of `long_thread_messages` messages (the newest)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    thread_ids = _ids(threads)
    message_ids = _ids(threads + long_thread_messages)
    stream_ids = _ids(threads + long_thread_messages)
    long_thread = thread_ids[-1]
    owners = [thread_ids[i] for i in range(threads - 1)] + [long_thread] * (long_thread_messages + 1)
    times = [start + timedelta(seconds=i) for i in range(len(owners))]
    await _insert(
        url,
        "threads",
        [{"id": t, "owner": OWNER, "title": f"Thread {i}", "created_at": times[i]} for i, t in enumerate(thread_ids)],
    )
    await _insert(
        url,
        "streams",
        [
            {
                "id": s,
                "status": "DONE",
                "error": None,
                "created_at": times[i],
                "updated_at": times[i],
                "heartbeat_at": None,
                "length": len(ANSWER),
                "last_seq": 1,
                "generation_id": None,
                "cancel_requested": False,
                "compacted": True,
            }
            for i, s in enumerate(stream_ids)
        ],
    )
    await _insert(
        url, "chunks", [{"stream_id": s, "seq": 1, "text": ANSWER, "end_offset": len(ANSWER)} for s in stream_ids]
    )
    await _insert(
        url,
        "messages",
        [
            {
                "id": m,
                "thread_id": owners[i],
                "prompt": f"Question {i}?",
                "response_stream_id": stream_ids[i],
                "created_at": times[i],
                # One branch per thread, as sendMessage stores it: each message follows the one before it.
                "parent_id": message_ids[i - 1] if i and owners[i - 1] == owners[i] else None,
            }
            for i, m in enumerate(message_ids)
        ],
    )
    if not url.startswith("sqlite"):
        # What autovacuum would have done by the time a database holds this much.
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    return History(
        newest_thread=long_thread,
        middle_thread=thread_ids[threads // 2],
        long_thread=long_thread,
        long_thread_middle_message=message_ids[threads - 1 + long_thread_messages // 2],
    )
