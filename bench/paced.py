"""Paced streams: 50 answers at once, each from a model sending 50 tokens a second, and how late each token reaches
its driver (model writes the token -> the driver has it), through persistream (the real path: test model over HTTP,
openai provider, GraphQL WebSocket) and through a raw relay (bench/relay.py: the same model, the same lines, a bare
WebSocket endpoint) in the same run.

    .venv/bin/python -m bench.paced [--quick]

Every token is the wall-clock time the model sent it, so the client on the same machine reads each latency off it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import websockets

from bench.claims import Driver, send
from bench.model_server import ModelClient
from bench.report import Row, emit
from bench.rig import ROOT, model_process, percentile, persistream_server, wait_http
from tests.support.gql import STREAM_CHAT
from tests.support.net import free_port

RATE = 50  # tokens per second per stream


# One token's (the time the model sent it, milliseconds until the driver had it).
Sample = tuple[float, float]


def latencies_of(text: str, now: float) -> list[Sample]:
    return [(float(stamp), (now - float(stamp)) * 1000) for stamp in text.split()]


def split_start(per_stream: list[list[Sample]], tokens: int) -> tuple[list[float], list[float]]:
    """Every token's latency, and those of tokens sent once every stream was running (past the start, when all
    the claims arrive together)."""
    assert all(len(samples) == tokens for samples in per_stream), "a reader missed tokens"
    all_running = max(samples[0][0] for samples in per_stream)
    everything = [ms for samples in per_stream for _, ms in samples]
    steady = [ms for samples in per_stream for sent, ms in samples if sent > all_running]
    return everything, steady


async def persistream_stream(url: str, stream_id: str) -> list[Sample]:
    driver = Driver(url.replace("http", "ws") + "/graphql")
    await driver.open()
    request = {"query": STREAM_CHAT, "variables": {"id": stream_id}}
    await driver.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": request}))
    figures: list[Sample] = []
    while True:
        message = json.loads(await driver.ws.recv())
        if message["type"] == "next":
            figures += latencies_of(message["payload"]["data"]["streamChat"]["delta"], time.time())
        elif message["type"] == "ping":
            await driver.ws.send(json.dumps({"type": "pong"}))
        elif message["type"] in ("complete", "error"):
            break
    await driver.close()
    return figures


async def through_persistream(url: str, marker: str, streams: int, tokens: int) -> tuple[list[float], list[float]]:
    graphql = f"{url}/graphql"
    ids = await asyncio.gather(*(send(graphql, f"{marker} {uuid.uuid4().hex}") for _ in range(streams)))
    per_stream = await asyncio.gather(*(persistream_stream(url, stream_id) for stream_id in ids))
    return split_start(list(per_stream), tokens)


async def relay_stream(relay_url: str, prompt: str) -> list[Sample]:
    figures: list[Sample] = []
    async with websockets.connect(relay_url, max_queue=None) as ws:
        await ws.send(prompt)
        while (frame := await ws.recv()) != "":
            figures += latencies_of(str(frame), time.time())
    return figures


async def through_relay(relay_url: str, marker: str, streams: int, tokens: int) -> tuple[list[float], list[float]]:
    per_stream = await asyncio.gather(
        *(relay_stream(relay_url, f"{marker} {uuid.uuid4().hex}") for _ in range(streams))
    )
    return split_start(list(per_stream), tokens)


@contextlib.contextmanager
def relay_process(model: ModelClient) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.relay", str(port), model.base_url], cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"ws://127.0.0.1:{port}/relay"
    finally:
        process.terminate()
        process.wait(10)


def paced_marker(model: ModelClient, tokens: int) -> str:
    return model.script(f"paced-{tokens}", ["x"] * tokens, delay=1 / RATE, stamped=True)


def fmt(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.1f} / p99 {percentile(values, 0.99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--streams", type=int, default=50)
    options = parser.parse_args()
    tokens = 100 if options.quick else 250  # 2 s or 5 s of answer
    with tempfile.TemporaryDirectory() as tmp, model_process() as model, relay_process(model) as relay:
        marker = paced_marker(model, tokens)
        with persistream_server(model, f"sqlite+aiosqlite:///{Path(tmp) / 'paced.db'}", Path(tmp)) as server:
            asyncio.run(through_persistream(server.url, marker, 2, tokens))  # warm both paths
            asyncio.run(through_relay(relay, marker, 2, tokens))
            ours_all = asyncio.run(through_persistream(server.url, marker, options.streams, tokens))
            raw_all = asyncio.run(through_relay(relay, marker, options.streams, tokens))
    (ours, ours_steady), (raw, raw_steady) = ours_all, raw_all
    emit(
        [
            Row(
                f"paced: {options.streams} streams x {RATE} tokens/s, model -> driver ({len(ours)} tokens)",
                fmt(ours),
                f"raw relay: {fmt(raw)}",
                "p99 within 10 ms of the relay's",
            ),
            Row(
                f"paced: the same, tokens sent once all {options.streams} streams were running",
                fmt(ours_steady),
                f"raw relay: {fmt(raw_steady)}",
                "p99 within 10 ms of the relay's",
            ),
        ]
    )


if __name__ == "__main__":
    main()
