"""persistream in a database an app already uses: an older deployment's history moving from `alembic_version` to
`persistream_alembic_version` with its data; `migrate --check` in every state; PERSISTREAM_TABLE_PREFIX; the app's
own engine. (A FastAPI app with its own Alembic history and persistream mounted under /chat, migrating and serving
in the same database, is tests/browser/test_shared_host.py.)
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.core import StreamEngine
from persistream.db.migrations import head_revision
from tests.scale.test_migrations import PREVIOUS, ROWS_AT_PREVIOUS, execute
from tests.scale.test_migrations import persistream as run_persistream
from tests.support.gql import BODY, GraphQLWS, gql, gql_data, send
from tests.support.server import ServerProcess, stop_servers
from tests.support.shared_database import older_persistream_migrate, rows, table_names
from tests.support.streams import Tap

pytestmark = pytest.mark.scale

THREADS = "query { threads { id title messages { prompt response { text status } } } }"


def persistream(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_persistream(*args, database_url=database_url, env=env)


def serve(tmp_path: Path, url: str, name: str, **env: str) -> ServerProcess:
    base = {"PERSISTREAM_DATABASE_URL": url, "PERSISTREAM_PROVIDER": "demo", "PERSISTREAM_AUTH": "none"}
    return ServerProcess({**base, **env}, log_path=tmp_path / f"{name}.log").start()


async def answered(graphql_http: str, graphql_ws: str, prompt: str) -> tuple[str, str]:
    """Send `prompt` and stream its answer to the end over the WebSocket; (stream id, the text streamed)."""
    message = await send(graphql_http, prompt)
    async with GraphQLWS(graphql_ws) as client:
        tap = Tap.driver(client, message["responseStreamId"])
        events = await tap.result(timeout=60)
    assert events[-1]["status"] == "DONE", events
    return message["responseStreamId"], tap.text


async def test_an_older_deployment_moves_its_history_with_its_data(tmp_path: Path, empty_database: str) -> None:
    # Made the way versions before persistream's own version table made it: their migrations (Alembic's defaults,
    # the history in alembic_version), a thread answered at an earlier revision, then their upgrade to the newest.
    await older_persistream_migrate(empty_database, tmp_path / "older", PREVIOUS)
    await execute(empty_database, *ROWS_AT_PREVIOUS)
    await older_persistream_migrate(empty_database, tmp_path / "older")
    assert await rows(empty_database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert "persistream_alembic_version" not in await table_names(empty_database)

    check = persistream("migrate", "--check", database_url=empty_database)
    assert check.returncode == 1, check
    assert f"schema at revision {head_revision()} (recorded in alembic_version by an older version)" in check.stdout
    assert "run `persistream migrate` (it moves it to persistream_alembic_version)" in check.stderr
    if empty_database.startswith("postgresql"):  # a shared database is never changed by a start
        refused = persistream("serve", "--port", "1", database_url=empty_database)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused
    moved = persistream("migrate", database_url=empty_database)
    assert moved.returncode == 0, moved
    assert (
        f"moving the schema history (revision {head_revision()}) from alembic_version to persistream_alembic_version"
        in moved.stdout
    )
    # alembic_version held only persistream's revision: it is gone, as if persistream had never used it.
    assert "alembic_version" not in await table_names(empty_database)
    assert await rows(empty_database, "SELECT version_num FROM persistream_alembic_version") == [(head_revision(),)]
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0

    server = serve(tmp_path, empty_database, "after")
    try:
        [thread] = (await gql_data(server.graphql_http, THREADS))["threads"]
        assert thread["title"] == "Kept"
        assert thread["messages"] == [{"prompt": "Hi?", "response": {"text": "Hello world", "status": "DONE"}}]
        # The moved deployment goes on answering.
        _, streamed = await answered(server.graphql_http, server.graphql_ws, "After the move")
        assert streamed
    finally:
        server.stop()


async def test_the_move_leaves_an_apps_rows_in_alembic_version(tmp_path: Path, empty_database: str) -> None:
    await older_persistream_migrate(empty_database, tmp_path / "older")
    await execute(empty_database, "INSERT INTO alembic_version (version_num) VALUES ('myapp_0007')")
    moved = persistream("migrate", database_url=empty_database)
    assert moved.returncode == 0 and "Traceback" not in moved.stderr, moved
    assert await rows(empty_database, "SELECT version_num FROM alembic_version") == [("myapp_0007",)]
    assert await rows(empty_database, "SELECT version_num FROM persistream_alembic_version") == [(head_revision(),)]


async def test_migrate_check_in_every_state(empty_database: str) -> None:
    fresh = persistream("migrate", "--check", database_url=empty_database)
    assert fresh.returncode == 1 and "no persistream schema yet: run `persistream migrate` first" in fresh.stderr
    assert persistream("migrate", "--revision", "0005", database_url=empty_database).returncode == 0
    behind = persistream("migrate", "--check", database_url=empty_database)
    assert behind.returncode == 1 and f"at revision 0005 but this version needs {head_revision()}" in behind.stderr
    assert persistream("migrate", database_url=empty_database).returncode == 0
    current = persistream("migrate", "--check", database_url=empty_database)
    assert current.returncode == 0 and current.stdout.strip().endswith(f"newest is {head_revision()}")
    # A foreign history beside an up-to-date persistream changes nothing.
    await execute(empty_database, "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    await execute(empty_database, "INSERT INTO alembic_version VALUES ('myapp_0007')")
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0
    # A revision of a newer persistream in its own table: a clear refusal, never a traceback.
    await execute(empty_database, "UPDATE persistream_alembic_version SET version_num = '0099'")
    for args in (("migrate", "--check"), ("migrate",)):
        newer = persistream(*args, database_url=empty_database)
        assert newer.returncode in (1, 2) and "Traceback" not in newer.stderr, newer
        assert "revision 0099, which this version of persistream does not know" in newer.stderr


async def test_table_prefixes_keep_two_deployments_apart(tmp_path: Path, empty_database: str) -> None:
    for prefix in ("ps_", "qa_"):
        assert persistream("migrate", database_url=empty_database, PERSISTREAM_TABLE_PREFIX=prefix).returncode == 0
    names = await table_names(empty_database)
    own = {"threads", "messages", "streams", "chunks", "secrets", "rate_windows", "persistream_alembic_version"}
    assert names == {f"{prefix}{name}" for prefix in ("ps_", "qa_") for name in own}, names

    first = serve(tmp_path, empty_database, "ps", PERSISTREAM_TABLE_PREFIX="ps_")
    second = serve(tmp_path, empty_database, "qa", PERSISTREAM_TABLE_PREFIX="qa_")
    try:
        stream_id, streamed = await answered(first.graphql_http, first.graphql_ws, "Only in ps_")
        assert (await gql_data(first.graphql_http, BODY, {"id": stream_id}))["streamBody"]["text"] == streamed
        assert len((await gql_data(first.graphql_http, THREADS))["threads"]) == 1
        assert (await gql_data(second.graphql_http, THREADS))["threads"] == []
        unseen = await gql(second.graphql_http, BODY, {"id": stream_id})
        assert [e["extensions"]["code"] for e in unseen["errors"]] == ["NOT_FOUND"], unseen
    finally:
        stop_servers(first, second)
    assert await rows(empty_database, "SELECT prompt FROM ps_messages") == [("Only in ps_",)]
    assert await rows(empty_database, "SELECT count(*) FROM qa_messages") == [(0,)]


async def test_stream_engine_on_an_apps_engine_leaves_it_open(empty_database: str) -> None:
    app_engine = create_async_engine(empty_database)
    try:
        async with StreamEngine.from_engine(app_engine, table_prefix="lib_") as engine:
            stream_id = await engine.create_stream()

            async def source() -> Any:
                yield "on the app's engine"

            async for _event in engine.drive(stream_id, source):
                pass
            assert (await engine.body(stream_id)).text == "on the app's engine"
        async with app_engine.connect() as conn:  # persistream stopped; the app's engine still works
            assert (await conn.execute(text("SELECT text FROM lib_chunks"))).scalars().all() == ["on the app's engine"]
    finally:
        await app_engine.dispose()
    await asyncio.sleep(0)
