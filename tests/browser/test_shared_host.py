"""persistream inside a FastAPI app and its database, the way an app's developer sets it up (contract: "Inside your
own app"): the app has its own Alembic history (in `alembic_version`) and its own `notes` table in the same SQLite
file, then the same PostgreSQL database; it mounts persistream under /chat on its own engine and starts it from
its lifespan. Both migrate and serve: the page under /chat/ sends and streams in Chromium, GraphiQL under
/chat/graphql renders its editor, WebSocket, SSE and multipart stream under the prefix, and the app's own route,
tables and history are as they were, its engine still working after persistream stops."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from persistream.db.migrations import head_revision
from tests.conftest import server_env
from tests.scale.test_migrations import persistream
from tests.support.fake_openai import FakeOpenAI
from tests.support.host_app import HostAppProcess, streams_over_every_transport
from tests.support.pg import run_apart as run
from tests.support.shared_database import (
    HOST_APP,
    HOST_MODULE,
    NOTES,
    app_upgrade,
    rows,
    write_app_migrations,
)

from .conftest import OfflineContext
from .mounted import graphiql_runs_under_the_prefix, stream_on_the_page

pytestmark = [pytest.mark.browser, pytest.mark.scale]

ANSWER = "Inside the app and its database, the page under the prefix streams this answer."


def test_a_fastapi_app_and_persistream_share_a_database_and_both_serve(
    empty_database: str, tmp_path: Path, offline: OfflineContext, fake_openai: FakeOpenAI
) -> None:
    app_migrations = write_app_migrations(tmp_path / "app_migrations")
    run(app_upgrade(empty_database, app_migrations, "myapp_0001"))

    # persistream reads only its own history: the app's is neither "a newer version" nor in the way.
    check = persistream("migrate", "--check", database_url=empty_database)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check
    assert "no persistream schema yet (the Alembic history in alembic_version is another app's" in check.stderr
    migrated = persistream("migrate", database_url=empty_database)
    assert migrated.returncode == 0 and "Traceback" not in migrated.stderr, migrated
    assert f"from revision none to {head_revision()}" in migrated.stdout
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0

    (tmp_path / f"{HOST_MODULE}.py").write_text(HOST_APP)
    env = server_env(
        fake_openai, tmp_path / "unused.db", PERSISTREAM_DATABASE_URL=empty_database, HOST_DATABASE_URL=empty_database
    )
    host = HostAppProcess(env, log_path=tmp_path / "host.log", app=f"{HOST_MODULE}:app", app_dir=tmp_path)
    host.start()
    try:
        stream_on_the_page(offline.context, host, fake_openai, ANSWER)
        graphiql_runs_under_the_prefix(offline.context, host)
        run(streams_over_every_transport(host, fake_openai))
        # The app's own route reads its own table; its OpenAPI schema lists only its own routes.
        assert httpx.get(f"{host.url}/notes", timeout=10).json() == [list(note) for note in NOTES]
        assert list(httpx.get(f"{host.url}/openapi.json", timeout=10).json()["paths"]) == ["/notes"]
        assert httpx.get(f"{host.url}/graphql", timeout=10).status_code == 404
    finally:
        host.stop()
    assert "host engine after persistream stopped: 2 notes" in host.log(), host.log()[-2000:]

    # Both histories intact: the app's row as it was, its table and rows untouched, persistream's at its head.
    assert run(rows(empty_database, "SELECT version_num FROM alembic_version")) == [("myapp_0001",)]
    assert run(rows(empty_database, "SELECT version_num FROM persistream_alembic_version")) == [(head_revision(),)]
    assert run(rows(empty_database, "SELECT id, body FROM notes ORDER BY id")) == NOTES
    assert run(rows(empty_database, "SELECT count(*) FROM messages")) == [(3,)]
    # The app's next revision still applies, and persistream stays migrated.
    run(app_upgrade(empty_database, app_migrations, "head"))
    assert run(rows(empty_database, "SELECT version_num FROM alembic_version")) == [("myapp_0002",)]
    assert run(rows(empty_database, "SELECT id, body, pinned FROM notes ORDER BY id")) == [
        (*note, None) for note in NOTES
    ]
    assert persistream("migrate", "--check", database_url=empty_database).returncode == 0
