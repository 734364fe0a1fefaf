"""Tokens/s through the real path: the test model over HTTP -> the openai SDK's request -> persistream -> a
WebSocket driver, beside the openai SDK alone reading the same test model (its own parse), in the same run.

    .venv/bin/python -m bench.real_path [--quick]

The test model (tests/support/fake_openai.py) runs in its own process and sends its tokens without delay, so both
figures are how fast the reader keeps up. One stream, then 50 at once (tokens/s summed over all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import openai

from bench.claims import drive_answers
from bench.model_server import ModelClient
from bench.report import Row, emit
from bench.rig import API_KEY, model_process, persistream_server

TOKEN = "tok "


async def sdk_alone(model: ModelClient, marker: str, streams: int, tokens: int) -> float:
    """Tokens/s of `streams` SDK streams read at once, the way the SDK's users read them."""
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=model.base_url, max_retries=0)

    async def one() -> int:
        stream = await client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": f"{marker} {uuid.uuid4().hex}"}], stream=True
        )
        received = 0
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    received += len(choice.delta.content)
        return received

    started = time.perf_counter()
    lengths = await asyncio.gather(*(one() for _ in range(streams)))
    elapsed = time.perf_counter() - started
    await client.close()
    assert lengths == [tokens * len(TOKEN)] * streams, "the SDK did not read every token"
    return streams * tokens / elapsed


async def through_persistream(url: str, marker: str, streams: int, tokens: int) -> float:
    drivers, elapsed = await drive_answers(url, marker, streams)
    assert [(d.offset, d.status) for d in drivers] == [(tokens * len(TOKEN), "DONE")] * streams
    return streams * tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    rounds = 1 if options.quick else 3
    # (streams, tokens each): about the same total either way.
    shapes = [(1, 3000), (50, 60)] if options.quick else [(1, 10000), (50, 200)]
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        model_process() as model,
        persistream_server(model, f"sqlite+aiosqlite:///{Path(tmp) / 'real.db'}", Path(tmp)) as server,
    ):
        for streams, tokens in shapes:
            marker = model.script(f"real-{streams}", [TOKEN] * tokens)
            asyncio.run(through_persistream(server.url, marker, 1, tokens))  # warm both paths
            asyncio.run(sdk_alone(model, marker, 1, tokens))
            ours, sdk = [], []
            for _ in range(rounds):  # alternated, so load on the machine falls on both alike
                ours.append(asyncio.run(through_persistream(server.url, marker, streams, tokens)))
                sdk.append(asyncio.run(sdk_alone(model, marker, streams, tokens)))
            best_ours, best_sdk = sorted(ours)[len(ours) // 2], sorted(sdk)[len(sdk) // 2]
            rows.append(
                Row(
                    f"real path: {streams} stream{'s' if streams > 1 else ''} x {tokens} tokens, tokens/s "
                    f"(median of {rounds})",
                    f"{best_ours:,.0f} tokens/s = {best_ours / best_sdk:.2f}x",
                    f"the openai SDK alone: {best_sdk:,.0f} tokens/s",
                    ">= 0.9x",
                )
            )
    emit(rows)


if __name__ == "__main__":
    main()
