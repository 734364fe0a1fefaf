"""Schema migrations on SQLite and PostgreSQL: from an empty database, and from the previous revision with data.

`persistream migrate` runs as a real command; the schema it leaves must be exactly the models' (Alembic finds
no difference), and a server refuses a PostgreSQL database that is behind while it migrates SQLite itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import ForeignKeyConstraint, Index, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from persistream.db import models  # noqa: F401  (the tables on SQLModel.metadata)
from persistream.db.migrations import alembic_config, head_revision
from persistream.db.prefix import VERSION_TABLE
from tests.scale.conftest import ScaleServerFactory, create_database, drop_database, pg_url
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, gql
from tests.support.server import ROOT
from tests.support.streams import Tap, unique

pytestmark = pytest.mark.scale

PREVIOUS = "0002"
# What revision 0006 added (parts): dropped again to make a database from before migrations.
CHUNK_PART_COLUMNS = ("part", "kind", "tool_name", "tool_call_id", "is_error", "part_end")
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "reasoning_tokens")
# What revision 0007 added (branches): `messages.parent_id` and its index. SQLite cannot drop a column that a
# table-level foreign key names, so the tables from before migrations are made without it (`tables_before_0007`).
BRANCH_COLUMN = "parent_id"
# A database made by create_all before migrations existed is adopted as the first revision.
ADOPTED = "0001"
# A thread with one answered message ("Hi?", "Hello world"), as a server at revision PREVIOUS wrote it.
ROWS_AT_PREVIOUS = (
    "INSERT INTO threads (id, owner, title, created_at) "
    "VALUES ('00000000-0000-4000-8000-000000000001', NULL, 'Kept', '2026-01-02 03:04:05+00')",
    "INSERT INTO streams (id, status, error, created_at, updated_at, heartbeat_at, length, last_seq, "
    "generation_id, cancel_requested) VALUES ('00000000-0000-4000-8000-000000000002', 'DONE', NULL, "
    "'2026-01-02 03:04:05+00', '2026-01-02 03:04:06+00', NULL, 11, 2, NULL, false)",
    "INSERT INTO chunks (stream_id, seq, text, end_offset) VALUES "
    "('00000000-0000-4000-8000-000000000002', 1, 'Hello ', 6), "
    "('00000000-0000-4000-8000-000000000002', 2, 'world', 11)",
    "INSERT INTO messages (id, thread_id, prompt, response_stream_id, created_at) VALUES "
    "('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001', 'Hi?', "
    "'00000000-0000-4000-8000-000000000002', '2026-01-02 03:04:05+00')",
)


def persistream(*args: str, database_url: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
    clean.update(env or {}, PERSISTREAM_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "persistream", *args], env=clean, cwd=ROOT, capture_output=True, text=True, timeout=90
    )


def _schema_diff(conn: Connection) -> list[object]:
    return list(
        compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE}),
            SQLModel.metadata,
        )
    )


async def inspect_database(url: str, *statements: str) -> tuple[list[object], list[list[object]]]:
    """The differences between the database's schema and the models, and the rows each statement returns."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            diff = await conn.run_sync(_schema_diff)
            rows = [[tuple(r) for r in (await conn.execute(text(s))).all()] for s in statements]
    finally:
        await engine.dispose()
    return diff, rows  # type: ignore[return-value]


async def execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_migrate_an_empty_database_to_the_newest_revision(empty_database: str) -> None:
    check = persistream("migrate", "--check", database_url=empty_database)
    assert check.returncode == 1 and "no persistream schema yet" in check.stderr, check

    result = persistream("migrate", database_url=empty_database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"persistream: database schema upgraded from revision none to {head_revision()}"
    diff, (versions,) = await inspect_database(empty_database, "SELECT version_num FROM persistream_alembic_version")
    assert diff == [] and versions == [(head_revision(),)]

    again = persistream("migrate", database_url=empty_database)
    assert again.stdout.strip() == f"persistream: database schema already at revision {head_revision()}"
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0


async def test_migrate_from_the_previous_revision_keeps_the_data(empty_database: str) -> None:
    result = persistream("migrate", "--revision", PREVIOUS, database_url=empty_database)
    assert result.returncode == 0, result.stderr
    await execute(empty_database, *ROWS_AT_PREVIOUS)
    check = persistream("migrate", "--check", database_url=empty_database)
    assert check.returncode == 1
    assert f"at revision {PREVIOUS} but this version needs {head_revision()}" in check.stderr

    result = persistream("migrate", database_url=empty_database)
    assert result.returncode == 0, result.stderr
    assert f"from revision {PREVIOUS} to {head_revision()}" in result.stdout
    diff, (threads, texts, messages) = await inspect_database(
        empty_database,
        "SELECT id, title, owner, share_token FROM threads",
        "SELECT seq, text, end_offset FROM chunks ORDER BY seq",
        "SELECT prompt, response_stream_id FROM messages",
    )
    assert diff == []
    # Threads from before identities belong to the one local user (PERSISTREAM_AUTH=none), unshared.
    assert threads == [("00000000-0000-4000-8000-000000000001", "Kept", "local", None)]
    assert texts == [(1, "Hello ", 6), (2, "world", 11)]
    assert messages == [("Hi?", "00000000-0000-4000-8000-000000000002")]


async def test_a_database_made_before_migrations_is_adopted(empty_database: str) -> None:
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as conn:
            # What persistream did before it shipped migrations: the newest tables minus what revisions after the
            # first one added.
            await conn.run_sync(tables_before_0007().create_all)
            for statement in (
                "DROP INDEX ix_streams_status_heartbeat_at",
                "DROP INDEX ix_streams_status_compacted",
                "ALTER TABLE streams DROP COLUMN compacted",
                "DROP INDEX ix_threads_owner_created_at_id",
                "CREATE INDEX ix_threads_owner ON threads (owner)",
                "DROP INDEX ix_messages_thread_id_created_at_id",
                "CREATE INDEX ix_messages_thread_id ON messages (thread_id)",
                "DROP INDEX ix_threads_share_token",
                "ALTER TABLE threads DROP COLUMN share_token",
                "DROP TABLE secrets",
                *(f"ALTER TABLE chunks DROP COLUMN {column}" for column in CHUNK_PART_COLUMNS),
                *(f"ALTER TABLE streams DROP COLUMN {column}" for column in TOKEN_COLUMNS),
            ):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    result = persistream("migrate", database_url=empty_database)
    assert result.returncode == 0, result.stderr
    assert f"from revision {ADOPTED} to {head_revision()}" in result.stdout
    diff, _ = await inspect_database(empty_database)
    assert diff == []


def tables_before_0007() -> MetaData:
    """The models' tables with `messages` as it was before branches: no parent_id, nor its index or foreign key."""
    before = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        if table.name != "messages":
            table.to_metadata(before)
            continue
        # A copied column keeps its own one-column index (`index=True`) but not its foreign key.
        kept = [column for column in table.columns if column.name != BRANCH_COLUMN]
        keys = [
            ForeignKeyConstraint([key.parent.name], [key.target_fullname], ondelete=key.ondelete)
            for key in table.foreign_keys
            if key.parent.name != BRANCH_COLUMN
        ]
        indexes = [
            Index(index.name, *names)
            for index in table.indexes
            if len(names := [column.name for column in index.columns]) > 1 and BRANCH_COLUMN not in names
        ]
        Table(table.name, before, *(column._copy() for column in kept), *keys, *indexes)
    return before


@pytest.fixture
def unmigrated_postgres() -> Iterator[str]:
    name = create_database(migrate=False)
    yield pg_url(name)
    drop_database(name)


async def test_server_refuses_a_postgres_database_behind_and_migrates_sqlite_itself(
    unmigrated_postgres: str, make_scale_servers: ScaleServerFactory, tmp_path: Path
) -> None:
    url = unmigrated_postgres
    assert persistream("migrate", "--revision", PREVIOUS, database_url=url).returncode == 0
    refused = persistream("serve", "--port", "1", database_url=url)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"persistream: cannot start: the database schema is at revision {PREVIOUS} but this version needs "
        f"{head_revision()}: run `persistream migrate`"
    )
    assert "Traceback" not in refused.stderr
    assert persistream("migrate", database_url=url).returncode == 0
    make_scale_servers(1, url)  # starts now: ServerProcess.start waits for /healthz

    # The embedded default: the first run migrates its SQLite file with no extra step.
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'first-run.db'}"
    make_scale_servers(1, sqlite_url, "memory://")
    diff, (versions,) = await inspect_database(sqlite_url, "SELECT version_num FROM persistream_alembic_version")
    assert diff == [] and versions == [(head_revision(),)]


def _indexes(conn: Connection) -> dict[str, set[str]]:
    """persistream's own indexes (PostgreSQL also lists the unique constraints' indexes)."""
    found = inspect(conn)
    names = {t: {str(i["name"]) for i in found.get_indexes(t)} for t in ("threads", "messages", "streams")}
    return {t: {n for n in found_names if n.startswith("ix_")} for t, found_names in names.items()}


def _downgrade(conn: Connection, revision: str) -> None:
    command.downgrade(alembic_config(conn), revision)


async def test_history_indexes_and_compaction_marker_upgrade_and_downgrade(empty_database: str) -> None:
    """0005: keyset indexes replace their prefixes; short final streams are marked compacted, longer and live ones
    are left for the sweeper; downgrading restores 0004's indexes and drops the marker, and upgrading again works."""
    assert persistream("migrate", "--revision", "0004", database_url=empty_database).returncode == 0
    streams = [("00000000-0000-4000-8000-00000000000a", "DONE", 2), ("00000000-0000-4000-8000-00000000000b", "DONE", 1)]
    streams.append(("00000000-0000-4000-8000-00000000000c", "STREAMING", 2))
    await execute(
        empty_database,
        *(
            "INSERT INTO streams (id, status, error, created_at, updated_at, heartbeat_at, length, last_seq, "
            f"generation_id, cancel_requested) VALUES ('{sid}', '{status}', NULL, '2026-01-02 03:04:05+00', "
            f"'2026-01-02 03:04:06+00', NULL, {last_seq}, {last_seq}, NULL, false)"
            for sid, status, last_seq in streams
        ),
        *(
            f"INSERT INTO chunks (stream_id, seq, text, end_offset) VALUES ('{sid}', {seq}, 'x', {seq})"
            for sid, _, last_seq in streams
            for seq in range(1, last_seq + 1)
        ),
    )
    assert persistream("migrate", database_url=empty_database).returncode == 0
    diff, (marked,) = await inspect_database(empty_database, "SELECT id, compacted FROM streams ORDER BY id")
    assert diff == []
    assert [(sid, bool(flag)) for sid, flag in marked] == [
        (streams[0][0], False),
        (streams[1][0], True),
        (streams[2][0], False),
    ]

    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(_indexes) == {
                "threads": {"ix_threads_created_at", "ix_threads_owner_created_at_id", "ix_threads_share_token"},
                "messages": {
                    "ix_messages_created_at",
                    "ix_messages_thread_id_created_at_id",
                    "ix_messages_parent_id_thread_id",  # 0007's
                },
                "streams": {"ix_streams_status", "ix_streams_status_heartbeat_at", "ix_streams_status_compacted"},
            }
            await conn.run_sync(_downgrade, "0004")
            indexes = await conn.run_sync(_indexes)
            columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("streams")})
    finally:
        await engine.dispose()
    assert indexes == {
        "threads": {
            "ix_threads_created_at",
            "ix_threads_owner",
            "ix_threads_owner_created_at",
            "ix_threads_share_token",
        },
        "messages": {"ix_messages_created_at", "ix_messages_thread_id"},
        "streams": {"ix_streams_status", "ix_streams_status_heartbeat_at"},
    }
    assert "compacted" not in columns
    assert persistream("migrate", database_url=empty_database).returncode == 0
    diff, (chunks,) = await inspect_database(empty_database, "SELECT count(*) FROM chunks")
    assert diff == [] and chunks == [(5,)]


BRANCH_THREADS = {
    # Messages in the order they were stored, ids chosen so that id order differs from it where created_at ties.
    "00000000-0000-4000-8000-0000000000a1": [
        ("00000000-0000-4000-8000-0000000000f3", "2026-01-02 03:04:05.000001"),
        ("00000000-0000-4000-8000-0000000000f2", "2026-01-02 03:04:06.000000"),
        ("00000000-0000-4000-8000-0000000000f1", "2026-01-02 03:04:06.000000"),
        ("00000000-0000-4000-8000-0000000000e9", "2026-01-02 03:04:07.500000"),
    ],
    "00000000-0000-4000-8000-0000000000a2": [("00000000-0000-4000-8000-0000000000d1", "2026-01-01 00:00:00.000000")],
}


async def test_a_database_made_before_branches_opens_as_one_branch_per_thread(
    empty_database: str, make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI
) -> None:
    """0007: each message's parent is the one before it in its thread, by (created_at, id); a server on the
    upgraded database reads every thread as one branch, its history intact, continues it, and sends the model all
    of it. Downgrading drops the column, and upgrading again rebuilds the same parents."""
    assert persistream("migrate", "--revision", "0006", database_url=empty_database).returncode == 0
    rows = []
    for t, (thread, messages) in enumerate(BRANCH_THREADS.items()):
        rows.append(
            f"INSERT INTO threads (id, owner, title, created_at) VALUES ('{thread}', 'local', 'T{t}', "
            "'2026-01-01 00:00:00')"
        )
        for n, (message, created) in enumerate(messages):
            stream = message[:-3] + "5" + message[-2:]
            rows += [
                "INSERT INTO streams (id, status, error, created_at, updated_at, heartbeat_at, length, last_seq, "
                f"generation_id, cancel_requested, compacted) VALUES ('{stream}', 'DONE', NULL, '{created}', "
                f"'{created}', NULL, 2, 1, NULL, false, true)",
                f"INSERT INTO chunks (stream_id, seq, text, end_offset) VALUES ('{stream}', 1, 'A{n}', 2)",
                "INSERT INTO messages (id, thread_id, prompt, response_stream_id, created_at) VALUES "
                f"('{message}', '{thread}', 'P{n}', '{stream}', '{created}')",
            ]
    await execute(empty_database, *rows)
    expected = sorted(
        (message, thread, ordered[n - 1] if n else None)
        for thread, messages in BRANCH_THREADS.items()
        for ordered in [[m for m, _ in sorted(messages, key=lambda mc: (mc[1], mc[0]))]]
        for n, message in enumerate(ordered)
    )
    parents = "SELECT id, thread_id, parent_id FROM messages ORDER BY id"
    assert persistream("migrate", database_url=empty_database).returncode == 0
    diff, (found,) = await inspect_database(empty_database, parents)
    assert diff == [] and sorted(found) == expected

    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0006")
            columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("messages")})
    finally:
        await engine.dispose()
    assert BRANCH_COLUMN not in columns
    assert persistream("migrate", database_url=empty_database).returncode == 0
    diff, (found,) = await inspect_database(empty_database, parents)
    assert diff == [] and sorted(found) == expected

    [server] = make_scale_servers(1, empty_database, "memory://")
    thread = "00000000-0000-4000-8000-0000000000a1"
    query = "query($t: ID!) { branch(threadId: $t) { id prompt parentId siblingIds response { text } } }"
    branch = (await gql(server.graphql_http, query, {"t": thread}))["data"]["branch"]
    stored = [m for m, _ in BRANCH_THREADS[thread]]
    ordered = sorted(stored, key=lambda m: (dict(BRANCH_THREADS[thread])[m], m))
    assert [m["id"] for m in branch] == ordered, branch
    assert [m["siblingIds"] for m in branch] == [[m] for m in ordered]
    assert [(m["prompt"], m["response"]["text"]) for m in branch] == [
        (f"P{stored.index(m)}", f"A{stored.index(m)}") for m in ordered
    ]
    name = unique("migrated")
    sent = await gql(
        server.graphql_http,
        "mutation($p: String!, $t: ID) { sendMessage(prompt: $p, threadId: $t) { parentId responseStreamId } }",
        {"p": f"Next {fake_openai.add(name, Script(['Ok']))}", "t": thread},
    )
    assert sent["data"]["sendMessage"]["parentId"] == ordered[-1], sent
    async with GraphQLWS(server.graphql_ws) as client:
        await Tap.driver(client, sent["data"]["sendMessage"]["responseStreamId"]).result()
    [request] = fake_openai.requests_for(name)
    history = [(m["role"], m["content"]) for m in request.messages][1:-1]
    assert history == [turn for m in branch for turn in (("user", m["prompt"]), ("assistant", m["response"]["text"]))]
