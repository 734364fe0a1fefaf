"""Fan-out: one answer watched by many observers, on the path users run, beside a bare broadcast of the same model's
lines to as many sockets, in one run.

    .venv/bin/python -m bench.fanout [--quick]

The test model (tests/support/fake_openai.py) runs in its own process and writes a stamped line of `LINE`
characters every 50 ms; `persistream serve` (the openai provider, a fresh SQLite file) reads it over HTTP. Each line
ends a line of text, so it is stored and published as a chunk of its own. N observers (`streamBody`,
graphql-transport-ws, one socket each, from one Node process: bench/fanout_client.mjs) subscribe while the stream is
PENDING; then a Python driver drives it (`streamChat`). For every line an observer gets, the figure is its arrival
time minus the time the model wrote it. The baseline is bench/relay.py's `/fan`: a bare Starlette endpoint that
reads the same model over HTTP and puts each line on every listening socket's queue, received by the same Node
client on the same number of sockets. Also: message bytes per observer against the text it got, the driver's own
latency with and without the observers, and the observers' latency with one socket among them that stops reading.
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

from bench.model_server import ModelClient
from bench.paced import relay_process
from bench.report import Row, emit
from bench.rig import model_process, persistream_server
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, gql_data
from tests.support.net import free_port
from tests.support.server import ServerProcess

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


async def drive(server: ServerProcess, stream_id: str) -> list[float]:
    latencies: list[float] = []
    async with GraphQLWS(server.graphql_ws) as client:
        async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}):
            latencies += line_latencies(data["streamChat"]["delta"], time.time())
    return latencies


async def persistream_run(server: ServerProcess, marker: str, count: int, stalled: int = 0) -> dict[str, Any]:
    stream_id = (await gql_data(server.graphql_http, SEND, {"prompt": marker}))["sendMessage"]["responseStreamId"]
    result: dict[str, Any] = {}
    if count:
        observers = Observers(
            {"url": server.graphql_ws, "mode": "graphql", "count": count, "streamId": stream_id, "stalled": stalled}
        )
        await observers.ready()
    result["driver"] = await drive(server, stream_id)
    if count:
        result.update(await observers.result())
    return result


async def baseline_run(fan_url: str, marker: str, count: int) -> dict[str, Any]:
    observers = Observers({"url": fan_url, "mode": "raw", "count": count})
    await observers.ready()
    driver: list[float] = []
    async with websockets.connect(fan_url) as control:
        await control.send(f"go {marker}")
        async for text in control:
            driver += line_latencies(str(text), time.time())
    result = await observers.result()
    result["driver"] = driver
    return result


def bytes_per_text(result: dict[str, Any]) -> str:
    ratios = [b / c for b, c in zip(result["bytes"], result["chars"], strict=True) if c]
    return f"{statistics.mean(ratios):.2f}x the text ({statistics.mean(result['bytes']) / 1000:.0f} KB each)"


async def measure(server: ServerProcess, fan_url: str, model: ModelClient, quick: bool) -> list[Row]:
    lines = 30 if quick else 100
    counts = (50, 200) if quick else (200, 1000)
    marker = model.script(f"fan-{lines}", ["x"] * lines, delay=INTERVAL, stamped=True, line=LINE)
    warm = model.script("fan-warm", ["x"] * 5, delay=INTERVAL, stamped=True, line=LINE)
    rows: list[Row] = []
    await persistream_run(server, warm, 0)  # warm-up: first imports, first database writes, the SDK
    await baseline_run(fan_url, warm, 1)
    alone = await persistream_run(server, marker, 0)
    for count in counts:
        base = await baseline_run(fan_url, marker, count)
        ours = await persistream_run(server, marker, count)
        assert all(s == "DONE" for s in ours["statuses"]), ours["statuses"][:5]
        rows.append(
            Row(
                f"1 answer x {count} observers, a {LINE}-char line every 50 ms: model -> observer",
                p50_p99(ours["latencies"]),
                f"bare Starlette broadcast, same sockets: {p50_p99(base['latencies'])}",
                "p99 <= 3x baseline and < 100 ms" if count == counts[-1] else "-",
            )
        )
        rows.append(Row(f"{count} observers: message bytes per observer", bytes_per_text(ours), bytes_per_text(base)))
        if count == counts[-1]:
            rows.append(
                Row(
                    f"driver (streamChat) latency with {count} observers watching",
                    p50_p99(ours["driver"]),
                    f"no observers: {p50_p99(alone['driver'])}",
                    "unchanged",
                )
            )
            stalled = await persistream_run(server, marker, count, stalled=1)
            rows.append(
                Row(
                    f"{count} observers, one of them a socket that stops reading: the others",
                    p50_p99(stalled["latencies"]),
                    f"all reading (above): {p50_p99(ours['latencies'])}",
                    "no worse",
                )
            )
    return rows


def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, model_process() as model, relay_process(model) as relay:
        fan_url = relay.removesuffix("/relay") + "/fan"
        database = f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.db'}"
        with persistream_server(model, database, Path(tmp)) as server:
            rows = asyncio.run(measure(server, fan_url, model, quick))
    emit(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
