"""The per-identity limits on `sendMessage`: a rate (fixed windows) and a number of live answers.

Both are kept in the database, so they hold across every process that shares it. A fixed window lets at most 2N
calls through across a window boundary, which the contract allows, for one atomic upsert per call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from persistream import metrics
from persistream.db import limits as queries
from persistream.db.database import Database
from persistream.errors import RateLimited

# A hint only: how long a typical answer takes to finish and free a slot.
LIVE_RETRY_AFTER = 5


class SendLimits:
    def __init__(
        self,
        db: Database,
        *,
        rate: tuple[int, int] | None,
        max_live: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.rate = rate
        self.max_live = max_live
        self.clock = clock

    async def check(self, owner_id: str) -> None:
        """Raise RateLimited when `owner_id` may not send now; otherwise count the call."""
        # Live answers first: a call refused for them should not use up the caller's rate. This count is a fast
        # refusal only; the insert counts again, atomically (`live_answers_full` is what it raises then).
        if self.max_live and await queries.count_live_streams(self.db, owner_id) >= self.max_live:
            raise self.live_answers_full()
        if self.rate is None:
            return
        calls, window = self.rate
        now = self.clock()
        start = int(now // window) * window
        if await queries.count_call(self.db, owner_id, start) > calls:
            metrics.LIMITS_HIT.labels("send_rate").inc()
            raise RateLimited(
                f"Too many messages: at most {calls} per {window} seconds.", math.ceil(start + window - now)
            )

    def live_answers_full(self) -> RateLimited:
        """The refusal of a send that would make more than `max_live` answers live at once."""
        metrics.LIMITS_HIT.labels("live_answers").inc()
        return RateLimited(
            f"You already have {self.max_live} answers in progress; wait for one to finish.", LIVE_RETRY_AFTER
        )
