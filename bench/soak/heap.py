"""What grew in the server's memory between two tracemalloc snapshots (a server run by bench/soak/traced_server.py):
the lines that allocated the most more, and the call paths of the biggest."""

from __future__ import annotations

import asyncio
import os
import signal
import tracemalloc
from pathlib import Path


class Snapshots:
    def __init__(self, pid: int, directory: Path) -> None:
        self.pid = pid
        self.directory = directory
        self.taken: list[Path] = []

    async def take(self, timeout: float = 120.0) -> None:
        path = self.directory / f"{len(self.taken) + 1}.snapshot"
        os.kill(self.pid, signal.SIGUSR1)
        async with asyncio.timeout(timeout):
            while not path.exists():  # noqa: ASYNC110  (written by another process)
                await asyncio.sleep(0.2)
        self.taken.append(path)


def growth(first: Path, last: Path, top: int = 15, paths: int = 3) -> list[str]:
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    before = tracemalloc.Snapshot.load(str(first)).filter_traces(ignore)
    after = tracemalloc.Snapshot.load(str(last)).filter_traces(ignore)
    total = sum(s.size for s in after.statistics("filename")) - sum(s.size for s in before.statistics("filename"))
    lines = [f"traced memory {total / 1024:+,.0f} KB between the snapshots; the lines that grew most:"]
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        lines.append(
            f"  {stat.size_diff / 1024:+9,.0f} KB {stat.count_diff:+8,} blocks  {frame.filename}:{frame.lineno}"
        )
    for stat in after.compare_to(before, "traceback")[:paths]:
        lines.append(f"  path of {stat.size_diff / 1024:+,.0f} KB ({stat.count_diff:+,} blocks):")
        lines += [f"      {frame.filename}:{frame.lineno}" for frame in stat.traceback]
    return lines
