"""The client's leaky bucket, driven by an injected clock (no real sleeping)."""

from __future__ import annotations

import asyncio

import pytest

from bitrix.throttle import LeakyBucket


class Recorder:
    """A clock that only moves when the test says so, and a sleep that records and returns."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def test_burst_then_one_slot_per_interval() -> None:
    time = Recorder()
    bucket = LeakyBucket(2.0, 5, headroom=0, clock=time.clock, sleep=time.sleep)
    waits = [await bucket.acquire() for _ in range(8)]
    # Five go at once; the sixth waits half a second, each next one another half.
    assert waits == [0, 0, 0, 0, 0, 0.5, 1.0, 1.5]
    assert time.sleeps == [0.5, 1.0, 1.5]
    assert bucket.waited == 3.0


async def test_concurrent_waiters_are_served_in_order_without_polling() -> None:
    time = Recorder()
    bucket = LeakyBucket(4.0, 2, headroom=0, clock=time.clock, sleep=time.sleep)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(6)))
    assert sorted(waits) == [0, 0, 0.25, 0.5, 0.75, 1.0]
    assert len(time.sleeps) == 4  # one sleep per waiter, no polling loop


async def test_the_bucket_drains_with_time() -> None:
    time = Recorder()
    bucket = LeakyBucket(2.0, 3, headroom=0, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        await bucket.acquire()
    assert bucket.delay() == 0.5
    time.now = 1.0  # two slots drained
    assert bucket.level == pytest.approx(1.0)
    assert await bucket.acquire() == 0
    assert await bucket.acquire() == 0
    assert await bucket.acquire() == 0.5


async def test_saturate_makes_later_requests_pace_at_the_rate() -> None:
    time = Recorder()
    bucket = LeakyBucket(2.0, 50, headroom=0, clock=time.clock, sleep=time.sleep)
    assert await bucket.acquire() == 0
    bucket.saturate()
    assert await bucket.acquire() == 0.5
    assert await bucket.acquire() == 1.0


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    release = asyncio.Event()
    time = Recorder()

    async def blocking_sleep(seconds: float) -> None:
        time.sleeps.append(seconds)
        await release.wait()

    bucket = LeakyBucket(1.0, 1, headroom=0, clock=time.clock, sleep=blocking_sleep)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.wait_for(_until(lambda: time.sleeps == [1.0]), timeout=2)
    assert bucket.level == pytest.approx(2.0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.level == pytest.approx(1.0)


async def test_context_manager_form() -> None:
    time = Recorder()
    bucket = LeakyBucket(1.0, 1, headroom=0, clock=time.clock, sleep=time.sleep)
    async with bucket:
        pass
    async with bucket:
        pass
    assert time.sleeps == [1.0]


async def test_headroom_keeps_a_slot_free_for_jitter() -> None:
    time = Recorder()
    bucket = LeakyBucket(2.0, 5, clock=time.clock, sleep=time.sleep)  # default headroom: 1
    waits = [await bucket.acquire() for _ in range(6)]
    assert waits == [0, 0, 0, 0, 0.5, 1.0]
    # Never below one request per interval, however large the headroom.
    tiny = LeakyBucket(2.0, 1, headroom=5, clock=time.clock, sleep=time.sleep)
    assert [await tiny.acquire() for _ in range(3)] == [0, 0.5, 1.0]


@pytest.mark.parametrize(
    ("rate", "burst", "headroom"), [(0, 5, 0), (-1, 5, 0), (1, 0, 0), (1, 5, -1)]
)
def test_invalid_settings(rate: float, burst: int, headroom: float) -> None:
    with pytest.raises(ValueError):
        LeakyBucket(rate, burst, headroom=headroom)


async def _until(condition: object) -> None:
    assert callable(condition)
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")
