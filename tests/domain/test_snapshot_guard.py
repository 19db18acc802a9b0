"""Issue 13, finding 2 and 3: a bad portal answer never becomes the truth.

A real `EmulatedPortal` on loopback serves a clone of the demo company; a test changes what it
serves (a permission change that hides most houses, a field that disappears, garbage cells)
and checks that the cache holds the refresh back, keeps serving the last good snapshot with a
note, keeps the good file on disk, and takes the new data once an admin accepts it. Time is a
`FixedClock`; the client's retries use an injected sleep, so nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bitrix import loader as loader_module
from bitrix.cache import (
    ACCEPT_MARKER,
    TEMP_PREFIX,
    CompanyCache,
    SnapshotUnavailable,
    request_accept,
)
from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions
from bitrix.demo.builder import DemoCompany
from bitrix.errors import BitrixError, BitrixImplausibleData, BitrixMappingError
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions
from bitrix.values import as_int

from .conftest import MSK, NOON, Sleeps, make_client

OPTIONS = MappingOptions()


@dataclass
class Setup:
    portal: EmulatedPortal
    deals: dict[int, dict[str, Any]]
    clock: FixedClock
    path: Path
    clients: list[BitrixClient]

    def cache(self) -> CompanyCache:
        """A new cache, as in a freshly started process."""
        client = make_client(self.portal.webhook_url, Sleeps())
        self.clients.append(client)
        loader = CompanyLoader(client, tz=MSK, options=OPTIONS, clock=self.clock)
        return CompanyCache(
            loader.fetch, tz=MSK, options=OPTIONS, ttl=300.0, path=self.path, clock=self.clock
        )

    def houses_on_disk(self) -> int:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return len(data["deals"])

    def keep_deals(self, count: int) -> None:
        """Serve only the first ``count`` deals (what a narrowed permission looks like)."""
        kept = dict(list(self.deals.items())[:count])
        self.portal.store.deals.clear()
        self.portal.store.deals.update(kept)


@pytest.fixture
async def setup(default_demo: DemoCompany, tmp_path: Path) -> AsyncIterator[Setup]:
    store = default_demo.store.clone()
    portal = EmulatedPortal(store, PortalOptions())
    await portal.start()
    state = Setup(
        portal=portal,
        deals=dict(store.deals),
        clock=FixedClock(NOON),
        path=tmp_path / "cache" / "company.json",
        clients=[],
    )
    try:
        yield state
    finally:
        for client in state.clients:
            await client.aclose()
        await portal.stop()


@pytest.mark.parametrize("kept", [0, 40], ids=["no-houses", "40-of-all"])
async def test_an_implausible_shrink_is_held_back_and_the_good_snapshot_keeps_serving(
    setup: Setup, kept: int
) -> None:
    cache = setup.cache()
    good = await cache.get()
    assert len(good.snapshot.houses) == 490
    on_disk = setup.houses_on_disk()

    setup.keep_deals(kept)
    with pytest.raises(BitrixImplausibleData) as caught:
        await cache.refresh()
    assert "houses 490 ->" in str(caught.value)
    assert "неполные данные" in caught.value.user_message
    view = cache.view()
    assert view is not None
    assert view.snapshot is good.snapshot  # the good snapshot keeps answering
    assert view.stale is True and isinstance(view.error, BitrixImplausibleData)
    assert cache.held_back and "houses" in cache.held_back[0]
    assert setup.houses_on_disk() == on_disk  # the bad answer never reached the disk

    # A restart while Bitrix24 is down serves the good file, not the bad answer.
    await setup.portal.stop()
    restarted = await setup.cache().get()
    assert len(restarted.snapshot.houses) == 490 and restarted.source == "disk"


async def test_a_restart_against_a_shrunk_portal_keeps_the_good_file(setup: Setup) -> None:
    await setup.cache().get()
    setup.keep_deals(0)
    restarted = setup.cache()  # nothing in memory: the file on disk is the yardstick
    view = await restarted.get()
    assert len(view.snapshot.houses) == 490
    assert view.source == "disk" and isinstance(view.error, BitrixImplausibleData)
    assert setup.houses_on_disk() > 0


async def test_an_admin_accepts_the_new_snapshot_at_the_next_refresh(setup: Setup) -> None:
    cache = setup.cache()
    await cache.get()
    setup.keep_deals(40)
    with pytest.raises(BitrixImplausibleData):
        await cache.refresh()

    marker = request_accept(setup.path.parent)  # what `audiobot snapshot accept` does
    assert marker == setup.path.parent / ACCEPT_MARKER and marker.exists()
    snapshot = await cache.refresh()
    assert len(snapshot.houses) < 40 + 1
    view = cache.view()
    assert view is not None and view.stale is False and cache.held_back is None
    assert not marker.exists()  # used once
    assert setup.houses_on_disk() <= 40


async def test_a_leftover_marker_does_not_wave_through_a_later_shrink(setup: Setup) -> None:
    cache = setup.cache()
    await cache.get()
    request_accept(setup.path.parent)
    await cache.refresh()  # a plausible refresh: the marker is spent on it
    assert not (setup.path.parent / ACCEPT_MARKER).exists()
    setup.keep_deals(0)
    with pytest.raises(BitrixImplausibleData):
        await cache.refresh()


async def test_a_small_real_change_is_taken_at_once(setup: Setup) -> None:
    cache = setup.cache()
    await cache.get()
    for house in (await cache.get()).snapshot.houses[:5]:
        del setup.portal.store.deals[int(house.id)]
    snapshot = await cache.refresh()
    assert 480 <= len(snapshot.houses) < 490


async def test_a_field_gone_from_most_houses_is_held_back(setup: Setup) -> None:
    cache = setup.cache()
    good = await cache.get()
    code = good.snapshot.mapping.roles["apartments"].code
    for deal in setup.portal.store.deals.values():
        deal.pop(code, None)
    with pytest.raises(BitrixImplausibleData, match="field apartments"):
        await cache.refresh()


async def test_people_dropping_to_almost_no_one_is_held_back(setup: Setup) -> None:
    cache = setup.cache()
    await cache.get()
    store = setup.portal.store
    for user_id, user in store.users.items():
        # The webhook's own user stays: without it Bitrix24 refuses every call.
        user["ACTIVE"] = user_id == store.webhook_user_id
    with pytest.raises(BitrixImplausibleData, match="people"):
        await cache.refresh()


GARBAGE = ["1e9", "nan", "inf", "-inf", "99999999999999999999", "-5", "12.5", "1" * 40]


async def test_garbage_cells_are_unknown_counted_and_never_summed(setup: Setup) -> None:
    cache = setup.cache()
    good = await cache.get()
    code = good.snapshot.mapping.roles["apartments"].code
    before = good.snapshot.statistics()
    victims = [h.id for h in good.snapshot.houses[: len(GARBAGE)]]
    lost = sum(good.snapshot.houses_by_id[i].apartments or 0 for i in victims)
    for house_id, junk in zip(victims, GARBAGE, strict=True):
        setup.portal.store.deals[int(house_id)][code] = junk

    snapshot = await cache.refresh()  # 'nan'/'inf' block nothing: this refresh is taken
    stats = snapshot.statistics()
    assert stats.totals.apartments == before.totals.apartments - lost
    coverage = {c.field: c for c in stats.coverage}["apartments"]
    assert coverage.invalid == len(GARBAGE)
    assert coverage.filled == {c.field: c for c in before.coverage}["apartments"].filled - len(
        victims
    )
    assert all(snapshot.houses_by_id[i].apartments is None for i in victims)

    # And the next refresh still works (nothing raised on the way).
    assert len((await cache.refresh()).houses) == 490


@pytest.mark.parametrize("junk", [*GARBAGE, "", None, "abc", True, float("nan"), -1, 10**30])
def test_as_int_reads_junk_as_unknown(junk: object) -> None:
    assert as_int(junk, high=5_000) is None


def test_as_int_keeps_real_values_and_long_ids() -> None:
    assert as_int("120") == 120 and as_int(" 1 200 ") == 1200 and as_int("120.0") == 120
    assert as_int("123456789012345678901") == 123456789012345678901  # ids are exact
    assert as_int("5000", high=5000) == 5000 and as_int("5001", high=5000) is None


async def test_every_loader_failure_is_a_bitrix_error(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("invalid literal for int() with base 10: 'abc'")

    monkeypatch.setattr(loader_module, "build_mapping", broken)
    client = make_client(setup.portal.webhook_url)
    setup.clients.append(client)
    loader = CompanyLoader(client, tz=MSK, options=OPTIONS, clock=setup.clock)
    with pytest.raises(BitrixMappingError) as caught:
        await loader.fetch()
    assert isinstance(caught.value, BitrixError) and "ValueError" in str(caught.value)


async def test_a_category_id_that_is_not_a_number_does_not_break_the_load(setup: Setup) -> None:
    setup.portal.store.categories.append({"id": "abc", "name": "Сломанная", "sort": 900})
    view = await setup.cache().get()
    assert len(view.snapshot.houses) == 490


@pytest.mark.parametrize(
    "damage",
    [
        {"deals": [{"ID": "1", "CATEGORY_ID": "0", "UF_X": "inf"}]},
        {"deals": {"not": "a list"}},
        {"users": [5, 6], "deals": []},
        {"categories": [{"id": "abc"}]},
    ],
)
async def test_a_damaged_parseable_file_never_stops_the_refresh_loop(
    setup: Setup, damage: dict[str, Any]
) -> None:
    await setup.cache().get()
    data = json.loads(setup.path.read_text(encoding="utf-8"))
    data.update(damage)
    setup.path.write_text(json.dumps(data), encoding="utf-8")
    await setup.portal.stop()

    waits: list[float] = []
    failed_thrice, loaded = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        # The loop's waits, recorded instead of waited; the events say how far it got.
        waits.append(seconds)
        if len(waits) >= 3:
            failed_thrice.set()
        if cache.view() is not None and cache.view().source == "bitrix24":  # type: ignore[union-attr]
            loaded.set()
        await asyncio.sleep(0)

    client = make_client(setup.portal.webhook_url, Sleeps())
    setup.clients.append(client)
    loader = CompanyLoader(client, tz=MSK, options=OPTIONS, clock=setup.clock)
    cache = CompanyCache(
        loader.fetch, tz=MSK, options=OPTIONS, path=setup.path, clock=setup.clock, sleep=sleep
    )
    # Unreadable files give no snapshot; the readable one serves its (empty) data.
    with contextlib.suppress(SnapshotUnavailable):
        await cache.get()
    await cache.start()
    try:
        async with asyncio.timeout(10):
            await failed_thrice.wait()  # the loop outlived the file and keeps trying
        await setup.portal.start("127.0.0.1", setup.portal.port)
        async with asyncio.timeout(10):
            await loaded.wait()
        view = cache.view()
        assert view is not None and len(view.snapshot.houses) == 490
    finally:
        # SIGTERM's stop is prompt, not a 40 s hang.
        async with asyncio.timeout(5):
            await cache.stop()


async def test_orphaned_temp_files_are_removed_on_start(setup: Setup) -> None:
    setup.path.parent.mkdir(parents=True)
    orphans = [
        setup.path.parent / f"{TEMP_PREFIX}abc123",  # an older name without a pid
        setup.path.parent / f"{TEMP_PREFIX}999999999-xyz",  # a pid that cannot run
        setup.path.parent / f"{TEMP_PREFIX}{os.getpid()}-old",  # a former incarnation's
    ]
    for orphan in orphans:
        orphan.write_text("{half a snapsh")
    keep = setup.path.parent / "notes.txt"
    keep.write_text("mine")
    cache = setup.cache()
    await cache.start()
    try:
        assert not any(o.exists() for o in orphans)
        assert keep.exists()
    finally:
        await cache.stop()
