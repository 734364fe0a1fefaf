"""Fan-out across processes: one answer watched by 1,000 observers when persistream runs as four processes on one
PostgreSQL database and Redis, beside a bare broadcast of the same model's lines to as many sockets, in one run.

    .venv/bin/python -m bench.fanout_cluster [--quick] [--observers 1000]

The answer is driven on the first process (the openai provider reading the test model over HTTP, a stamped line of
160 characters every 50 ms, each stored and published as a chunk of its own). Two placements of the observers,
each from Node processes (bench/fanout_client.mjs) holding one socket per observer: all of them on the second
process (every chunk reaches them through Redis), then spread evenly over the four processes. The baseline is
bench/relay.py's `/fan` (a bare Starlette endpoint reading the same model and putting each line on every
listening socket's queue), for the same number of sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from bench.fanout import INTERVAL, LINE, Observers, baseline_run, drive, p50_p99
from bench.paced import relay_process
from bench.report import Row, emit
from bench.rig import model_process, postgres_redis_cluster
from tests.support.gql import SEND, gql_data
from tests.support.server import ServerProcess


async def cluster_run(driving: ServerProcess, watched: list[ServerProcess], marker: str, count: int) -> dict[str, Any]:
    """Drive one answer on `driving` with `count` observers spread evenly over `watched`; their latencies."""
    stream_id = (await gql_data(driving.graphql_http, SEND, {"prompt": marker}))["sendMessage"]["responseStreamId"]
    shares = [count // len(watched) + (1 if i < count % len(watched) else 0) for i in range(len(watched))]
    groups = [
        Observers({"url": server.graphql_ws, "mode": "graphql", "count": share, "streamId": stream_id})
        for server, share in zip(watched, shares, strict=True)
        if share
    ]
    for group in groups:
        await group.ready()
    await drive(driving, stream_id)
    results = [await group.result() for group in groups]
    statuses = [s for r in results for s in r["statuses"]]
    assert len(statuses) == count and all(s == "DONE" for s in statuses), statuses[:5]
    return {"latencies": [ms for r in results for ms in r["latencies"]]}


async def measure(servers: list[ServerProcess], fan_url: str, marker: str, warm: str, count: int) -> list[Row]:
    await cluster_run(servers[0], servers, warm, 8)  # every process: first imports, its first subscription
    await baseline_run(fan_url, warm, 1)
    rows = []
    for placement, watched in (("on another process", servers[1:2]), ("spread over the four", servers)):
        base = await baseline_run(fan_url, marker, count)
        ours = await cluster_run(servers[0], watched, marker, count)
        rows.append(
            Row(
                f"4 processes (PostgreSQL + Redis): 1 answer x {count} observers {placement}: model -> observer",
                p50_p99(ours["latencies"]),
                f"bare Starlette broadcast, same sockets: {p50_p99(base['latencies'])}",
                "p99 <= 3x baseline",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 observers, 30 lines")
    parser.add_argument("--observers", type=int, default=1000)
    options = parser.parse_args()
    count, lines = (200, 30) if options.quick else (options.observers, 100)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        model = stack.enter_context(model_process())
        fan_url = stack.enter_context(relay_process(model)).removesuffix("/relay") + "/fan"
        servers = stack.enter_context(postgres_redis_cluster(model, tmp))
        marker = model.script(f"cluster-fan-{lines}", ["x"] * lines, delay=INTERVAL, stamped=True, line=LINE)
        warm = model.script("cluster-fan-warm", ["x"] * 5, delay=INTERVAL, stamped=True, line=LINE)
        rows = asyncio.run(measure(servers, fan_url, marker, warm, count))
    emit(rows)


if __name__ == "__main__":
    main()
