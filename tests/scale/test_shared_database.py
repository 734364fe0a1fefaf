"""persistream in a database an app already uses: beside the app's own Alembic history (in `alembic_version`) and
tables, in the same SQLite file and the same PostgreSQL database; an older deployment's history moving to
`persistream_alembic_version`; `migrate --check` in every state; PERSISTREAM_TABLE_PREFIX; the app's own engine.

The host app is a real Starlette app written by the test, run by uvicorn in its own process, with persistream
mounted under `/chat` and its lifespan entered from the host's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.core import StreamEngine
from persistream.db.migrations import head_revision
from tests.scale.test_migrations import execute
from tests.scale.test_migrations import persistream as run_persistream
from tests.support.gql import BODY, GraphQLWS, gql, gql_data, send
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import Tap

pytestmark = pytest.mark.scale

APP_REVISIONS = {
    "myapp_0001": """
        op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.String))
        op.execute("INSERT INTO notes (id, body) VALUES (1, 'first'), (2, 'second')")
    """,
    "myapp_0002": """
        op.add_column("notes", sa.Column("pinned", sa.Boolean, nullable=True))
    """,
}
APP_ENV = """
from alembic import context
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""
# The host app: its own routes and engine, persistream mounted under /chat on that same engine.
HOST_APP = """
import contextlib, os, sys
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from persistream.config import Settings
from persistream.web import create_app

engine = create_async_engine(os.environ["HOST_DATABASE_URL"])
chat = create_app(Settings.from_env(), engine=engine)

@contextlib.asynccontextmanager
async def lifespan(_app):
    async with chat.router.lifespan_context(chat) as state:
        yield state
    # persistream has stopped: the engine is still the app's, and still works.
    async with engine.connect() as conn:
        notes = (await conn.execute(text("SELECT count(*) FROM notes"))).scalar()
    print(f"host engine after persistream stopped: {notes} notes", flush=True)
    await engine.dispose()

async def healthz(_request):
    return JSONResponse({"status": "ok"})

async def notes(_request):
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
    return JSONResponse([list(row) for row in rows])

app = Starlette(
    routes=[Route("/healthz", healthz), Route("/notes", notes), Mount("/chat", app=chat)], lifespan=lifespan
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), log_level="info")
"""
THREADS = "query { threads { id title messages { prompt response { text status } } } }"


def persistream(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_persistream(*args, database_url=database_url, env=env)


def write_app_migrations(folder: Path) -> Path:
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(APP_ENV)
    previous = None
    for revision, body in APP_REVISIONS.items():
        header = f"revision = {revision!r}\ndown_revision = {previous!r}\nbranch_labels = None\ndepends_on = None\n"
        upgrade = "def upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"
        source = "import sqlalchemy as sa\nfrom alembic import op\n" + header + upgrade
        (folder / "versions" / f"{revision}.py").write_text(source)
        previous = revision
    return folder


def _app_upgrade(conn: Connection, folder: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def app_upgrade(url: str, folder: Path, revision: str) -> None:
    """The app's own `alembic upgrade`, with Alembic's defaults (its history in `alembic_version`)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_app_upgrade, folder, revision)
    finally:
        await engine.dispose()


async def rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(statement))).all()]
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


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


async def test_host_app_with_its_own_alembic_history_migrates_and_serves(tmp_path: Path, empty_database: str) -> None:
    app_migrations = write_app_migrations(tmp_path / "app_migrations")
    await app_upgrade(empty_database, app_migrations, "myapp_0001")

    # persistream reads only its own history: the app's is neither "a newer version" nor in the way.
    check = persistream("migrate", "--check", database_url=empty_database)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check
    assert "no persistream schema yet (the Alembic history in alembic_version is another app's" in check.stderr
    migrated = persistream("migrate", database_url=empty_database)
    assert migrated.returncode == 0 and "Traceback" not in migrated.stderr, migrated
    assert f"from revision none to {head_revision()}" in migrated.stdout
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0

    (tmp_path / "host_app.py").write_text(HOST_APP)
    env = {"PERSISTREAM_PROVIDER": "demo", "PERSISTREAM_AUTH": "none", "HOST_DATABASE_URL": empty_database}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    host = ServerProcess(env, log_path=tmp_path / "host.log", command=(sys.executable, str(tmp_path / "host_app.py")))
    host.start()
    try:
        chat_http, chat_ws = f"{host.url}/chat/graphql", f"ws://127.0.0.1:{host.port}/chat/graphql"
        stream_id, streamed = await answered(chat_http, chat_ws, "Hello from the host app")
        body = (await gql_data(chat_http, BODY, {"id": stream_id}))["streamBody"]
        assert body["status"] == "DONE" and body["text"] == streamed and streamed
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{host.url}/notes")).json() == [[1, "first"], [2, "second"]]
    finally:
        host.stop()
    assert "host engine after persistream stopped: 2 notes" in host.log(), host.log()[-2000:]

    # Both histories intact: the app's row as it was, its table and rows untouched, persistream's at its head.
    assert await rows(empty_database, "SELECT version_num FROM alembic_version") == [("myapp_0001",)]
    assert await rows(empty_database, "SELECT version_num FROM persistream_alembic_version") == [(head_revision(),)]
    assert await rows(empty_database, "SELECT id, body FROM notes ORDER BY id") == [(1, "first"), (2, "second")]
    # The app's next revision still applies, and persistream stays migrated.
    await app_upgrade(empty_database, app_migrations, "head")
    assert await rows(empty_database, "SELECT version_num FROM alembic_version") == [("myapp_0002",)]
    assert await rows(empty_database, "SELECT id, body, pinned FROM notes ORDER BY id") == [
        (1, "first", None),
        (2, "second", None),
    ]
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0


async def test_an_older_deployment_moves_its_history_with_its_data(tmp_path: Path, empty_database: str) -> None:
    assert persistream("migrate", database_url=empty_database).returncode == 0
    server = serve(tmp_path, empty_database, "before")
    try:
        _, streamed = await answered(server.graphql_http, server.graphql_ws, "Kept across the move")
    finally:
        server.stop()
    # What a version before persistream's own version table left: the same tables, its history in alembic_version.
    await as_older_deployment(empty_database)

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
        [message] = thread["messages"]
        assert message["prompt"] == "Kept across the move"
        assert message["response"] == {"text": streamed, "status": "DONE"}
    finally:
        server.stop()


async def test_the_move_leaves_an_apps_rows_in_alembic_version(tmp_path: Path, empty_database: str) -> None:
    assert persistream("migrate", database_url=empty_database).returncode == 0
    await as_older_deployment(empty_database)
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
        first.stop()
        second.stop()
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


async def as_older_deployment(url: str) -> None:
    """The empty_database as a version before persistream's own version table left it: the same tables (their names did
    not change), its history in Alembic's default `alembic_version`, named as Alembic names it."""
    statements = ["ALTER TABLE persistream_alembic_version RENAME TO alembic_version"]
    if url.startswith("postgresql"):
        statements.append(
            "ALTER TABLE alembic_version RENAME CONSTRAINT persistream_alembic_version_pkc TO alembic_version_pkc"
        )
    await execute(url, *statements)
