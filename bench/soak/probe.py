"""Samples of the server process taken from outside: resident memory and open files from /proc, asyncio tasks and
database connections from its `/metrics` (persistream_asyncio_tasks, persistream_database_connections), CPU from
/proc for the server, the model and this process (the client, to show it is not what limits the run)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.metrics import scrape, value
from tests.support.server import ServerProcess

TICKS = os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def file_kinds(pid: int) -> dict[str, int]:
    """The process's open files by kind: `socket`, `pipe`, `anon_inode:[eventpoll]`, or a file's name."""
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed meanwhile
            continue
        kind = target.split(":", 1)[0] if target.startswith(("socket:", "pipe:")) else Path(target).name or target
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def cpu_seconds(pid: int) -> float:
    """User and system time of the process so far (fields 14 and 15 of /proc/PID/stat, after the command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the traffic started (negative: before it)
    rss_kb: int
    open_files: int
    tasks: int
    db_in_use: int
    db_idle: int
    server_cpu: float  # % of one core since the previous sample
    model_cpu: float
    client_cpu: float
    sockets: int  # the client's open connections when the sample was taken

    @property
    def db_connections(self) -> int:
        return self.db_in_use + self.db_idle


class Probe:
    def __init__(self, server: ServerProcess, model_pid: int) -> None:
        assert server.process is not None
        self.server = server
        self.pid = server.process.pid
        self.model_pid = model_pid
        self.origin = time.monotonic()
        self._last = self._cpu_now()

    def _cpu_now(self) -> tuple[float, float, float, float]:
        return (time.monotonic(), cpu_seconds(self.pid), cpu_seconds(self.model_pid), cpu_seconds(os.getpid()))

    def restart_clock(self) -> None:
        """Sample times count from now (the traffic's start)."""
        self.origin = time.monotonic()

    async def sample(self, sockets: int) -> Sample:
        metrics = await scrape(self.server)
        now = self._cpu_now()
        elapsed = max(now[0] - self._last[0], 1e-6)
        server, model, client = ((now[i] - self._last[i]) / elapsed * 100 for i in (1, 2, 3))
        self._last = now
        return Sample(
            at=now[0] - self.origin,
            rss_kb=rss_kb(self.pid),
            open_files=open_files(self.pid),
            tasks=int(value(metrics, "persistream_asyncio_tasks")),
            db_in_use=int(value(metrics, "persistream_database_connections", state="in_use")),
            db_idle=int(value(metrics, "persistream_database_connections", state="idle")),
            server_cpu=server,
            model_cpu=model,
            client_cpu=client,
            sockets=sockets,
        )
