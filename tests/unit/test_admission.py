"""The admission line on its own: slots, first come first served, refusal past the line, waiters that leave (also
in the instant a slot is handed to them) and a stopping process; the slot count never drifts."""

from __future__ import annotations

import asyncio
import random

import pytest

from persistream.engine.admission import Admission
from persistream.errors import RateLimited


async def test_no_limit_admits_everything() -> None:
    admission = Admission(0, 0)
    for _ in range(1000):
        assert await admission.acquire()
    assert admission.running == 1000
    for _ in range(1000):
        admission.release()
    assert admission.running == 0


async def test_waiters_are_served_in_arrival_order_and_one_too_many_is_refused() -> None:
    admission = Admission(2, 3)
    assert await admission.acquire() and await admission.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        assert await admission.acquire()
        order.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert admission.waiting == 3
    with pytest.raises(RateLimited) as refused:
        await admission.acquire()
    assert refused.value.retry_after >= 1
    for _ in range(3):
        admission.release()
        await asyncio.sleep(0)
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert (admission.running, admission.waiting) == (2, 0)


async def test_a_new_caller_does_not_overtake_the_line() -> None:
    admission = Admission(1, 5)
    assert await admission.acquire()
    first = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0)
    admission.release()  # handed to `first`, not free for whoever comes next
    assert not admission.has_room()
    assert await first
    assert admission.running == 1


async def test_close_sends_every_waiter_away_without_a_slot() -> None:
    admission = Admission(1, 5)
    assert await admission.acquire()
    waiters = [asyncio.create_task(admission.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    admission.close()
    assert await asyncio.gather(*waiters) == [False, False, False]
    assert (admission.running, admission.waiting) == (1, 0)


async def test_waiters_leaving_at_random_moments_never_leak_or_double_a_slot() -> None:
    """Many rounds: waiters are cancelled while others release, sometimes in the very step a slot reaches them."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for round_no in range(200):
        slots = rng.randint(1, 3)
        admission = Admission(slots, 50)
        holders = 0

        async def hold(admission: Admission = admission) -> None:
            nonlocal holders
            if not await admission.acquire():
                return
            holders += 1
            try:
                await asyncio.sleep(rng.choice([0, 0, 0.0005]))
            finally:
                holders -= 1
                admission.release()

        tasks = [asyncio.create_task(hold()) for _ in range(rng.randint(1, 12))]
        for _ in range(rng.randint(0, 4)):
            await asyncio.sleep(0)
            victim = rng.choice(tasks)
            victim.cancel()
            assert holders <= slots, f"seed {seed} round {round_no}: {holders} holders of {slots} slots"
        await asyncio.gather(*tasks, return_exceptions=True)
        assert (admission.running, admission.waiting) == (0, 0), f"seed {seed} round {round_no}"
