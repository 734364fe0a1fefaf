"""Every stored row, read straight from a server's SQLite file: tests compare dumps to prove nothing changed."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

TABLES = ("threads", "messages", "streams", "chunks")
# How long a dump waits for the server to finish compacting answers that just ended.
SETTLE_SECONDS = 10.0
UNCOMPACTED = "SELECT count(*) FROM streams WHERE compacted = 0 AND status IN ('DONE', 'ERROR', 'TIMEOUT', 'CANCELLED')"
GENERATING = "SELECT count(*) FROM streams WHERE status = 'STREAMING'"
# One owner's rows of each table: its threads, their messages, those messages' streams and the streams' chunks.
OWNED = {
    "threads": "SELECT t.* FROM threads t WHERE t.owner IS ? ORDER BY t.rowid",
    "messages": "SELECT m.* FROM messages m JOIN threads t ON t.id = m.thread_id WHERE t.owner IS ? ORDER BY m.rowid",
    "streams": """SELECT s.* FROM streams s JOIN messages m ON m.response_stream_id = s.id
        JOIN threads t ON t.id = m.thread_id WHERE t.owner IS ? ORDER BY s.rowid""",
    "chunks": """SELECT c.* FROM chunks c JOIN messages m ON m.response_stream_id = c.stream_id
        JOIN threads t ON t.id = m.thread_id WHERE t.owner IS ? ORDER BY c.rowid""",
}

Dump = dict[str, list[tuple[Any, ...]]]


def _settle(conn: sqlite3.Connection, *queries: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while any(conn.execute(query).fetchone()[0] for query in queries) and time.monotonic() < deadline:
        time.sleep(0.01)


def dump_database(db_path: Path) -> Dump:
    """Every row of every table, read straight from the SQLite file, once every finished answer is compacted.

    A server compacts an answer's chunks into one row just after it ends (invisible to every reader, but not to a
    dump), so a dump taken a moment after an answer and one taken later would otherwise differ."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        _settle(conn, UNCOMPACTED)
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}


def dump_owners(db_path: Path, owners: list[str]) -> dict[str, Dump]:
    """Each owner's rows, once no answer is being generated and every finished one is compacted: a generation a
    request started goes on after the response (it belongs to the server), so it is waited for, not mistaken for a
    change made by the next request."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        _settle(conn, GENERATING, UNCOMPACTED)
        return {
            owner: {table: conn.execute(query, (owner,)).fetchall() for table, query in OWNED.items()}
            for owner in owners
        }
