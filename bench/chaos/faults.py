"""Faults of the whole cluster: a Redis restart, a cut of the link to PostgreSQL, a SIGKILL of server A or B (then
started again). One at a time (a lock), so a killed process always has a partner alive to take its subscribers;
every one is kept in `struck`, so each run learns which of them overlapped it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.chaos.cluster import Cluster
from bench.chaos.history import History
from bench.chaos.plan import FaultKind
from tests.support.server import START_TIMEOUT


@dataclass
class Struck:
    kind: FaultKind
    process: str
    started: float
    ended: float | None = None

    def overlaps(self, start: float, end: float) -> bool:
        return self.started < end and (self.ended is None or self.ended > start)

    def describe(self) -> str:
        what = f"{self.kind} of {self.process}" if self.process else str(self.kind)
        length = f"{self.ended - self.started:.2f} s" if self.ended is not None else "still going on"
        return f"{what} ({length})"


class Injector:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.lock = asyncio.Lock()
        self.struck: list[Struck] = []

    async def strike(self, kind: FaultKind, *, process: str = "", duration: float = 0.0, history: History) -> None:
        async with self.lock:
            entry = Struck(kind, process, time.monotonic())
            self.struck.append(entry)
            history.add("fault", f"{kind} {process} begins".replace("  ", " "))
            try:
                if kind is FaultKind.REDIS_RESTART:
                    await asyncio.to_thread(self.cluster.redis.kill)
                    await asyncio.sleep(duration)
                    await asyncio.to_thread(self.cluster.redis.start)
                elif kind is FaultKind.PG_CUT:
                    await asyncio.to_thread(self.cluster.proxy.cut)
                    await asyncio.sleep(duration)
                    await asyncio.to_thread(self.cluster.proxy.restore)
                elif kind is FaultKind.SIGKILL:
                    server = self.cluster.servers[process]
                    self.cluster.down.add(process)
                    await asyncio.to_thread(server.kill)
                    history.add("fault", f"{process} killed; starting it again")
                    await asyncio.to_thread(server.start, START_TIMEOUT)
                else:
                    raise ValueError(f"{kind} is not a cluster fault")
            finally:
                entry.ended = time.monotonic()
                self.cluster.down.discard(process)
                history.add("fault", f"{kind} {process} over".replace("  ", " "))

    def overlapping(self, start: float, end: float) -> list[Struck]:
        return [entry for entry in self.struck if entry.overlaps(start, end)]
