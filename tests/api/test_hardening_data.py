"""Issue 13, findings 2 and 3 seen from outside: `/api/health` says why a refresh was held
back, `/api/dashboard/statistics` never sums garbage cells, `audiobot snapshot accept` makes the
running stack take the new data, and a non-numeric category id is refused at config time.

Real loopback HTTP (demo portal → `Runtime` → `ApiServer`); the day is pinned by ``DEMO_DATE``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bitrix.demo import DemoCompany, build_demo
from bitrix.errors import BitrixImplausibleData
from bot import cli
from bot.config import Settings, load_settings

from .conftest import AUTH, TODAY, api_stack


@pytest.fixture
def demo() -> DemoCompany:
    """A fresh demo company per test: the tests change the portal's data."""
    return build_demo(TODAY)


async def test_a_held_back_refresh_is_named_by_health_until_an_admin_accepts_it(
    demo: DemoCompany, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_stack(demo, tmp_path) as stack:
        good = (await stack.client.get("/api/dashboard/statistics", headers=AUTH)).json()
        houses = good["totals"]["houses"]
        assert houses == 490

        stack.portal.store.deals.clear()  # "the portal suddenly returns 0 deals"
        with pytest.raises(BitrixImplausibleData):
            await stack.runtime.cache.refresh()
        health = (await stack.client.get("/api/health")).json()
        assert health["status"] == "degraded"
        assert health["houses"] == houses
        assert health["snapshot_held_back"] == [f"houses {houses} -> 0"]
        stats = (await stack.client.get("/api/dashboard/statistics", headers=AUTH)).json()
        assert stats["totals"]["houses"] == houses and stats["stale"] is True
        reply = await stack.runtime.assistant.ask("сколько домов всего")
        assert "неполные данные" in reply.text and "490" in reply.text

        # The admin knows better: `audiobot snapshot accept` against the same CACHE_DIR.
        monkeypatch.setenv("CACHE_DIR", str(tmp_path))
        assert cli.main(["snapshot", "accept"]) == 0
        await stack.runtime.cache.refresh()
        health = (await stack.client.get("/api/health")).json()
        assert health["snapshot_held_back"] is None and health["houses"] == 0


async def test_statistics_never_sum_garbage_cells(demo: DemoCompany, tmp_path: Path) -> None:
    code = demo.truth.field_codes["apartments"]
    async with api_stack(demo, tmp_path) as stack:
        before = (await stack.client.get("/api/dashboard/statistics", headers=AUTH)).json()
        view = await stack.runtime.cache.get()
        victims = list(view.snapshot.houses[:5])
        for house, junk in zip(
            victims, ["1e9", "nan", "inf", "-3", "99999999999999999999"], strict=True
        ):
            stack.portal.store.deals[int(house.id)][code] = junk
        await stack.runtime.cache.refresh()
        after = (await stack.client.get("/api/dashboard/statistics", headers=AUTH)).json()
    lost = sum(h.apartments or 0 for h in victims)
    assert after["totals"]["apartments"] == before["totals"]["apartments"] - lost
    apartments = next(c for c in after["coverage"] if c["field"] == "apartments")
    assert apartments["invalid"] == 5
    houses = next(c for c in before["coverage"] if c["field"] == "apartments")
    assert apartments["filled"] == houses["filled"] - 5


def test_a_category_id_that_is_not_a_number_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, bitrix_houses_category_id="abc")
    monkeypatch.setenv("BITRIX_HOUSES_CATEGORY_ID", "abc")
    with pytest.raises(SystemExit) as caught:
        load_settings()
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BITRIX_HOUSES_CATEGORY_ID" in err
