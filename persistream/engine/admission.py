"""Per-process admission: how many answers this process generates at once, and what happens past that.

One process carries a bounded number of streams at the token latency it promises (the capacity figures in the
benchmarks). Past it, letting every new answer start would slow every answer already running; instead a new
answer waits for a slot in a bounded first-come queue, and an answer that finds the queue full is refused at once
with `RATE_LIMITED` (its stream stays `PENDING`: the driver may ask again after `retryAfter`, and an answer nobody
asks for again ends in `TIMEOUT` like any pending one).

A slot is held from the claim to the end of the generation, not by the driver: a driver that leaves does not free
it, because the answer goes on. A driver that leaves while waiting leaves the queue (nothing was claimed).

`max_generations=0` admits everything (no queue, no refusal): the behaviour before admission existed.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from persistream import metrics
from persistream.errors import RateLimited

log = logging.getLogger("persistream.engine")

# A hint only: about how long a slot takes to free when the process is full (a short answer's length).
FULL_RETRY_AFTER = 2


class Admission:
    def __init__(self, max_generations: int, max_waiting: int) -> None:
        self.max_generations = max_generations
        self.max_waiting = max_waiting
        self._running = 0
        # Waiters in arrival order; each future is resolved when a slot is handed to it (True) or the process stops
        # taking answers (False).
        self._waiting: collections.deque[asyncio.Future[bool]] = collections.deque()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def has_room(self) -> bool:
        return not self.max_generations or (self._running < self.max_generations and not self._waiting)

    async def acquire(self) -> bool:
        """Take a slot, waiting in line when there is none: True once it is ours, False when the process stops
        taking answers while we wait (`close`). RateLimited when the line is full too."""
        if self.has_room():
            self._running += 1
            return True
        if len(self._waiting) >= self.max_waiting:
            metrics.LIMITS_HIT.labels("process_capacity").inc()
            log.warning(
                "admission refused: %d answers generating, %d waiting (PERSISTREAM_MAX_GENERATIONS=%d)",
                self._running,
                len(self._waiting),
                self.max_generations,
            )
            raise RateLimited("The server is at capacity; ask again shortly.", FULL_RETRY_AFTER)
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        metrics.ADMISSION_WAITING.inc()
        try:
            return await waiter  # a slot handed over is already counted by `release`
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # handed a slot in the same instant we were cancelled: pass it on
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
            raise
        finally:
            metrics.ADMISSION_WAITING.dec()

    def release(self) -> None:
        """Give the slot back: to the first live waiter, or to the pool."""
        if not self.max_generations:
            self._running = max(0, self._running - 1)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(True)  # the slot moves to it: `_running` stays the same
                return
        self._running -= 1

    def close(self) -> None:
        """The process is stopping: every waiter gets no slot (its stream stays PENDING for another process)."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(False)
