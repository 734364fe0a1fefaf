"""Claim latency: from a client sending `streamChat` to the model receiving the request, through the real path
(`persistream serve` with the openai provider, the test model in its own process, which records when each request
arrives), on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.claims [--quick]

Figures: the first answer after start-up beside the tenth (sequential, one at a time); then 1, 10 and 50 drivers
whose sockets are already open sending `streamChat` at the same moment (p50 / p99 over the rounds). The baseline
is the model's own floor in the same run: a bare HTTP request from this process to the same model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.model_server import ModelClient
from bench.report import Row, emit
from bench.rig import API_KEY, model_process, percentile, persistream_server, postgres_database
from tests.support.gql import SEND, STREAM_CHAT, gql_data

TARGET_P99_MS = 20.0


class Driver:
    """One graphql-transport-ws socket, opened beforehand so only the subscription itself is timed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None
        self.offset = 0  # of the last event read
        self.status = ""

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        while json.loads(await self.ws.recv())["type"] != "connection_ack":
            pass

    async def drive(self, stream_id: str) -> float:
        """Send `streamChat`, read the answer to its end; the monotonic time the subscription was sent."""
        sent = time.monotonic()
        await self.ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": STREAM_CHAT, "variables": {"id": stream_id}}}
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if message["type"] == "next":
                event = message["payload"]["data"]["streamChat"]
                self.offset, self.status = event["offset"], event["status"]
            elif message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] in ("complete", "error"):
                return sent

    async def close(self) -> None:
        await self.ws.close()


async def send(graphql: str, prompt: str) -> str:
    return str((await gql_data(graphql, SEND, {"prompt": prompt}))["sendMessage"]["responseStreamId"])


async def drive_answers(url: str, marker: str, streams: int) -> tuple[list[Driver], float]:
    """Send `streams` prompts to the server at `url`, then drive every answer to its end at once from sockets opened
    beforehand; the drivers (what each received) and the seconds the driving took."""
    graphql = f"{url}/graphql"
    ids = [await send(graphql, f"{marker} {uuid.uuid4().hex}") for _ in range(streams)]
    drivers = [Driver(graphql.replace("http", "ws")) for _ in ids]
    await asyncio.gather(*(d.open() for d in drivers))
    started = time.perf_counter()
    await asyncio.gather(*(d.drive(s) for d, s in zip(drivers, ids, strict=True)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(d.close() for d in drivers))
    return drivers, elapsed


async def claim_round(server_url: str, model: ModelClient, marker: str, concurrent: int) -> list[float]:
    """`concurrent` drivers claim at once; each one's milliseconds from sending to the model's receipt."""
    graphql = f"{server_url}/graphql"
    tags = [uuid.uuid4().hex for _ in range(concurrent)]
    streams = [await send(graphql, f"{marker} claim {tag}") for tag in tags]
    drivers = [Driver(graphql.replace("http", "ws")) for _ in tags]
    await asyncio.gather(*(d.open() for d in drivers))
    model.arrivals()  # forget the earlier rounds'
    sent = await asyncio.gather(*(d.drive(s) for d, s in zip(drivers, streams, strict=True)))
    await asyncio.gather(*(d.close() for d in drivers))
    arrived = {prompt.rsplit(" ", 1)[-1]: at for at, prompt in model.arrivals()}
    missing = set(tags) - set(arrived)
    assert not missing, f"the model never saw {len(missing)} of {len(tags)} requests"
    return [(arrived[tag] - at) * 1000 for tag, at in zip(tags, sent, strict=True)]


async def bare_request_ms(model: ModelClient, marker: str, rounds: int) -> list[float]:
    """The floor: this process posting a streaming request to the model directly."""
    figures = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(rounds):
            tag = uuid.uuid4().hex
            model.arrivals()
            sent = time.monotonic()
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"{marker} bare {tag}"}]}
            async with client.stream(
                "POST", f"{model.base_url}/chat/completions", json=body, headers={"authorization": f"Bearer {API_KEY}"}
            ) as response:
                async for _ in response.aiter_bytes():
                    pass
            figures.append((model.arrivals()[0][0] - sent) * 1000)
    return figures


def fmt(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.1f} / p99 {percentile(values, 0.99):.1f} ms"


def measure(model: ModelClient, database: str, label: str, log_dir: Path, rounds: int) -> list[Row]:
    marker = model.script("claims", [" a", " short", " answer."])
    rows: list[Row] = []
    floor = asyncio.run(bare_request_ms(model, marker, 20))
    with persistream_server(model, database, log_dir) as server:

        async def sequence() -> list[float]:
            return [(await claim_round(server.url, model, marker, 1))[0] for _ in range(10)]

        sequential = asyncio.run(sequence())
        rows.append(
            Row(
                f"claims {label}: streamChat -> model request, first after start-up vs tenth",
                f"first {sequential[0]:.1f} ms, tenth {sequential[9]:.1f} ms",
                f"bare request to the model: {fmt(floor)}",
                "first no slower than the tenth",
            )
        )
        for concurrent in (1, 10, 50):
            figures: list[float] = []
            for _ in range(rounds if concurrent > 1 else rounds * 10):
                figures += asyncio.run(claim_round(server.url, model, marker, concurrent))
            rows.append(
                Row(
                    f"claims {label}: streamChat -> model request, {concurrent} at once ({len(figures)} claims)",
                    fmt(figures),
                    f"bare request: {fmt(floor)}",
                    f"p99 < {TARGET_P99_MS:.0f} ms" if concurrent == 50 else "-",
                )
            )
    return rows


@contextlib.contextmanager
def sqlite_database(tmp: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{tmp / 'claims.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    options = parser.parse_args()
    rounds = 1 if options.quick else 3
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, model_process() as model:
        for label, database in (("SQLite", sqlite_database(Path(tmp))), ("PostgreSQL", postgres_database())):
            if options.only and options.only != label.lower():
                continue
            with database as url:
                rows += measure(model, url, label, Path(tmp), rounds)
    emit(rows)


if __name__ == "__main__":
    main()
