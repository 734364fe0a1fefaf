"""Token latency by transport: a paced model stamps each token with when it produced it; a driver reads the
answer over WebSocket (graphql-transport-ws), over Server-Sent Events and over multipart HTTP, in alternating
rounds on one server process, and the time from stamp to receipt is compared. It shows whether anything between
the app and the socket (the middlewares, uvicorn) holds an HTTP event back.

    .venv/bin/python -m bench.http_latency [--tokens 200] [--interval 0.005] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Row, emit
from bench.token_path import percentile, wait_healthy
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, gql_data
from tests.support.http_stream import subscribe_http
from tests.support.net import free_port


def stamps_to_latencies(delta: str, now: float) -> list[float]:
    return [(now - float(t)) * 1000 for t in delta.split()]


async def new_stream(base: str, tokens: int, interval: float) -> str:
    prompt = f"bench tokens={tokens} interval={interval}"
    stream_id: str = (await gql_data(f"{base}/graphql", SEND, {"prompt": prompt}))["sendMessage"]["responseStreamId"]
    return stream_id


async def over_websocket(base: str, tokens: int, interval: float) -> list[float]:
    stream_id = await new_stream(base, tokens, interval)
    latencies: list[float] = []
    async with GraphQLWS(base.replace("http", "ws") + "/graphql") as client:
        async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=120):
            latencies += stamps_to_latencies(data["streamChat"]["delta"], time.time())
    assert len(latencies) == tokens, len(latencies)
    return latencies


async def over_http(base: str, tokens: int, interval: float, *, multipart: bool) -> list[float]:
    stream_id = await new_stream(base, tokens, interval)
    latencies: list[float] = []
    seen = 0
    async for result in subscribe_http(f"{base}/graphql", STREAM_CHAT, {"id": stream_id}, multipart=multipart):
        now = time.time()
        for payload in result.payloads[seen:]:
            latencies += stamps_to_latencies(payload["data"]["streamChat"]["delta"], now)
        seen = len(result.payloads)
    assert len(latencies) == tokens, len(latencies)
    return latencies


async def measure(base: str, tokens: int, interval: float, rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"websocket": [], "sse": [], "multipart": []}
    await over_websocket(base, 20, interval)  # warm up every path
    await over_http(base, 20, interval, multipart=False)
    await over_http(base, 20, interval, multipart=True)
    for _ in range(rounds):
        results["websocket"] += await over_websocket(base, tokens, interval)
        results["sse"] += await over_http(base, tokens, interval, multipart=False)
        results["multipart"] += await over_http(base, tokens, interval, multipart=True)
    return results


def run(tokens: int, interval: float, rounds: int) -> dict[str, list[float]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(port), f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            wait_healthy(base)
            return asyncio.run(measure(base, tokens, interval, rounds))
        finally:
            server.terminate()
            server.wait(10)


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p99 {percentile(values, 0.99):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    results = run(args.tokens, args.interval, rounds)
    what = f"driver token latency, model token every {args.interval * 1000:g} ms ({args.tokens} x {rounds})"
    baseline = f"WebSocket: {summary(results['websocket'])}"
    emit(
        [
            Row(f"{what}, over SSE", summary(results["sse"]), baseline, "p50 within 1 ms of WebSocket"),
            Row(
                f"{what}, over multipart HTTP", summary(results["multipart"]), baseline, "p50 within 1 ms of WebSocket"
            ),
        ]
    )


if __name__ == "__main__":
    main()
