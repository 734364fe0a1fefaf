"""`persistream serve` with tracemalloc tracing every allocation, for finding what grows in a soak
(`python -m bench.soak --trace-memory`): each SIGUSR1 writes a snapshot to the directory named by
`SOAK_SNAPSHOTS`, as `1.snapshot`, `2.snapshot`, ... The soak diffs the first and the last.

    python -m bench.soak.traced_server serve --port PORT ...   (the arguments of `python -m persistream`)

Tracing makes every allocation slower (the server does about half the work per second), so the figures of a
traced run are for finding a leak, not for the README.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from persistream.__main__ import main

FRAMES = 8  # deep enough to see which persistream call allocated under the frames of a library


def trace() -> int:
    directory = Path(os.environ["SOAK_SNAPSHOTS"])
    numbers = itertools.count(1)

    def snapshot(_signal: int, _frame: FrameType | None) -> None:
        path = directory / f"{next(numbers)}.snapshot"
        tracemalloc.take_snapshot().dump(str(path.with_suffix(".partial")))
        path.with_suffix(".partial").rename(path)  # whole when it appears

    tracemalloc.start(FRAMES)
    signal.signal(signal.SIGUSR1, snapshot)
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(trace())
