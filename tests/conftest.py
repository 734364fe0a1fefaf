from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fake_openai import SECRET_KEY, FakeOpenAI
from tests.support.pg import create_database, drop_database, pg_url
from tests.support.secrets import remember
from tests.support.server import ServerProcess, stop_servers

# Every server log is searched for these when the server stops (tests/support/server.py).
remember(SECRET_KEY)

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    yield fake
    fake.stop()


def server_env(fake: FakeOpenAI, db_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PERSISTREAM_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "PERSISTREAM_BROADCAST_URL": "memory://",
        "PERSISTREAM_PROVIDER": "openai",
        "OPENAI_API_KEY": SECRET_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "PERSISTREAM_MODEL": "test-model",
        "PERSISTREAM_FLUSH_MS": "100",
        # A test server stopped at teardown may still be generating (a hung model, say): give such answers a short
        # grace instead of 30 s. Tests of the shutdown itself set their own.
        "PERSISTREAM_SHUTDOWN_GRACE": "2",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    """One server per test module, on its own SQLite file, with the fake OpenAI server behind it."""
    process = ServerProcess(
        server_env(fake_openai, module_tmp / "persistream.db"), log_path=module_tmp / "server.log"
    ).start()
    yield process
    process.stop()


@pytest.fixture
def make_server(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[ServerFactory]:
    """Servers with custom settings for one test; all are stopped at its end."""
    started: list[ServerProcess] = []

    def make(db_path: Path | None = None, **env: str) -> ServerProcess:
        process = ServerProcess(
            server_env(fake_openai, db_path or tmp_path / "persistream.db", **env),
            log_path=tmp_path / f"server-{len(started)}.log",
        ).start()
        started.append(process)
        return process

    yield make
    stop_servers(*started)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new SQLite file, then a new PostgreSQL database (dropped at the end): no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        return
    name = create_database(migrate=False)
    yield pg_url(name)
    drop_database(name)
