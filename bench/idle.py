"""Idle observers: what 1,000 observers of a PENDING stream cost the server in memory and CPU while nothing happens,
beside the same sockets held open on a bare Starlette WebSocket endpoint in the same run.

    .venv/bin/python -m bench.idle [--quick]

One server process (bench/server.py) on a fresh SQLite file; one Node process (bench/fanout_client.mjs) opens the
sockets, one each, and subscribes `streamBody` to a stream nobody drives. Memory is the server's RSS after the
sockets are up minus before, divided by their number; CPU is the server's user+system time over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.fanout import BenchServer, Observers
from bench.report import Row, emit
from tests.support.gql import SEND, gql_data


async def hold(
    server: BenchServer, url: str, mode: str, count: int, window: float, stream_id: str = ""
) -> tuple[float, float]:
    """(KB per socket, % of a core) for `count` sockets held open for `window` seconds."""
    before = server.rss_kb()
    observers = Observers({"url": url, "mode": mode, "count": count, "streamId": stream_id, "hold": window + 4})
    await observers.ready()
    await asyncio.sleep(2)  # let the last subscriptions settle
    cpu, started = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(window)
    busy = (server.cpu_seconds() - cpu) / (time.monotonic() - started) * 100
    per_socket = (server.rss_kb() - before) / count
    await observers.result()
    return per_socket, busy


async def measure(count: int, window: float, *, graphql: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as workdir:
        server = BenchServer(Path(workdir))
        try:
            warm = (await gql_data(server.http, SEND, {"prompt": "tokens=1"}))["sendMessage"]["responseStreamId"]
            await hold(server, f"{server.ws}/graphql", "graphql", 20, 0.5, warm)  # first imports and allocations
            if not graphql:
                return await hold(server, f"{server.ws}/rawfan", "raw", count, window)
            stream_id = (await gql_data(server.http, SEND, {"prompt": "tokens=1"}))["sendMessage"]["responseStreamId"]
            return await hold(server, f"{server.ws}/graphql", "graphql", count, window, stream_id)
        finally:
            server.stop()


async def main(quick: bool) -> None:
    count, window = (200, 5.0) if quick else (1000, 20.0)
    # A fresh server for each measurement: memory freed by one run's sockets would be reused by the next.
    raw_kb, raw_cpu = await measure(count, window, graphql=False)
    kb, cpu = await measure(count, window, graphql=True)
    emit(
        [
            Row(
                f"{count} idle observers of a PENDING stream: server memory per observer",
                f"{kb:.1f} KB",
                f"bare Starlette socket, held open: {raw_kb:.1f} KB",
                "< 20 KB",
            ),
            Row(
                f"{count} idle observers: server CPU over {window:.0f} s",
                f"{cpu:.1f} % of a core",
                f"bare sockets: {raw_cpu:.1f} %",
                "< 5 %",
            ),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
