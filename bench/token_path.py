"""Token path benchmark: how fast a driver receives a zero-delay model's tokens through persistream, against a raw
Starlette WebSocket that sends one frame per token, measured alternately in one run on one server process.

    .venv/bin/python -m bench.token_path [--tokens 20000] [--rounds 5]

Prints tokens/s for each (median over rounds), their ratio, the events the driver needed, and the chunks stored;
then, with a model pacing a token every 5 ms, the latency from the model producing a token to the client receiving
it, through persistream and through the raw WebSocket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, gql_data
from tests.support.net import free_port


async def persistream_round(base: str, tokens: int) -> tuple[float, int, str]:
    message = (await gql_data(f"{base}/graphql", SEND, {"prompt": f"bench tokens={tokens}"}))["sendMessage"]
    stream_id = message["responseStreamId"]
    async with GraphQLWS(base.replace("http", "ws") + "/graphql") as client:
        started = time.perf_counter()
        events = 0
        length = 0
        async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=120):
            events += 1
            length = data["streamChat"]["offset"]
        elapsed = time.perf_counter() - started
    assert length == tokens * 4, (length, tokens)
    return elapsed, events, stream_id


async def raw_round(base: str, tokens: int) -> float:
    async with websockets.connect(base.replace("http", "ws") + "/raw") as ws:
        started = time.perf_counter()
        await ws.send(str(tokens))
        received = 0
        while await ws.recv() != "":
            received += 1
        elapsed = time.perf_counter() - started
    assert received == tokens
    return elapsed


async def persistream_latencies(base: str, tokens: int, interval: float) -> list[float]:
    """Milliseconds from the model producing each token to the driver receiving it (a paced model)."""
    prompt = f"bench tokens={tokens} interval={interval}"
    stream_id = (await gql_data(f"{base}/graphql", SEND, {"prompt": prompt}))["sendMessage"]["responseStreamId"]
    latencies: list[float] = []
    async with GraphQLWS(base.replace("http", "ws") + "/graphql") as client:
        async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=120):
            now = time.time()
            latencies.extend((now - float(t)) * 1000 for t in data["streamChat"]["delta"].split())
    assert len(latencies) == tokens
    return latencies


async def raw_latencies(base: str, tokens: int, interval: float) -> list[float]:
    latencies: list[float] = []
    async with websockets.connect(base.replace("http", "ws") + "/raw") as ws:
        await ws.send(f"{tokens} {interval}")
        while (frame := await ws.recv()) != "":
            latencies.append((time.time() - float(frame)) * 1000)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def chunk_count(db_path: Path, stream_id: str) -> int:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        # The chunks it was written in (its rows are compacted into one once it ends).
        row = conn.execute("SELECT last_seq FROM streams WHERE id = ?", (stream_id,)).fetchone()
    return int(row[0])


async def measure(base: str, db_path: Path, tokens: int, rounds: int) -> dict[str, object]:
    await persistream_round(base, 100)  # warm up both paths
    await raw_round(base, 100)
    ours, raws, events, chunks = [], [], [], []
    for _ in range(rounds):
        elapsed, n_events, stream_id = await persistream_round(base, tokens)
        ours.append(tokens / elapsed)
        events.append(n_events)
        chunks.append(chunk_count(db_path, stream_id))
        raws.append(tokens / await raw_round(base, tokens))
    ours_lat: list[float] = []
    raw_lat: list[float] = []
    for _ in range(rounds):
        ours_lat += await persistream_latencies(base, 200, 0.005)
        raw_lat += await raw_latencies(base, 200, 0.005)
    ours_median, raw_median = statistics.median(ours), statistics.median(raws)
    return {
        "tokens_per_round": tokens,
        "rounds": rounds,
        "persistream_tokens_per_s": round(ours_median),
        "raw_websocket_tokens_per_s": round(raw_median),
        "ratio_persistream_over_raw": round(ours_median / raw_median, 2),
        "driver_events_median": statistics.median(events),
        "chunks_stored_median": statistics.median(chunks),
        "paced_model_token_latency_ms": {
            "persistream_median": round(statistics.median(ours_lat), 3),
            "persistream_p99": round(percentile(ours_lat, 0.99), 3),
            "raw_websocket_median": round(statistics.median(raw_lat), 3),
            "raw_websocket_p99": round(percentile(raw_lat, 0.99), 3),
        },
    }


def run(tokens: int, rounds: int) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(port), f"sqlite+aiosqlite:///{db_path}"],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            wait_healthy(base)
            return asyncio.run(measure(base, db_path, tokens, rounds))
        finally:
            server.terminate()
            server.wait(10)


def wait_healthy(base: str) -> None:
    for _ in range(400):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("benchmark server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.tokens, args.rounds), indent=2))


if __name__ == "__main__":
    main()
