"""Data endpoints: shapes and numbers equal what the portal's raw REST answers say.

One demo portal, runtime and API server serve the whole module (read-only tests).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bitrix.demo import DemoCompany, build_demo
from tests.api.conftest import (
    AUTH,
    HOME_TOWN,
    TODAY,
    Expected,
    Stack,
    api_stack,
    fetch_expected,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def demo() -> DemoCompany:
    """The demo company (dated today) and its ground truth."""
    return build_demo(TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    demo: DemoCompany, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Portal, runtime and API for the module."""
    async with api_stack(demo, tmp_path_factory.mktemp("cache")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def expected(stack: Stack, demo: DemoCompany) -> Expected:
    """Every endpoint's answer computed from raw REST calls."""
    return await fetch_expected(stack.portal.webhook_url, demo, stack.settings.timezone)


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    """A GET with the token that must answer 200 JSON."""
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert isinstance(body, dict)
    return body


async def houses(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    """``/api/cleaning/houses`` with ``params``."""
    return await get(client, "/api/cleaning/houses", **params)


def ids(body: dict[str, Any]) -> list[int]:
    """The ids of a page's items, in order."""
    return [item["id"] for item in body["items"]]


# ---------------------------------------------------------------------- houses
async def test_paging_covers_every_house_exactly_once(
    stack: Stack, expected: Expected, demo: DemoCompany
) -> None:
    assert len(expected.houses) == 490
    assert set(expected.houses) == set(demo.truth.active_house_ids)
    seen: list[int] = []
    for page in range(20):  # 490 / 37 → 14 pages; the bound only stops a runaway loop
        body = await houses(stack.client, limit=37, offset=37 * page)
        assert body["total"] == 490
        assert (body["limit"], body["offset"]) == (37, 37 * page)
        if not body["items"]:
            break
        assert len(body["items"]) == min(37, 490 - 37 * page)
        seen.extend(ids(body))
    assert len(seen) == 490
    assert set(seen) == set(expected.houses)
    whole = await houses(stack.client, limit=500)
    assert ids(whole) == seen  # pages are slices of one stable order


async def test_default_page_is_100(stack: Stack) -> None:
    body = await houses(stack.client)
    assert (body["total"], len(body["items"]), body["limit"], body["offset"]) == (490, 100, 100, 0)


async def test_house_items_equal_the_raw_deals(stack: Stack, expected: Expected) -> None:
    body = await houses(stack.client, limit=500)
    assert body["month"] == expected.month
    assert len(body["items"]) == 490
    for item in body["items"]:
        for visit in item["visits"]:
            assert visit.pop("kind") in {"wet_all", "sweep", "wet_first_floor", "other"}
        assert item == expected.houses[item["id"]]
    # The demo has houses with and without each optional value; the comparison saw both.
    assert any(i["company"] is None for i in body["items"])
    assert any(i["floors"] is None for i in body["items"])
    assert Counter(i["periodicity"] for i in body["items"]).keys() >= {"2 раза", "4 раза"}


async def test_houses_come_in_natural_address_order(stack: Stack) -> None:
    items = (await houses(stack.client, limit=500))["items"]
    towns = [i["town"] for i in items]
    # The home town first, then the other towns, each as one block.
    assert towns[: towns.count(HOME_TOWN)] == [HOME_TOWN] * towns.count(HOME_TOWN)
    blocks = [(i["town"], i["street"].lower()) for i in items]
    runs = [b for n, b in enumerate(blocks) if n == 0 or blocks[n - 1] != b]
    assert len(runs) == len(set(runs)), "a street appears in two separate blocks"
    for n in range(1, len(items)):
        if blocks[n] == blocks[n - 1]:
            before = int(re.match(r"\d+", items[n - 1]["number"]).group())  # type: ignore[union-attr]
            after = int(re.match(r"\d+", items[n]["number"]).group())  # type: ignore[union-attr]
            assert before <= after, (items[n - 1]["address"], items[n]["address"])


@pytest.mark.parametrize("brigade", [1, 2, 3, 4, 5, 6])
async def test_filter_by_brigade(stack: Stack, expected: Expected, brigade: int) -> None:
    body = await houses(stack.client, brigade=brigade, limit=500)
    want = {i for i, h in expected.houses.items() if h["brigade"] == brigade}
    assert body["total"] == len(want) > 0
    assert set(ids(body)) == want


async def test_filter_by_unknown_brigade_is_empty(stack: Stack) -> None:
    body = await houses(stack.client, brigade=42)
    assert (body["total"], body["items"]) == (0, [])


async def test_filter_by_company(stack: Stack, expected: Expected) -> None:
    per_company = Counter(
        h["company"]["id"] for h in expected.houses.values() if h["company"] is not None
    )
    for company_id, count in per_company.most_common(3):
        body = await houses(stack.client, company=company_id, limit=500)
        assert body["total"] == count
        assert {i["company"]["id"] for i in body["items"]} == {company_id}
        assert set(ids(body)) == {
            i
            for i, h in expected.houses.items()
            if h["company"] is not None and h["company"]["id"] == company_id
        }


def street_ids(expected: Expected, street: str, town: str | None = None) -> set[int]:
    """Houses on ``street`` (in ``town`` if given), from the raw titles."""
    return {
        i
        for i, h in expected.houses.items()
        if h["street"] == street and (town is None or h["town"] == town)
    }


async def test_filter_by_a_street_in_two_towns(stack: Stack, expected: Expected) -> None:
    kaluga = street_ids(expected, "Ленина", HOME_TOWN)
    kondrovo = street_ids(expected, "Ленина", "Кондрово")
    assert kaluga and kondrovo
    # A bare name matches the street in every town; a town before a comma narrows it.
    both = await houses(stack.client, street="Ленина", limit=500)
    assert set(ids(both)) == kaluga | kondrovo
    assert both["total"] == len(kaluga) + len(kondrovo)
    only_kondrovo = await houses(stack.client, street="Кондрово, Ленина", limit=500)
    assert set(ids(only_kondrovo)) == kondrovo
    only_kaluga = await houses(stack.client, street="калуга,ленина", limit=500)
    assert set(ids(only_kaluga)) == kaluga


@pytest.mark.parametrize(
    "spelling", ["Пролетарская", "ПРОЛЕТАРСКАЯ", "ул. пролетарская", "  Пролетарская "]
)
async def test_street_is_case_insensitive(stack: Stack, expected: Expected, spelling: str) -> None:
    body = await houses(stack.client, street=spelling, limit=500)
    assert set(ids(body)) == street_ids(expected, "Пролетарская") != set()


async def test_street_only_in_another_town(stack: Stack, expected: Expected) -> None:
    body = await houses(stack.client, street="Пушкина", limit=500)
    assert set(ids(body)) == street_ids(expected, "Пушкина", "Кондрово") != set()
    body = await houses(stack.client, street="Калуга, Пушкина")
    assert body["total"] == 0


async def test_filters_combine(stack: Stack, expected: Expected) -> None:
    # Московская is split between brigades 1 and 3 by house number.
    body = await houses(stack.client, street="Московская", brigade=3, limit=500)
    want = {i for i in street_ids(expected, "Московская") if expected.houses[i]["brigade"] == 3}
    assert set(ids(body)) == want
    assert 0 < len(want) < len(street_ids(expected, "Московская"))


async def test_offset_past_the_end_and_limit_zero(stack: Stack) -> None:
    body = await houses(stack.client, offset=1000)
    assert (body["total"], body["items"]) == (490, [])
    body = await houses(stack.client, limit=0, brigade=2)
    assert (body["total"], body["items"]) == (76, [])


# ---------------------------------------------------------------------- people
async def test_employees_equal_the_raw_users(
    stack: Stack, expected: Expected, demo: DemoCompany
) -> None:
    body = await get(stack.client, "/api/dashboard/employees")
    assert body["total"] == len(body["items"]) == len(expected.employees) == 82
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id == expected.employees
    assert not set(by_id) & set(demo.truth.fired_ids)
    assert not set(by_id) & set(demo.truth.service_account_ids.values())


async def test_departments_equal_the_raw_structure(stack: Stack, expected: Expected) -> None:
    body = await get(stack.client, "/api/dashboard/departments")
    assert body["total"] == len(body["items"]) == len(expected.departments) == 9
    assert {item["id"]: item for item in body["items"]} == expected.departments
    order = [item["id"] for item in body["items"]]
    for item in body["items"]:
        if item["parent"] is not None:
            assert order.index(item["parent"]["id"]) < order.index(item["id"])
    brigades = {i["brigade"]: i for i in body["items"] if i["brigade"] is not None}
    assert sorted(brigades) == [1, 2, 3, 4, 5, 6]
    assert all(b["head"] is not None and b["size"] > 0 for b in brigades.values())


# ---------------------------------------------------------------------- statistics
async def test_statistics_equal_sums_over_the_raw_deals(stack: Stack, expected: Expected) -> None:
    body = await get(stack.client, "/api/dashboard/statistics")
    houses_ = list(expected.houses.values())

    def total(rows: list[dict[str, Any]], key: str) -> int:
        return sum(r[key] or 0 for r in rows)

    assert body["month"] == expected.month
    assert body["totals"] == {
        "houses": 490,
        "apartments": total(houses_, "apartments"),
        "entrances": total(houses_, "entrances"),
        "floors": total(houses_, "floors"),
        "employees": 82,
        "brigades": 6,
        "companies": 24,
        "houses_without_brigade": 0,
        "houses_without_company": sum(1 for h in houses_ if h["company"] is None),
    }
    per_brigade = []
    for n in range(1, 7):
        rows = [h for h in houses_ if h["brigade"] == n]
        per_brigade.append(
            {
                "brigade": n,
                "houses": len(rows),
                "apartments": total(rows, "apartments"),
                "entrances": total(rows, "entrances"),
                "floors": total(rows, "floors"),
                "people": expected.brigade_people[n],
            }
        )
    assert body["per_brigade"] == per_brigade
    assert [b["houses"] for b in per_brigade] == [88, 76, 92, 71, 80, 83]  # the demo's design
    filled = {
        "apartments": sum(1 for h in houses_ if h["apartments"] is not None),
        "entrances": sum(1 for h in houses_ if h["entrances"] is not None),
        "floors": sum(1 for h in houses_ if h["floors"] is not None),
        "company": sum(1 for h in houses_ if h["company"] is not None),
        "brigade": 490,
        "full_address": sum(1 for h in houses_ if h["full_address"] is not None),
        "schedule": sum(1 for h in houses_ if h["visits"]),
    }
    assert body["coverage"] == [
        {
            "field": name,
            "filled": n,
            "total": 490,
            "percent": round(100 * n / 490, 1),
            "invalid": 0,  # the demo has no implausible cells
        }
        for name, n in filled.items()
    ]
    assert all(c["filled"] > 0 for c in body["coverage"])


# ---------------------------------------------------------------------- every data answer
@pytest.mark.parametrize(
    ("path", "russian"),
    [
        ("/api/cleaning/houses", "Калуга"),
        ("/api/dashboard/employees", "Уборщица"),
        ("/api/dashboard/departments", "Бригада 1"),
        ("/api/dashboard/statistics", None),  # numbers and English field names only
    ],
)
async def test_answers_carry_the_data_age_and_raw_utf8(
    stack: Stack, path: str, russian: str | None
) -> None:
    response = await stack.client.get(path, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Server"] == "AudioBot"  # no aiohttp/Python versions
    raw = response.content
    if russian is not None:
        assert russian.encode("utf-8") in raw
    assert b"\\u" not in raw  # no ASCII escapes of Cyrillic
    body = response.json()
    assert isinstance(body["data_age_s"], float | int) and 0 <= body["data_age_s"] < 600
    assert body["stale"] is False
    view = await stack.runtime.cache.get()
    assert body["fetched_at"] == view.fetched_at.isoformat(timespec="seconds")


async def test_head_requests_answer_without_a_body(stack: Stack) -> None:
    response = await stack.client.head("/api/dashboard/statistics", headers=AUTH)
    assert response.status_code == 200
    assert response.content == b""
