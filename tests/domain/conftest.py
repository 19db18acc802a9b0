"""Shared fixtures of the domain tests: demo portals on loopback, clients, loads.

Each test talks real HTTP to an `EmulatedPortal` serving a demo company; the same
`CompanyLoader` + `CompanySnapshot` code must work on every `DemoLayout`. The demo is dated
around ``LOAD_DAY``, a pinned day (`CompanySnapshot.statistics` measures schedule coverage for
the current month, so the loads' clock stands at noon of that same day); `test_calendar.py`
sweeps the hard days of the calendar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import CompanySnapshot, MappingOptions, RawCompanyData
from bitrix.demo import DemoLayout, build_demo
from bitrix.demo.builder import DemoCompany
from bitrix.loader import CompanyLoader, LoadStats
from bitrix.portal import EmulatedPortal, PortalOptions

from .raw import RawPortal

MSK = ZoneInfo("Europe/Moscow")
#: A fixed "today" for tests that do not depend on the wall clock.
TODAY = date(2026, 11, 5)
#: The day the layout tests load the demo on, and noon of it: the loads' "now". 3 December
#: 2026 is the day the suite once went red (same-day visits of two cleaning types).
LOAD_DAY = date(2026, 12, 3)
NOON = datetime.combine(LOAD_DAY, time(12), tzinfo=MSK)


class Sleeps:
    """An injected ``sleep`` for the client: records the waits, never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(url: str, sleeps: Sleeps | None = None) -> BitrixClient:
    """A client whose retries and rate limiting do not sleep for real."""
    return BitrixClient(url, max_retries=2, sleep=sleeps or Sleeps())


@dataclass
class Loaded:
    """One load: raw data, the snapshot, the loader's statistics."""

    raw: RawCompanyData
    snapshot: CompanySnapshot
    stats: LoadStats


async def load(client: BitrixClient, options: MappingOptions | None = None) -> Loaded:
    """Fetch the company with a fresh loader and build its snapshot."""
    options = options or MappingOptions()
    clock = FixedClock(NOON)
    loader = CompanyLoader(client, tz=MSK, options=options, clock=clock)
    raw = await loader.fetch()
    assert loader.last_stats is not None
    snapshot = CompanySnapshot(raw, tz=MSK, options=options, clock=clock)
    return Loaded(raw, snapshot, loader.last_stats)


@pytest.fixture(scope="module", params=DemoLayout.all(), ids=lambda layout: layout.name)
def demo(request: pytest.FixtureRequest) -> DemoCompany:
    """The demo company on each layout (built once per module and layout; read-only)."""
    layout: DemoLayout = request.param
    return build_demo(LOAD_DAY, layout=layout)


@pytest.fixture(scope="module")
def default_demo() -> DemoCompany:
    """The demo company on the company's own layout."""
    return build_demo(LOAD_DAY)


@pytest.fixture
async def portal(demo: DemoCompany) -> AsyncIterator[EmulatedPortal]:
    """A running portal serving ``demo``."""
    async with EmulatedPortal(demo.store, PortalOptions()) as running:
        yield running


@pytest.fixture
async def client(portal: EmulatedPortal) -> AsyncIterator[BitrixClient]:
    """Our client for ``portal``."""
    async with make_client(portal.webhook_url) as bx:
        yield bx


@pytest.fixture
async def rest(portal: EmulatedPortal, demo: DemoCompany) -> RawPortal:
    """The portal's raw REST answers, read independently of the code under test."""
    return await RawPortal.fetch(portal.webhook_url, demo.truth.layout)
