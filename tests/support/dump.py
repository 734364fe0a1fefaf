"""What a server has stored, read two ways (what its user sees over GraphQL, and every row of its SQLite file):
tests compare dumps to prove nothing changed."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.support.gql import gql
from tests.support.server import ServerProcess

# Everything the (only) user of a server sees: threads, messages and answers.
USER_VIEW = """query { threads(last: 1000) { id title createdAt messages {
  id threadId prompt responseStreamId createdAt response { streamId text status error offset } } } }"""
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


async def stored_state(server: ServerProcess, db_path: Path) -> tuple[dict[str, Any], dict[str, list[tuple[Any, ...]]]]:
    """What the user sees (threads, messages, bodies) and what the database holds."""
    result = await gql(server.graphql_http, USER_VIEW)
    assert not result.get("errors"), result
    return result["data"], dump_database(db_path)


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
