"""The one retry helper: it backs off up to its cap, says once that it is failing and once that it recovered,
gives up at its deadline (or never), and tries again only what it is told to."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from persistream.retry import Backoff, GaveUp, Retrying, every


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Hooks:
    """Records every hook call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def retrying(self, backoff: Backoff, **options: object) -> Retrying:
        return Retrying(
            backoff,
            on_failing=lambda exc: self.calls.append(("failing", str(exc))),
            on_retry=lambda exc, failures: self.calls.append(("retry", failures)),
            on_recovered=lambda failures, seconds: self.calls.append(("recovered", failures, seconds)),
            **options,  # type: ignore[arg-type]
        )


def test_waits_double_up_to_the_cap_and_start_over_after_a_success() -> None:
    clock = Clock()
    retrying = Retrying(Backoff(0.1, 0.5), clock=clock)
    assert [retrying.failed(OSError()) for _ in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    retrying.succeeded()
    assert retrying.failed(OSError()) == pytest.approx(0.1)
    assert Retrying(Backoff(1.0, 8.0, factor=3.0), clock=clock).failed(OSError()) == 1.0
    assert [Retrying(Backoff.fixed(2.0), clock=clock).failed(OSError()) for _ in range(2)] == [2.0, 2.0]


def test_says_once_that_it_is_failing_and_once_that_it_recovered() -> None:
    clock, hooks = Clock(), Hooks()
    retrying = hooks.retrying(Backoff(0.1, 1.0), clock=clock)
    retrying.succeeded()  # a success that ends no failure says nothing
    for n in range(3):
        clock.now = 10.0 + n
        retrying.failed(OSError(f"down {n}"))
    assert retrying.failing and retrying.failures == 3
    clock.now = 14.5
    retrying.succeeded()
    retrying.succeeded()
    assert not retrying.failing
    assert hooks.calls == [
        ("failing", "down 0"),
        ("retry", 1),
        ("retry", 2),
        ("retry", 3),
        ("recovered", 3, 4.5),  # three failed tries, failing since 10.0
    ]
    hooks.calls.clear()
    retrying.failed(OSError("again"))  # a new run of failures is told again
    assert hooks.calls == [("failing", "again"), ("retry", 1)]


def test_a_deadline_cuts_the_last_wait_and_gives_up_at_the_first_failure_past_it() -> None:
    clock, hooks = Clock(), Hooks()
    retrying = hooks.retrying(Backoff(0.3, 10.0), deadline=1.0, clock=clock)
    waits = []
    for now in (0.0, 0.3, 0.9):
        clock.now = now
        waits.append(retrying.failed(OSError()))
    assert waits == pytest.approx([0.3, 0.6, 0.1])  # the last try comes at the deadline
    clock.now = 1.0
    last = OSError("still down")
    with pytest.raises(GaveUp) as gave_up:
        retrying.failed(last)
    assert gave_up.value.failures == 4 and gave_up.value.__cause__ is last
    assert ("retry", 4) not in hooks.calls  # a failure that gives up is not retried


def test_give_up_after_counts_from_the_first_failure_and_does_not_cut_waits() -> None:
    clock = Clock()
    clock.now = 100.0
    retrying = Retrying(Backoff(1.0, 1.0), give_up_after=2.0, clock=clock)
    assert retrying.failed(OSError()) == 1.0
    clock.now = 102.0
    assert retrying.failed(OSError()) == 1.0  # exactly at the limit: not past it
    clock.now = 102.5
    with pytest.raises(GaveUp):
        retrying.failed(OSError())
    retrying.succeeded()
    clock.now = 200.0
    assert retrying.failed(OSError()) == 1.0  # a success starts the count again


def test_without_a_deadline_it_never_gives_up() -> None:
    clock = Clock()
    retrying = Retrying(Backoff(0.1, 1.0), clock=clock)
    for n in range(1000):
        clock.now = n * 3600.0
        assert retrying.failed(OSError()) <= 1.0


async def test_call_retries_what_it_is_told_to_then_returns_the_result() -> None:
    hooks = Hooks()
    outcomes: list[Exception | str] = [ConnectionError("a"), ConnectionError("b"), "done"]

    async def operation() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    retrying = hooks.retrying(Backoff(0.001, 0.002))
    assert await retrying.call(operation, retry_if=lambda exc: isinstance(exc, ConnectionError)) == "done"
    assert [c[0] for c in hooks.calls] == ["failing", "retry", "retry", "recovered"]


async def test_call_raises_at_once_what_a_retry_cannot_cure() -> None:
    hooks, tries = Hooks(), []

    async def operation() -> None:
        tries.append(1)
        raise ValueError("refused")

    retrying = hooks.retrying(Backoff(0.001, 0.002))
    with pytest.raises(ValueError, match="refused"):
        await retrying.call(operation, retry_if=lambda exc: not isinstance(exc, ValueError))
    assert tries == [1] and hooks.calls == []


async def test_call_stops_at_its_deadline() -> None:
    tries = 0

    async def operation() -> None:
        nonlocal tries
        tries += 1
        raise ConnectionError(f"try {tries}")

    started = time.monotonic()
    retrying = Retrying(Backoff(0.01, 0.02), deadline=started + 0.2)
    with pytest.raises(GaveUp) as gave_up:
        await retrying.call(operation)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0
    assert gave_up.value.failures == tries > 5
    assert str(gave_up.value.__cause__) == f"try {tries}"


async def test_every_runs_on_its_interval_and_waits_as_told_after_a_failure() -> None:
    hooks, runs = Hooks(), []
    fifth = asyncio.Event()

    async def job() -> None:
        runs.append(time.monotonic())
        if len(runs) == 5:
            fifth.set()
        if len(runs) in (2, 3):
            raise ConnectionError("away")

    task = asyncio.create_task(every(0.02, job, hooks.retrying(Backoff.fixed(0.3))))
    await asyncio.wait_for(fifth.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert 0.015 < gaps[0] < 0.25  # the interval
    assert gaps[1] >= 0.29 and gaps[2] >= 0.29  # after each failure: the retry's wait
    assert gaps[3] < 0.25  # back to the interval
    assert [c[0] for c in hooks.calls] == ["failing", "retry", "retry", "recovered"]
