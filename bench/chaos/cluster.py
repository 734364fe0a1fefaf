"""The servers every chaos run shares, started once and torn down at the end:

- the test model (tests/support/fake_openai.py) in this process, which records every request by script name;
- a private redis-server (killed and started again by `redis_restart`);
- a TCP proxy in front of PostgreSQL (cut and restored by `pg_cut`) and a fresh, migrated database behind it;
- four server processes A, B, C and D (or two, A and B) on that database through the proxy and on the private
  Redis, and S on its own SQLite file and `memory://`;
- on every process the `pause` tool (`TOOLS_MODULE`, written into the work folder), which waits as long as the
  model asks, so a fault can strike while a tool runs.

The servers run with short timeouts, so a hung model or a killed process ends its stream within seconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.chaos.plan import SHARED, SQLITE
from tests.support.fake_openai import SECRET_KEY, FakeOpenAI
from tests.support.faults import RedisServer, TcpProxy
from tests.support.pg import create_database, drop_database, pg_port, pg_url
from tests.support.secrets import remember
from tests.support.server import ROOT, ServerProcess

# Seconds five servers starting side by side may take on a busy two-core machine.
START_TIMEOUT = 300.0
# Short, so a hung model or a killed process ends its stream within seconds; not shorter, because on a shared
# two-core machine at a load of 15 to 20 a live process's heartbeat can be late by more than 2.5 s (five server
# processes, the model and every client on two cores), and the sweeper then rightly takes it for dead.
STREAM_TIMEOUT = 5.0
PENDING_TIMEOUT = 10.0
FLUSH_MS = 50
# Longer than any tool of a plan runs (1.5 s), shorter than a run's patience.
TOOL_TIMEOUT = 10.0
TOOLS_MODULE = '''
import asyncio


async def pause(seconds: float, word: str) -> str:
    """Wait `seconds`, then say which word it waited for."""
    await asyncio.sleep(seconds)
    return f"paused for {word}"


TOOLS = [pause]
'''


def chaos_env(fake: FakeOpenAI, database_url: str, broadcast_url: str, tools: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(tools), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PERSISTREAM_TOOLS": "chaos_tools:TOOLS",
        "PERSISTREAM_TOOL_TIMEOUT": str(TOOL_TIMEOUT),
        "PYTHONPATH": path,
        "PERSISTREAM_DATABASE_URL": database_url,
        "PERSISTREAM_BROADCAST_URL": broadcast_url,
        "PERSISTREAM_PROVIDER": "openai",
        "OPENAI_API_KEY": SECRET_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "PERSISTREAM_MODEL": "chaos-model",
        "PERSISTREAM_FLUSH_MS": str(FLUSH_MS),
        "PERSISTREAM_STREAM_TIMEOUT": str(STREAM_TIMEOUT),
        # A hang before the first token ends the answer as fast as a hang after it (the checker expects TIMEOUT).
        "PERSISTREAM_FIRST_TOKEN_TIMEOUT": str(STREAM_TIMEOUT),
        "PERSISTREAM_PENDING_TIMEOUT": str(PENDING_TIMEOUT),
        "PERSISTREAM_RATE_LIMIT": "off",
        "PERSISTREAM_MAX_LIVE_STREAMS": "0",
        "PERSISTREAM_MAX_SUBSCRIPTIONS": "1000",
        "PERSISTREAM_SHUTDOWN_GRACE": "2",
    }


def start_servers(*servers: ServerProcess, timeout: float) -> None:
    with ThreadPoolExecutor(len(servers)) as pool:
        for future in [pool.submit(server.start, timeout) for server in servers]:
            future.result()


class Cluster:
    def __init__(self, processes: int = 4) -> None:
        self.shared = SHARED[processes]
        self.workdir = Path(tempfile.mkdtemp(prefix="persistream-chaos-"))
        remember(SECRET_KEY)  # every server log is searched for it when the server stops
        self.fake = FakeOpenAI()
        self.redis = RedisServer(self.workdir / "redis.log")
        self.proxy = TcpProxy(pg_port())
        self.database: str | None = None
        self.servers: dict[str, ServerProcess] = {}
        # Processes killed and not yet answering again: nobody is sent to them meanwhile.
        self.down: set[str] = set()

    def start(self) -> Cluster:
        self.fake.start()
        self.redis.start()
        self.proxy.start()
        self.database = create_database()
        tools = self.workdir / "tools"
        tools.mkdir()
        (tools / "chaos_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
        shared_env = chaos_env(self.fake, pg_url(self.database, port=self.proxy.port), self.redis.url, tools)
        sqlite_env = chaos_env(self.fake, f"sqlite+aiosqlite:///{self.workdir / 's.db'}", "memory://", tools)
        for name in self.shared:
            self.servers[name] = ServerProcess(shared_env, log_path=self.workdir / f"server-{name}.log")
        self.servers[SQLITE] = ServerProcess(sqlite_env, log_path=self.workdir / f"server-{SQLITE}.log")
        try:
            start_servers(*self.servers.values(), timeout=START_TIMEOUT)
        except BaseException:
            self.stop(keep_logs=True)
            raise
        return self

    def url(self, process: str) -> str:
        return self.servers[process].graphql_http

    def ws_url(self, process: str) -> str:
        return self.servers[process].graphql_ws

    def stop(self, *, keep_logs: bool) -> list[str]:
        """Stop everything and drop the database; the secrets found in server logs (none, or a violation)."""
        problems = []
        for name, server in self.servers.items():
            try:
                server.stop()
            except AssertionError as exc:
                problems.append(f"server {name}: {exc}")
        self.proxy.close()
        self.redis.kill()
        if self.database is not None:
            drop_database(self.database)
        self.fake.stop()
        if not keep_logs and not problems:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems
