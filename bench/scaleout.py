"""Scale-out traffic: what a process with no observers pays for the rest of the cluster's answers.

    .venv/bin/python -m bench.scaleout [--seconds 10] [--streams 10] [--interval 0.01] [--quick]

Four `persistream serve` processes share a fresh PostgreSQL database (dropped at the end) and a Redis of their own.
The test model (its own process, reached through the openai provider) sends lines, each its own chunk: `--streams`
answers driven on the first process, a line every `--interval` seconds each (10 x 0.01 s: about 1,000 chunks/s).
The three other processes have no observer. For each of them: its CPU (share of one core) over `--seconds` with no
traffic, then over `--seconds` while the cluster streams, side by side, and their ratio (target: at most 1.2x).
Each process subscribes only to the streams its own observers follow, so an idle one should hear nothing but its
own pings. The machine is shared: figures move with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path

from bench.claims import drive_answers
from bench.report import Row, emit
from bench.rig import model_process, postgres_redis_cluster
from tests.support.server import ServerProcess

LINE = "a line of the answer\n"
TARGET = 1.2


def cpu_seconds(server: ServerProcess) -> float:
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_shares(servers: list[ServerProcess], seconds: float) -> list[float]:
    """Each server's CPU over the next `seconds`, in percent of one core."""
    before, started = [cpu_seconds(s) for s in servers], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return [(cpu_seconds(s) - b) / elapsed * 100 for s, b in zip(servers, before, strict=True)]


async def drive(url: str, marker: str, streams: int) -> tuple[int, float]:
    """Drive `streams` answers to their end on `url`; (characters received, seconds)."""
    drivers, elapsed = await drive_answers(url, marker, streams)
    return sum(d.offset for d in drivers), elapsed


async def while_streaming(
    busy: ServerProcess, idle: list[ServerProcess], marker: str, options: argparse.Namespace
) -> tuple[list[float], float]:
    loop = asyncio.get_running_loop()
    driving = asyncio.create_task(drive(busy.url, marker, options.streams))
    await asyncio.sleep(1.0)  # every answer under way
    shares = await loop.run_in_executor(None, cpu_shares, idle, options.seconds)
    assert not driving.done(), "the answers ended before the measurement did: raise --seconds' margin"
    received, elapsed = await driving
    return shares, received / len(LINE) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement window (default 10)")
    parser.add_argument("--streams", type=int, default=10, help="answers at once on the busy process (default 10)")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between lines of an answer")
    parser.add_argument("--quick", action="store_true", help="4 s windows (as `python -m bench --quick` runs it)")
    options = parser.parse_args()
    if options.quick:
        options.seconds = 4.0
    lines = int((options.seconds + 3.0) / options.interval)  # outlasts the warm-up and the window
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        model = stack.enter_context(model_process())
        servers = stack.enter_context(postgres_redis_cluster(model, tmp))
        busy, idle = servers[0], servers[1:]
        marker = model.script("scaleout", [LINE] * lines, delay=options.interval)
        time.sleep(2.0)  # start-up work settles
        quiet = cpu_shares(idle, options.seconds)
        streaming, rate = asyncio.run(while_streaming(busy, idle, marker, options))
    print(f"the busy process stored about {rate:,.0f} chunks/s ({options.streams} answers)")
    rows = [
        Row(
            f"idle process {n} of 4: CPU while the cluster streams ~{rate:,.0f} chunks/s",
            f"{busy_share:.2f} % ({busy_share / max(quiet_share, 0.01):.2f}x)",
            f"{quiet_share:.2f} % with no traffic",
            f"at most {TARGET}x",
        )
        for n, (busy_share, quiet_share) in enumerate(zip(streaming, quiet, strict=True), start=2)
    ]
    emit(rows)


if __name__ == "__main__":
    main()
