"""The cache keeps answering when Bitrix24 does not: stale with its age, from disk after a restart.

The portal is really stopped (connections refused); time is an injected clock, retries use an
injected sleep, so nothing waits.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bitrix.cache import CompanyCache, SnapshotUnavailable
from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions
from bitrix.demo.builder import DemoCompany
from bitrix.errors import BitrixConnectError
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions

from .conftest import MSK, NOON, Sleeps, make_client

OPTIONS = MappingOptions()
TTL = 300.0


@dataclass
class Setup:
    """A portal that can be stopped, and what a fresh process would build against it."""

    portal: EmulatedPortal
    url: str
    clock: FixedClock
    path: Path
    sleeps: Sleeps
    clients: list[BitrixClient]

    def cache(self, *, path: Path | None = None) -> CompanyCache:
        """A new cache (as after a restart) with its own client and loader."""
        client = make_client(self.url, self.sleeps)
        self.clients.append(client)
        loader = CompanyLoader(client, tz=MSK, options=OPTIONS, clock=self.clock)
        return CompanyCache(
            loader.fetch,
            tz=MSK,
            options=OPTIONS,
            ttl=TTL,
            path=path or self.path,
            clock=self.clock,
        )


@pytest.fixture
async def setup(default_demo: DemoCompany, tmp_path: Path) -> AsyncIterator[Setup]:
    portal = EmulatedPortal(default_demo.store, PortalOptions())
    url = await portal.start()
    state = Setup(
        portal=portal,
        url=url,
        clock=FixedClock(NOON),
        path=tmp_path / "cache" / "company.json",
        sleeps=Sleeps(),
        clients=[],
    )
    try:
        yield state
    finally:
        for client in state.clients:
            await client.aclose()
        await portal.stop()


async def test_stale_snapshot_is_served_with_its_age_while_the_portal_is_down(
    setup: Setup,
) -> None:
    cache = setup.cache()
    fresh = await cache.get()
    assert (fresh.stale, fresh.source, fresh.error, fresh.age_s) == (False, "bitrix24", None, 0.0)
    assert len(fresh.snapshot.houses) == 490
    assert stat.S_IMODE(setup.path.stat().st_mode) == 0o600  # it holds staff phone numbers

    await setup.portal.stop()
    setup.clock.advance(
        timedelta(seconds=600)
    )  # past the TTL: the next question tries to refresh in line
    view = await cache.get()
    assert view.stale is True
    assert view.age_s == 600.0
    assert isinstance(view.error, BitrixConnectError)
    assert view.error.user_message
    assert view.snapshot is fresh.snapshot
    assert view.source == "bitrix24"
    assert setup.sleeps.calls  # the client retried, without waiting for real

    with pytest.raises(BitrixConnectError):
        await cache.refresh()
    current = cache.view()
    assert current is not None and current.snapshot is fresh.snapshot


async def test_restart_while_the_portal_is_down_serves_the_disk_snapshot(setup: Setup) -> None:
    first = await setup.cache().get()
    houses = {h.id: (h.brigade, h.apartments, h.visits) for h in first.snapshot.houses}
    port = setup.portal.port
    await setup.portal.stop()

    setup.clock.advance(timedelta(seconds=3600))
    restarted = setup.cache()  # a new process: nothing in memory
    view = await restarted.get()
    assert view.source == "disk"
    assert view.stale is True
    assert view.age_s == 3600.0  # the age of the data, not of the file
    assert isinstance(view.error, BitrixConnectError)
    assert {h.id: (h.brigade, h.apartments, h.visits) for h in view.snapshot.houses} == houses

    # Bitrix24 is back: the next refresh replaces the disk copy.
    await setup.portal.start("127.0.0.1", port)
    await restarted.refresh()
    back = restarted.view()
    assert back is not None
    assert (back.source, back.stale, back.error) == ("bitrix24", False, None)


@pytest.mark.parametrize(
    "damage",
    ["{not json", "truncate", '{"fetched_at": "2026-01-01T00:00:00+00:00"}', '{"deals": 5}'],
)
async def test_damaged_snapshot_is_ignored_with_a_warning(
    setup: Setup, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    await setup.cache().get()
    text = setup.path.read_text(encoding="utf-8")
    setup.path.write_text(text[: len(text) // 2] if damage == "truncate" else damage)
    await setup.portal.stop()

    with (
        caplog.at_level(logging.WARNING, logger="bitrix.cache"),
        pytest.raises(SnapshotUnavailable) as caught,
    ):
        await setup.cache().get()
    assert isinstance(caught.value.cause, BitrixConnectError)
    assert any("could not read the company snapshot" in r.getMessage() for r in caplog.records)


async def test_damaged_snapshot_is_replaced_by_a_good_load(setup: Setup) -> None:
    setup.path.parent.mkdir(parents=True)
    setup.path.write_text("garbage")
    view = await setup.cache().get()
    assert view.source == "bitrix24"
    assert len(json.loads(setup.path.read_text(encoding="utf-8"))["deals"]) == len(
        view.snapshot.raw.deals
    )


async def test_no_snapshot_and_the_portal_down_is_unavailable(
    setup: Setup, tmp_path: Path
) -> None:
    await setup.portal.stop()
    with pytest.raises(SnapshotUnavailable) as caught:
        await setup.cache(path=tmp_path / "never-written.json").get()
    assert isinstance(caught.value.cause, BitrixConnectError)
    assert "Bitrix24" in caught.value.cause.user_message
