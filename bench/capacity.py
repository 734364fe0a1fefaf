"""Capacity: the most concurrent 50 tokens/s streams served with model -> driver p99 under 50 ms, through the real
path (bench/paced.py's streams, all started together), found by doubling the count and then bisecting, each step
one paced run of about 5 s. Three figures from one run, each found the same way:
- one `persistream serve` process on SQLite and the in-process broadcast;
- four processes on one PostgreSQL database and Redis, the streams spread evenly over them (the way persistream
  scales out: a load balancer in front of several processes);
- the baseline: the raw relay (bench/relay.py: a bare Starlette WebSocket that makes the same request to the same
  model with the openai SDK and forwards each token), alone.

    .venv/bin/python -m bench.capacity [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.paced import RATE, paced_marker, persistream_stream, relay_process, send, split_start, through_relay
from bench.report import Row, emit
from bench.rig import model_process, percentile, persistream_server, postgres_redis_cluster

LIMIT_MS = 50.0


def capacity(name: str, p99_at: Callable[[int], float], steps: int) -> tuple[int, float, bool]:
    """(the most streams under the limit, their p99, whether a count over the limit was found): double from 10
    until a count fails, then bisect between the last good and the first bad count."""
    good, bad, count = 0, 0, 10
    good_p99 = 0.0
    for _ in range(steps):
        figure = p99_at(count)
        print(f"capacity {name}: {count} streams -> p99 {figure:.1f} ms", flush=True)
        if figure < LIMIT_MS:
            good, good_p99 = count, figure
        else:
            bad = count
        if bad and bad - good <= max(2, good // 10):
            break
        count = count * 2 if not bad else (good + bad) // 2
    return good, good_p99, bool(bad)


async def through_cluster(urls: list[str], marker: str, streams: int, tokens: int) -> list[float]:
    """`streams` paced answers, sent and driven round-robin over the processes at `urls`; every token's latency."""
    targets = [urls[i % len(urls)] for i in range(streams)]
    ids = await asyncio.gather(*(send(f"{url}/graphql", f"{marker} {uuid.uuid4().hex}") for url in targets))
    per_stream = await asyncio.gather(
        *(persistream_stream(url, stream_id) for url, stream_id in zip(targets, ids, strict=True))
    )
    return split_start(list(per_stream), tokens)[0]


def figure(what: str, found: tuple[int, float, bool]) -> str:
    count, p99, bounded = found
    return f"{what} {count} streams (p99 {p99:.1f} ms)" + ("" if bounded else ", the most tried")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    tokens = 100 if options.quick else 250
    steps = 4 if options.quick else 7
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        model = stack.enter_context(model_process())
        relay = stack.enter_context(relay_process(model))
        marker = paced_marker(model, tokens)

        def p99_of(run: Callable[[int], list[float]]) -> Callable[[int], float]:
            return lambda streams: percentile(run(streams), 0.99)

        relay_found = capacity(
            "relay", p99_of(lambda n: asyncio.run(through_relay(relay, marker, n, tokens))[0]), steps
        )
        with persistream_server(model, f"sqlite+aiosqlite:///{tmp / 'capacity.db'}", tmp) as server:
            one = [server.url]
            asyncio.run(through_cluster(one, marker, 2, tokens))  # warm up
            one_found = capacity(
                "1 process", p99_of(lambda n: asyncio.run(through_cluster(one, marker, n, tokens))), steps
            )
        four = [server.url for server in stack.enter_context(postgres_redis_cluster(model, tmp))]
        asyncio.run(through_cluster(four, marker, 8, tokens))  # warm up every process
        four_found = capacity(
            "4 processes", p99_of(lambda n: asyncio.run(through_cluster(four, marker, n, tokens))), steps
        )
    what = f"capacity: concurrent {RATE} tokens/s streams with model -> driver p99 < {LIMIT_MS:.0f} ms"
    relay_count = max(relay_found[0], 1)
    emit(
        [
            Row(
                f"{what}, one process (SQLite)",
                figure("", one_found).strip() + f" = {one_found[0] / relay_count:.2f}x the relay's",
                figure("raw relay:", relay_found),
                "at least 0.5x the relay's",
            ),
            Row(
                f"{what}, four processes (PostgreSQL + Redis, streams spread evenly)",
                figure("", four_found).strip() + f" = {four_found[0] / max(one_found[0], 1):.2f}x one process",
                figure("one process (above):", one_found),
                "at least 3x one process",
            ),
        ]
    )


if __name__ == "__main__":
    main()
