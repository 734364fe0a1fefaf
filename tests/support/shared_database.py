"""A database an app already uses, for persistream to share: the app's own Alembic history (its revisions written
by the test, recorded in Alembic's default `alembic_version`) and `notes` table; the app itself, a FastAPI app
mounting persistream under /chat on the app's own engine; a persistream database made as the versions before
persistream's own version table made it; and reading what a database holds."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.db.migrations import MIGRATIONS_DIR

APP_REVISIONS = {
    "myapp_0001": """
        op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.String))
        op.execute("INSERT INTO notes (id, body) VALUES (1, 'first'), (2, 'second')")
    """,
    "myapp_0002": """
        op.add_column("notes", sa.Column("pinned", sa.Boolean, nullable=True))
    """,
}
# An env.py as `alembic init` leaves it, minus the URL: Alembic's defaults, its history in `alembic_version`.
DEFAULT_ENV = """
from alembic import context
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""
NOTES = [(1, "first"), (2, "second")]

# The host app, as its developer writes it: its own routes and engine, persistream mounted under /chat on that
# same engine, persistream's start and stop inside its own lifespan. Served by uvicorn as `shared_host:app`.
HOST_APP = """
import contextlib, os
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
import persistream.web
from persistream.config import Settings

engine = create_async_engine(os.environ["HOST_DATABASE_URL"])
chat = persistream.web.create_app(Settings.from_env(), engine=engine)

@contextlib.asynccontextmanager
async def lifespan(_app):
    async with persistream.web.lifespan(chat):
        yield
    # persistream has stopped: the engine is still the app's, and still works.
    async with engine.connect() as conn:
        notes = (await conn.execute(text("SELECT count(*) FROM notes"))).scalar()
    print(f"host engine after persistream stopped: {notes} notes", flush=True)
    await engine.dispose()

app = FastAPI(lifespan=lifespan)
app.mount("/chat", chat)

@app.get("/notes")
async def notes():
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
    return [list(row) for row in rows]
"""
HOST_MODULE = "shared_host"


def write_default_env(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(DEFAULT_ENV)
    return folder


def write_app_migrations(folder: Path) -> Path:
    (write_default_env(folder) / "versions").mkdir()
    previous = None
    for revision, body in APP_REVISIONS.items():
        header = f"revision = {revision!r}\ndown_revision = {previous!r}\nbranch_labels = None\ndepends_on = None\n"
        upgrade = "def upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"
        source = "import sqlalchemy as sa\nfrom alembic import op\n" + header + upgrade
        (folder / "versions" / f"{revision}.py").write_text(source)
        previous = revision
    return folder


def _upgrade(conn: Connection, folder: Path, revision: str, versions: Path | None) -> None:
    config = Config()
    config.set_main_option("script_location", str(folder))
    if versions is not None:
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(versions))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def app_upgrade(url: str, folder: Path, revision: str, versions: Path | None = None) -> None:
    """`alembic upgrade` with Alembic's defaults (the history in `alembic_version`) of the revisions in `versions`
    (by default the app's own, in `folder`)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, folder, revision, versions)
    finally:
        await engine.dispose()


async def older_persistream_migrate(url: str, folder: Path, revision: str = "head") -> None:
    """What `persistream migrate` did in the versions before persistream's own version table: persistream's
    revisions run by Alembic with its defaults, so the history is in `alembic_version`, named as Alembic names it."""
    await app_upgrade(url, write_default_env(folder), revision, MIGRATIONS_DIR / "versions")


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
