"""`python -m bench.soak --minutes M --connections C`: see bench/soak/__init__.py.

One run: the test model in its own process (short paced answers), `persistream serve` in another (SQLite and
memory:// by default, as embedded; `--database postgresql` makes a fresh database and drops it after, `--broadcast
redis` uses the machine's Redis), C connections from this process for M minutes, then every connection closed and
the server watched until it settles. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.model_server import ModelClient
from bench.observer_latency import REDIS_URL
from bench.rig import model_process, persistream_server, postgres_database
from bench.soak.heap import Snapshots, growth
from bench.soak.probe import Probe, Sample, file_kinds
from bench.soak.traffic import Answer, Traffic, one_result, register_answers
from bench.soak.verdict import Run, Thresholds, report
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS
from tests.support.server import ServerProcess

ANSWER_SCRIPTS = 8
MODEL_KEEPALIVE = 5.0  # httpx's keep-alive expiry, which the openai client keeps
# After the traffic: the least time to wait for the server to settle, and the most.
SETTLE_AT_LEAST, SETTLE_AT_MOST = 1.0, 30.0


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--minutes", type=float, default=1.0, help="how long the traffic runs once every connection is open")
    add("--connections", type=int, default=100, help="WebSocket connections (graphql-transport-ws), one per client")
    add("--drivers", type=float, default=0.1, help="fraction of the connections that drive; the rest observe")
    add("--tokens", type=int, default=60, help="tokens per answer")
    add("--token-interval", type=float, default=0.05, help="seconds the model waits before each token")
    add("--pause", type=float, default=20.0, help="mean seconds a connection rests between two answers")
    add("--stored-check", type=float, default=0.1, help="fraction of observed answers also read back from the store")
    add("--database", choices=("sqlite", "postgresql"), default="sqlite")
    add("--broadcast", choices=("memory", "redis"), default="memory")
    add("--compression", choices=("deflate", "none"), default="deflate", help="permessage-deflate, as browsers ask")
    add("--warmup", type=float, default=None, help="seconds before the start sample (default min(60, 20 %% of it))")
    add("--sample-every", type=float, default=5.0, help="seconds between two samples of the server")
    add("--timeline", type=float, default=30.0, help="seconds between two samples printed in the timeline")
    add(
        "--window",
        type=int,
        default=None,
        help="samples whose median is the start (and the end); default a tenth of the measured ones, at least 3",
    )
    add("--max-memory-growth", type=float, default=10.0, help="%% of the start RSS the end may exceed it by")
    add(
        "--flat",
        type=float,
        default=10.0,
        help="%% tasks and open files may differ by between start and end (both follow the answers and "
        "subscriptions live at the moment; the exact check is the one after closing)",
    )
    add("--after-tasks", type=int, default=5, help="tasks above the idle server's allowed once all have closed")
    add(
        "--after-files",
        type=int,
        default=40,
        help="open files above the idle server's allowed then (SQLite keeps a closed connection's descriptor for "
        "reuse while another connection holds a lock on the file: about one per connection the pool had open)",
    )
    add("--after-sockets", type=int, default=2, help="of which sockets (the model's idle ones have expired)")
    add("--seed", type=int, default=None)
    add(
        "--trace-memory",
        action="store_true",
        help="run the server under tracemalloc and print what grew between the start and the end (slow)",
    )
    add("--log-dir", default=None, help="keep the server's log in this directory (default: a temporary one)")
    return parser.parse_args()


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{workdir / 'soak.db'}"


async def warm(server: ServerProcess, answer: Answer) -> None:
    """One answer before anything is measured: first imports, first writes, the model connection."""
    async with GraphQLWS(server.graphql_ws) as client:
        sent = (await one_result(client, SEND, {"prompt": f"{answer.marker} warm-up"}))["sendMessage"]
        async for _ in client.subscribe(STREAM_CHAT, {"id": sent["responseStreamId"]}):
            pass


async def settle(probe: Probe, idle: Sample, slack: int) -> Sample:
    """The server's sample once its tasks are back near the idle level (or after SETTLE_AT_MOST seconds)."""
    await asyncio.sleep(SETTLE_AT_LEAST)
    deadline = time.monotonic() + SETTLE_AT_MOST
    sample = await probe.sample(0)
    while sample.tasks > idle.tasks + slack and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        sample = await probe.sample(0)
    return sample


async def soak(args: argparse.Namespace, server: ServerProcess, model: ModelClient) -> Run:
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"soak: seed {seed}", flush=True)
    answers = register_answers(model, ANSWER_SCRIPTS, args.tokens, args.token_interval, seed)
    (quick,) = register_answers(model, 1, 8, 0.0, seed + 1)  # for the answers before and after the traffic
    assert model.pid is not None
    probe = Probe(server, model.pid)
    await warm(server, quick)
    await asyncio.sleep(1)
    await probe.sample(0)  # the CPU figures of the next sample start here
    await asyncio.sleep(1)
    idle = await probe.sample(0)
    idle_files = file_kinds(probe.pid)
    traffic = Traffic(
        server.graphql_ws,
        answers,
        connections=args.connections,
        drivers=args.drivers,
        pause=args.pause,
        stored_check=args.stored_check,
        compression=None if args.compression == "none" else "deflate",
        seed=seed,
    )
    opened = time.monotonic()
    await traffic.start()
    print(f"soak: {args.connections} connections open in {time.monotonic() - opened:.1f} s", flush=True)
    probe.restart_clock()
    duration = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(60.0, 0.2 * duration)
    snapshots = Snapshots(probe.pid, Path(args.trace_memory)) if args.trace_memory else None
    samples: list[Sample] = []
    while True:
        await asyncio.sleep(min(args.sample_every, max(0.0, duration - (samples[-1].at if samples else 0))))
        samples.append(await probe.sample(traffic.open_sockets))
        if snapshots and not snapshots.taken and samples[-1].at >= warmup:
            await snapshots.take()  # beside the start sample
        if samples[-1].at >= duration - 0.5:
            break
    if snapshots:
        await snapshots.take()  # beside the end sample
    await traffic.stop()
    # The openai client keeps its connections to the model for a few idle seconds, and closes the expired ones
    # at its next request: past that, one more answer, so the files left open are what the server itself kept.
    await asyncio.sleep(MODEL_KEEPALIVE + 1)
    await warm(server, quick)
    after = await settle(probe, idle, args.after_tasks)
    after_files = file_kinds(probe.pid)
    if snapshots and len(snapshots.taken) == 2:
        for line in growth(snapshots.taken[0], snapshots.taken[-1]):
            print(f"soak: {line}")
    return Run(
        minutes=args.minutes,
        connections=args.connections,
        drivers=traffic.driver_count,
        observers=traffic.observer_count,
        database=args.database,
        broadcast=args.broadcast,
        warmup=warmup,
        idle=idle,
        samples=samples,
        after=after,
        tally=traffic.tally,
        scripted=args.tokens * args.token_interval,
        thresholds=Thresholds(
            args.max_memory_growth, args.flat, args.after_tasks, args.after_files, args.after_sockets
        ),
        window=args.window or max(3, len([s for s in samples if s.at >= warmup]) // 10),
        files_by_kind=(idle_files, after_files),
    )


def main() -> int:
    args = options()
    broadcast = REDIS_URL if args.broadcast == "redis" else "memory://"
    with tempfile.TemporaryDirectory() as tmp, model_process() as model, database(args.database, Path(tmp)) as url:
        logs = Path(args.log_dir) if args.log_dir else Path(tmp)
        traced: dict[str, str] = {}
        command = None
        if args.trace_memory:
            command = [sys.executable, "-m", "bench.soak.traced_server"]
            args.trace_memory = traced["SOAK_SNAPSHOTS"] = tmp
        with persistream_server(model, url, logs, command, PERSISTREAM_BROADCAST_URL=broadcast, **traced) as server:
            print(f"soak: server log {server.log_path}", flush=True)
            run = asyncio.run(soak(args, server, model))
    report(run, timeline_every=max(1, round(args.timeline / args.sample_every)))
    return 1 if run.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
