"""A separate process that compacts the given streams, starting at a given wall-clock time (so two of them collide).

    python -m tests.support.compactor DATABASE_URL START_EPOCH STREAM_ID...

Prints how many streams this process compacted; any error is a non-zero exit with its type on stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time

from persistream.db import compaction
from persistream.db.database import Database


async def main(url: str, start: float, stream_ids: list[str]) -> int:
    db = Database(url)
    try:
        await asyncio.sleep(max(0.0, start - time.time()))
        compacted = 0
        for stream_id in stream_ids:
            compacted += await compaction.compact_stream(db, stream_id)
        return compacted
    finally:
        await db.close()


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3:])))
