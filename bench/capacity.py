"""Capacity: the most concurrent 50 tokens/s streams one persistream process serves with model -> driver p99 under
50 ms, through the real path (bench/paced.py's streams), found by doubling the count and then bisecting, each
step one paced run of about 5 s. The raw relay's p99 at the same count is the baseline.

    .venv/bin/python -m bench.capacity [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.paced import RATE, paced_marker, relay_process, through_persistream, through_relay
from bench.report import Row, emit
from bench.rig import model_process, percentile, persistream_server

LIMIT_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    tokens = 100 if options.quick else 250
    steps = 4 if options.quick else 7
    with tempfile.TemporaryDirectory() as tmp, model_process() as model, relay_process(model) as relay:
        marker = paced_marker(model, tokens)
        with persistream_server(model, f"sqlite+aiosqlite:///{Path(tmp) / 'capacity.db'}", Path(tmp)) as server:
            asyncio.run(through_persistream(server.url, marker, 2, tokens))  # warm up

            def p99_at(streams: int) -> float:
                figure = percentile(asyncio.run(through_persistream(server.url, marker, streams, tokens))[0], 0.99)
                print(f"capacity: {streams} streams -> p99 {figure:.1f} ms", flush=True)
                return figure

            good, bad, count = 0, 0, 10
            good_p99 = 0.0
            for _ in range(steps):  # double until a count fails, then bisect between the last good and first bad
                figure = p99_at(count)
                if figure < LIMIT_MS:
                    good, good_p99 = count, figure
                else:
                    bad = count
                if bad and bad - good <= max(2, good // 10):
                    break
                count = count * 2 if not bad else (good + bad) // 2
            relay_p99 = percentile(asyncio.run(through_relay(relay, marker, max(good, 1), tokens))[0], 0.99)
    emit(
        [
            Row(
                f"capacity: concurrent {RATE} tokens/s streams with model -> driver p99 < {LIMIT_MS:.0f} ms",
                f"{good} streams (p99 {good_p99:.1f} ms)" + ("" if bad else ", the most tried"),
                f"raw relay at {good} streams: p99 {relay_p99:.1f} ms",
                "-",
            )
        ]
    )


if __name__ == "__main__":
    main()
