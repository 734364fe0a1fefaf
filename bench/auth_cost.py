"""What identity costs: the driver's tokens/s and the claim latency with `PERSISTREAM_AUTH=jwt` against `none`,
measured alternately in one run, each mode on its own server process with the same zero-delay model.

    .venv/bin/python -m bench.auth_cost [--tokens 20000] [--rounds 5] [--claims 40]

The jwt side sends a bearer token on every HTTP request and in the WebSocket's `connection_init` payload, so its
figures include verifying the token once per request and once per connection (never per token).
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
from typing import Any

import jwt

from bench.server import JWT_SECRET
from bench.token_path import percentile, wait_healthy
from tests.support.gql import SEND, STREAM_CHAT, GraphQLWS, gql
from tests.support.net import free_port


class Side:
    """One server process in one auth mode, and how a client of it authenticates."""

    def __init__(self, mode: str, tmp: Path) -> None:
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        token = jwt.encode({"sub": "bench-user", "exp": int(time.time()) + 3600}, JWT_SECRET, algorithm="HS256")
        self.headers = {"authorization": f"Bearer {token}"} if mode == "jwt" else {}
        self.init_payload = {"Authorization": f"Bearer {token}"} if mode == "jwt" else {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(self.port), f"sqlite+aiosqlite:///{tmp / mode}.db", mode],
            cwd=Path(__file__).resolve().parent.parent,
        )

    async def send(self, prompt: str) -> str:
        result = await gql(f"{self.base}/graphql", SEND, {"prompt": prompt}, headers=self.headers)
        assert not result.get("errors"), result
        stream_id: str = result["data"]["sendMessage"]["responseStreamId"]
        return stream_id

    def socket(self) -> GraphQLWS:
        return GraphQLWS(self.base.replace("http", "ws") + "/graphql", init_payload=self.init_payload)

    async def tokens_per_second(self, tokens: int) -> float:
        stream_id = await self.send(f"bench tokens={tokens}")
        async with self.socket() as client:
            started = time.perf_counter()
            length = 0
            async for data in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=120):
                length = data["streamChat"]["offset"]
            elapsed = time.perf_counter() - started
        assert length == tokens * 4, (length, tokens)
        return tokens / elapsed

    async def claim_ms(self, client: GraphQLWS) -> float:
        """From sending streamChat on an open socket to its first event (the claim, then the model's first token)."""
        stream_id = await self.send("bench tokens=1")
        started = time.perf_counter()
        first: float | None = None
        async for _ in client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=60):
            if first is None:
                first = (time.perf_counter() - started) * 1000
        assert first is not None
        return first

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def measure(sides: list[Side], tokens: int, rounds: int, claims: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {s.mode: [] for s in sides}
    claim_times: dict[str, list[float]] = {s.mode: [] for s in sides}
    for side in sides:  # warm up both paths
        await side.tokens_per_second(100)
    for _ in range(rounds):
        for side in sides:
            rates[side.mode].append(await side.tokens_per_second(tokens))
    sockets = {s.mode: await s.socket().__aenter__() for s in sides}
    try:
        for _ in range(claims):
            for side in sides:
                claim_times[side.mode].append(await side.claim_ms(sockets[side.mode]))
    finally:
        for client in sockets.values():
            await client.__aexit__(None, None, None)
    figures: dict[str, Any] = {}
    for side in sides:
        figures[side.mode] = {
            "driver_tokens_per_s_median": round(statistics.median(rates[side.mode])),
            "claim_ms_median": round(statistics.median(claim_times[side.mode]), 2),
            "claim_ms_p99": round(percentile(claim_times[side.mode], 0.99), 2),
        }
    figures["ratio_jwt_over_none_tokens_per_s"] = round(
        figures["jwt"]["driver_tokens_per_s_median"] / figures["none"]["driver_tokens_per_s_median"], 2
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--claims", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sides = [Side("none", Path(tmp)), Side("jwt", Path(tmp))]
        try:
            for side in sides:
                wait_healthy(side.base)
            print(json.dumps(asyncio.run(measure(sides, args.tokens, args.rounds, args.claims)), indent=2))
        finally:
            for side in sides:
                side.stop()


if __name__ == "__main__":
    main()
