"""Every benchmark figure beside its baseline, in one run, as one Markdown table.

    .venv/bin/python -m bench [--only fanout,claims] [--quick]

Each part is a module of this package run as its own process (`python -m bench.PART`, which also works alone), so
one part's servers, sockets and memory never disturb the next. A part reports through `bench.report.emit`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import time

from bench.report import Row, markdown, parse

# In the order the table shows them.
PARTS = (
    "fanout",
    "fanout_cluster",
    "idle",
    "claims",
    "real_path",
    "paced",
    "capacity",
    "scaleout",
    "write_amp",
    "parts_cost",
    "history",
    "http_latency",
)


def run_part(part: str, quick: bool) -> tuple[list[Row], float]:
    args = [sys.executable, "-m", f"bench.{part}"] + (["--quick"] if quick else [])
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    rows = parse(done.stdout)
    if done.returncode != 0 or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        rows.append(Row(f"{part}: failed (exit {done.returncode})", " / ".join(tail) or "no output"))
    return rows, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated parts: " + ", ".join(PARTS))
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    options = parser.parse_args()
    wanted = [p for p in options.only.split(",") if p] or list(PARTS)
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        parser.error(f"unknown parts: {', '.join(unknown)}")
    rows: list[Row] = []
    for part in wanted:
        if importlib.util.find_spec(f"bench.{part}") is None:
            print(f"bench: no part {part!r} here; skipped", file=sys.stderr)
            continue
        print(f"bench: {part} ...", file=sys.stderr, flush=True)
        part_rows, elapsed = run_part(part, options.quick)
        print(f"bench: {part} took {elapsed:.0f} s", file=sys.stderr, flush=True)
        rows += part_rows
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    print(
        f"`python -m bench{' --quick' if options.quick else ''}` on {today}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n"
    )
    print(markdown(rows))


if __name__ == "__main__":
    main()
