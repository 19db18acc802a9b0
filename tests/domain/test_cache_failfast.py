"""With Bitrix24 down and nothing cached, users hear so at once instead of queueing retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bitrix.cache import FAILED_LOAD_BACKOFF, CompanyCache, SnapshotUnavailable
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions, RawCompanyData
from bitrix.errors import BitrixConnectError

MSK = ZoneInfo("Europe/Moscow")


class CountingFetch:
    """A fetch that fails like an unreachable portal and counts how often it is called."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> RawCompanyData:
        self.calls += 1
        await self.release.wait()  # the first attempt is slow (its retries), the rest wait
        raise BitrixConnectError("cannot connect", method="batch")


async def test_waiting_users_share_one_failed_attempt_then_fail_fast() -> None:
    fetch, clock = CountingFetch(), FixedClock(datetime(2026, 11, 25, 9, tzinfo=UTC))
    cache = CompanyCache(fetch, tz=MSK, options=MappingOptions(), clock=clock)
    waiting = [asyncio.create_task(cache.get()) for _ in range(5)]
    await asyncio.wait_for(_until(lambda: fetch.calls == 1), 5)
    fetch.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, SnapshotUnavailable) for r in results)
    assert fetch.calls == 1  # four users did not each sit through another attempt

    with pytest.raises(SnapshotUnavailable):
        await cache.get()  # right after the failure: no new attempt
    assert fetch.calls == 1

    clock.advance(timedelta(seconds=FAILED_LOAD_BACKOFF + 1))
    with pytest.raises(SnapshotUnavailable):
        await cache.get()  # later: Bitrix24 is tried again
    assert fetch.calls == 2


async def _until(predicate: object) -> None:
    assert callable(predicate)
    while not predicate():
        await asyncio.sleep(0)
