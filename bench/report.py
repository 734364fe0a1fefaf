"""How a benchmark part reports: rows of (what, persistream, baseline in the same run, target), printed as a Markdown
table when the part runs alone and as marked JSON lines that `python -m bench` collects into one table."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass

MARKER = "BENCH-ROW "


@dataclass(frozen=True)
class Row:
    what: str
    persistream: str
    baseline: str = "-"
    target: str = "-"


def markdown(rows: Iterable[Row]) -> str:
    lines = [
        "| what | persistream | baseline in the same run | target |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.what} | {r.persistream} | {r.baseline} | {r.target} |" for r in rows]
    return "\n".join(lines)


def emit(rows: Iterable[Row]) -> None:
    """Print the part's rows: a table for a person, and one marked JSON line per row for `python -m bench`."""
    rows = list(rows)
    print(markdown(rows))
    for row in rows:
        print(MARKER + json.dumps(asdict(row), ensure_ascii=False))
    sys.stdout.flush()


def parse(output: str) -> list[Row]:
    return [Row(**json.loads(line[len(MARKER) :])) for line in output.splitlines() if line.startswith(MARKER)]
