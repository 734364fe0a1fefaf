"""Trying again through a transient failure: the one shape of every retry loop in persistream.

A `Retrying` is the state of one loop: the wait before its next try (`Backoff`: `first`, times `factor` after each
failure, never more than `cap`), when its current run of failures began, and whether it has said so. It speaks
through hooks, so each loop keeps its own words: `on_failing` once at the first failure of a run, `on_retry` at
every failure that will be tried again, `on_recovered` once at the first success after it. A database away for a
minute thus costs two log lines, not one per try. It gives up (`GaveUp`) at a deadline, or never.

Two ways to use it:
- `await retrying.call(operation, retry_if=...)`: one operation, tried until it succeeds (an answer's writes, the
  conversation read after a claim);
- `failed(exc)` and `succeeded()` around a loop of its own (the hub's link, the client's subscription, the periodic
  jobs through `every`): `failed` returns the wait before the next try, so the caller can close things first.

It imports nothing of the server: the Python client (`persistream.client`) uses it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between tries, in seconds: `first`, then multiplied by `factor` after each failure, up to `cap`."""

    first: float
    cap: float
    factor: float = 2.0

    @classmethod
    def fixed(cls, seconds: float) -> Backoff:
        return cls(seconds, seconds)


class GaveUp(Exception):
    """A loop's failures went past its deadline. `failures` counts them; the last one is the `__cause__`."""

    def __init__(self, failures: int) -> None:
        super().__init__(f"gave up after {failures} failed tries")
        self.failures = failures


class Retrying:
    """The retry state of one loop. Give it at most one of:
    - `deadline` (a `time.monotonic()` time): a failure at or past it gives up, and no wait goes past it, so the
      last try comes at the deadline (a generation's writes, bounded by its outage limit);
    - `give_up_after` (seconds): a failure more than this long after the run's first failure gives up; waits are
      not cut (the client's subscription).
    Neither: it never gives up."""

    def __init__(
        self,
        backoff: Backoff,
        *,
        deadline: float | None = None,
        give_up_after: float | None = None,
        on_failing: Callable[[Exception], None] | None = None,
        on_retry: Callable[[Exception, int], None] | None = None,
        on_recovered: Callable[[int, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self.deadline = deadline
        self.give_up_after = give_up_after
        self._on_failing = on_failing
        self._on_retry = on_retry
        self._on_recovered = on_recovered
        self._clock = clock
        self.failures = 0  # in the current run
        self._since = 0.0  # when the current run began
        self._wait = backoff.first

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: Exception) -> float:
        """Count a failure; the wait before the next try, or GaveUp (from `exc`) past the deadline."""
        now = self._clock()
        self.failures += 1
        if self.failures == 1:
            self._since = now
        if (self.deadline is not None and now >= self.deadline) or (
            self.give_up_after is not None and now - self._since > self.give_up_after
        ):
            raise GaveUp(self.failures) from exc
        if self.failures == 1 and self._on_failing is not None:
            self._on_failing(exc)
        if self._on_retry is not None:
            self._on_retry(exc, self.failures)
        wait = self._wait if self.deadline is None else min(self._wait, self.deadline - now)
        self._wait = min(self._wait * self.backoff.factor, self.backoff.cap)
        return wait

    def succeeded(self) -> None:
        """A try worked: say so once if it ends a run of failures (`on_recovered(failures, seconds failing)`)."""
        if self.failures and self._on_recovered is not None:
            self._on_recovered(self.failures, self._clock() - self._since)
        self.failures = 0
        self._wait = self.backoff.first

    async def call(
        self, operation: Callable[[], Awaitable[T]], *, retry_if: Callable[[Exception], bool] = lambda exc: True
    ) -> T:
        """`operation()`'s result, tried again after each failure `retry_if` accepts; any other failure, and
        GaveUp, are raised as they are."""
        while True:
            try:
                result = await operation()
            except Exception as exc:
                if not retry_if(exc):
                    raise
                await asyncio.sleep(self.failed(exc))
                continue
            self.succeeded()
            return result


async def every(interval: float, job: Callable[[], Awaitable[object]], retrying: Retrying) -> NoReturn:
    """Run `job` every `interval` seconds, forever; after a failed run, the next comes when `retrying` says."""
    wait = interval
    while True:
        await asyncio.sleep(wait)
        try:
            await job()
        except Exception as exc:
            wait = retrying.failed(exc)
            continue
        retrying.succeeded()
        wait = interval
