"""Fan-out: one answer watched by many observers, beside a bare Starlette broadcast to as many sockets, in one run.

    .venv/bin/python -m bench.fanout [--quick]

One server process (bench/server.py: persistream with a paced model, plus the bare endpoint `/rawfan`) on a fresh
SQLite file. The model writes a stamped line of `LINE` characters every 50 ms; each line ends a sentence, so it is
stored and published as a chunk of its own. N observers (`streamBody`, graphql-transport-ws, one socket each, from
one Node process: bench/fanout_client.mjs) subscribe while the stream is PENDING; then a Python driver drives it
(`streamChat`). For every line an observer gets, the figure is its arrival time minus the time the model wrote it.
The baseline is the same Node client on the same number of sockets receiving the same lines from `/rawfan`.
Also: message bytes per observer against the text it got, the driver's own latency with and without the observers,
and the observers' latency with one socket among them that stops reading.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.report import Row, emit
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, gql_data
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "bench" / "fanout_client.mjs"
INTERVAL = 0.05
LINE = 160


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p50_p99(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.0f} ms, p99 {percentile(values, 0.99):.0f} ms"


class BenchServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = (workdir / "server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(self.port), f"sqlite+aiosqlite:///{workdir / 'bench.db'}"],
            cwd=os.getcwd(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench server did not start: {(workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Observers:
    """The Node process holding the observers' sockets."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            ["node", str(CLIENT), json.dumps(options)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    async def ready(self) -> None:
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        if line.strip() != "READY":
            raise RuntimeError(f"observers failed: {line} {self.process.stderr.read() if self.process.stderr else ''}")

    async def result(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        await asyncio.to_thread(self.process.wait)
        if not line:
            raise RuntimeError(f"observers failed: {self.process.stderr.read() if self.process.stderr else ''}")
        result: dict[str, Any] = json.loads(line)
        return result


def line_latencies(text: str, received: float) -> list[float]:
    return [(received - float(line.split(" ", 1)[0])) * 1000 for line in text.splitlines() if line.strip()]


async def drive(server: BenchServer, stream_id: str) -> list[float]:
    latencies: list[float] = []
    async with GraphQLWS(f"{server.ws}/graphql") as client:
        async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}):
            latencies += line_latencies(data["streamChat"]["delta"], time.time())
    return latencies


async def persistream_run(server: BenchServer, count: int, lines: int, stalled: int = 0) -> dict[str, Any]:
    prompt = f"tokens={lines} interval={INTERVAL} line={LINE}"
    stream_id = (await gql_data(server.http, SEND, {"prompt": prompt}))["sendMessage"]["responseStreamId"]
    result: dict[str, Any] = {}
    if count:
        observers = Observers(
            {
                "url": f"{server.ws}/graphql",
                "mode": "graphql",
                "count": count,
                "streamId": stream_id,
                "stalled": stalled,
            }
        )
        await observers.ready()
    result["driver"] = await drive(server, stream_id)
    if count:
        result.update(await observers.result())
    return result


async def baseline_run(server: BenchServer, count: int, lines: int) -> dict[str, Any]:
    observers = Observers({"url": f"{server.ws}/rawfan", "mode": "raw", "count": count})
    await observers.ready()
    driver: list[float] = []
    async with websockets.connect(f"{server.ws}/rawfan") as control:
        await control.send(f"go {lines} {INTERVAL} {LINE}")
        async for text in control:
            driver += line_latencies(str(text), time.time())
    result = await observers.result()
    result["driver"] = driver
    return result


def bytes_per_text(result: dict[str, Any]) -> str:
    ratios = [b / c for b, c in zip(result["bytes"], result["chars"], strict=True) if c]
    return f"{statistics.mean(ratios):.2f}x the text ({statistics.mean(result['bytes']) / 1000:.0f} KB each)"


async def main(quick: bool) -> None:
    lines = 30 if quick else 100
    counts = (50, 200) if quick else (200, 1000)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as workdir:
        server = BenchServer(Path(workdir))
        try:
            await persistream_run(server, 0, 5)  # warm-up: first imports, first database writes
            alone = await persistream_run(server, 0, lines)
            for count in counts:
                base = await baseline_run(server, count, lines)
                ours = await persistream_run(server, count, lines)
                assert all(s == "DONE" for s in ours["statuses"]), ours["statuses"][:5]
                rows.append(
                    Row(
                        f"1 answer x {count} observers, a {LINE}-char line every 50 ms: model -> observer",
                        p50_p99(ours["latencies"]),
                        f"bare Starlette broadcast, same sockets: {p50_p99(base['latencies'])}",
                        "p99 <= 3x baseline and < 100 ms" if count == counts[-1] else "-",
                    )
                )
                rows.append(
                    Row(f"{count} observers: message bytes per observer", bytes_per_text(ours), bytes_per_text(base))
                )
                if count == counts[-1]:
                    rows.append(
                        Row(
                            f"driver (streamChat) latency with {count} observers watching",
                            p50_p99(ours["driver"]),
                            f"no observers: {p50_p99(alone['driver'])}",
                            "unchanged",
                        )
                    )
                    stalled = await persistream_run(server, count, lines, stalled=1)
                    rows.append(
                        Row(
                            f"{count} observers, one of them a socket that stops reading: the others",
                            p50_p99(stalled["latencies"]),
                            f"all reading (above): {p50_p99(ours['latencies'])}",
                            "no worse",
                        )
                    )
        finally:
            server.stop()
    emit(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
