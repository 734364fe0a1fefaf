"""`persistream serve` with test knobs on its broadcast, for the scale tests of the interest-based hub:

    python -m tests.support.hub_faults_server serve --port PORT ...   (the arguments of `python -m persistream`)

Read from the environment (none of them is a setting of the product):
- `HUB_DROP`: the share (0 to 1) of stream messages (chunks, statuses, final statuses) this process's hub drops
  instead of publishing, as a broadcast that loses messages would; `HUB_DROP_SEED` seeds the choice, and the number
  dropped so far is kept in the file `HUB_DROP_COUNT`;
- `FEED_CHECK_INTERVAL`: seconds of silence before a follower reads a live stream anyway (1 by default). A test sets
  it long to see what the broadcast delivers by itself, without the slow check hiding a lost chunk;
- `STOP_CHECK_INTERVAL`: how often the process checks the database for cancel requests (0.5 by default, and at most
  the heartbeat's 5 s). Set long, a cancel that lands within a second came through the broadcast.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

from persistream.__main__ import main
from persistream.chat import services
from persistream.db.database import Database
from persistream.engine import stream_engine, sweeper
from persistream.engine.feed import Feeds
from persistream.engine.hub import Hub
from persistream.engine.messages import Chunk, Final, HubMessage, Status


class DroppingHub(Hub):
    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.share = float(os.environ.get("HUB_DROP", "0"))
        self.rng = random.Random(os.environ.get("HUB_DROP_SEED"))
        self.count_file = Path(os.environ["HUB_DROP_COUNT"]) if "HUB_DROP_COUNT" in os.environ else None
        self.dropped = 0

    async def publish(self, message: HubMessage) -> bool:
        if isinstance(message, Chunk | Status | Final) and self.rng.random() < self.share:
            self.dropped += 1
            if self.count_file is not None:
                self.count_file.write_text(str(self.dropped))
            return True
        return await super().publish(message)


class SlowCheckFeeds(Feeds):
    def __init__(self, db: Database, hub: Hub, *, check_interval: float = 1.0, subscription_limit: int = 256) -> None:
        check_interval = float(os.environ.get("FEED_CHECK_INTERVAL", check_interval))
        super().__init__(db, hub, check_interval=check_interval, subscription_limit=subscription_limit)


def serve() -> int:
    services.Hub = DroppingHub  # type: ignore[misc]
    stream_engine.Feeds = SlowCheckFeeds  # type: ignore[misc]
    sweeper.STOP_CHECK_INTERVAL = float(os.environ.get("STOP_CHECK_INTERVAL", sweeper.STOP_CHECK_INTERVAL))
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(serve())
