"""The success envelope (`result`, `total`, `next`, `time`) and the two paging styles."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bitrix.portal import EmulatedPortal, PortalOptions, deals_store, tasks_store, users_store
from bitrix.portal.store import PortalStore

from .conftest import TODAY, Rest

ISO_MSK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00")


@pytest.fixture
def store() -> PortalStore:
    """120 deals, so lists span three pages."""
    return deals_store(120, today=TODAY)


async def test_time_section_types(rest: Rest) -> None:
    body = (await rest("crm.deal.list", {"select": ["ID"]})).json()
    time = body["time"]
    for key in ("start", "finish", "duration", "processing"):
        assert isinstance(time[key], float), key
    assert time["finish"] >= time["start"]
    assert ISO_MSK.fullmatch(time["date_start"])
    assert ISO_MSK.fullmatch(time["date_finish"])
    # Fast calls record no operating time, so the optional keys are absent.
    assert "operating" not in time and "operating_reset_at" not in time
    assert set(body) == {"result", "total", "next", "time"}


async def test_non_list_methods_have_no_total_or_next(rest: Rest) -> None:
    for method, params in (("crm.deal.get", {"id": 1}), ("user.current", None), ("scope", None)):
        body = (await rest(method, params)).json()
        assert set(body) == {"result", "time"}, method


async def test_crm_pages_of_fifty(rest: Rest) -> None:
    pages = []
    for start in (0, 50, 100):
        body = (await rest("crm.deal.list", {"select": ["ID"], "start": start})).json()
        pages.append(body)
        assert body["total"] == 120
        assert isinstance(body["total"], int)
    assert [len(p["result"]) for p in pages] == [50, 50, 20]
    assert [p.get("next") for p in pages] == [50, 100, None]
    assert "next" not in pages[2]
    flat = [int(row["ID"]) for p in pages for row in p["result"]]
    assert flat == list(range(1, 121))


async def test_crm_start_is_an_exact_offset(rest: Rest) -> None:
    body = (await rest("crm.deal.list", {"select": ["ID"], "start": 75})).json()
    assert body["result"][0]["ID"] == "76"
    assert "next" not in body
    assert len(body["result"]) == 45


async def test_start_minus_one_skips_the_count(rest: Rest) -> None:
    body = (await rest("crm.deal.list", {"select": ["ID"], "start": -1})).json()
    assert body["total"] == 0
    assert "next" not in body
    assert len(body["result"]) == 50


async def test_empty_crm_list_has_total_zero_and_empty_array(rest: Rest) -> None:
    body = (await rest("crm.deal.list", {"filter": {"ID": 9999}})).json()
    assert body["result"] == []
    assert body["total"] == 0
    assert "next" not in body


async def test_php_empty_arrays_are_lists(rest: Rest) -> None:
    deal = (await rest("crm.deal.get", {"id": 1})).json()["result"]
    assert deal["UF_CRM_1698765432101"] == []  # An empty multiple field.
    fields = (await rest("crm.deal.fields")).json()["result"]
    assert fields["UF_CRM_1698765432101"]["settings"] == {
        "DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}
    }
    batch = (await rest("batch", {"cmd": {}})).json()["result"]
    assert batch == {
        "result": [],
        "result_error": [],
        "result_total": [],
        "result_next": [],
        "result_time": [],
    }


@pytest.fixture
async def user_portal(options: PortalOptions) -> AsyncIterator[EmulatedPortal]:
    async with EmulatedPortal(users_store(60, today=TODAY), options) as running:
        yield running


async def test_user_get_is_orm_paged(user_portal: EmulatedPortal, http: httpx.AsyncClient) -> None:
    url = user_portal.webhook_url + "user.get"
    first = (await http.post(url)).json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, 60, 50)
    odd = (await http.post(url, json={"start": 7})).json()
    assert odd["result"][0]["ID"] == "8"
    assert (len(odd["result"]), odd["total"], odd["next"]) == (50, 60, 57)
    last = (await http.post(url, json={"start": 57})).json()
    assert len(last["result"]) == 3 and "next" not in last
    no_count = (await http.post(url, json={"start": -1})).json()
    assert (no_count["total"], "next" in no_count) == (0, False)


async def test_user_get_empty_has_no_total(
    user_portal: EmulatedPortal, http: httpx.AsyncClient
) -> None:
    url = user_portal.webhook_url + "user.get"
    for payload in ({"FILTER": {"ID": 9999}}, {"ID": 9999}, {"start": 500}):
        body = (await http.post(url, json=payload)).json()
        assert body["result"] == [], payload
        assert "total" not in body and "next" not in body, payload


@pytest.fixture
async def dept_portal(options: PortalOptions) -> AsyncIterator[EmulatedPortal]:
    store = deals_store(0, today=TODAY)
    store.departments = {1: {"ID": "1", "NAME": "Компания", "SORT": 500, "UF_HEAD": "1"}}
    for i in range(2, 121):
        store.departments[i] = {"ID": str(i), "NAME": f"Отдел {i:03d}", "SORT": i, "PARENT": "1"}
    async with EmulatedPortal(store, options) as running:
        yield running


async def test_department_get_rounds_start_down_to_a_page(
    dept_portal: EmulatedPortal, http: httpx.AsyncClient
) -> None:
    url = dept_portal.webhook_url + "department.get"
    exact = (await http.get(url, params={"start": 50})).json()
    rounded = (await http.get(url, params={"start": 75})).json()
    assert exact["result"] == rounded["result"]
    assert rounded["result"][0]["ID"] == "51"
    assert (rounded["total"], rounded["next"]) == (120, 100)
    last = (await http.get(url, params={"start": 100})).json()
    assert len(last["result"]) == 20 and "next" not in last
    # CDBResult clamps a page past the end to the last page.
    beyond = (await http.get(url, params={"start": 500})).json()
    assert beyond["result"] == last["result"]
    top = (await http.get(url, params={"start": -1})).json()
    assert (len(top["result"]), top["total"], "next" in top) == (50, 0, False)


@pytest.fixture
async def task_portal(options: PortalOptions) -> AsyncIterator[EmulatedPortal]:
    async with EmulatedPortal(tasks_store(60, today=TODAY), options) as running:
        yield running


async def test_tasks_wrapper_with_top_level_total_and_next(
    task_portal: EmulatedPortal, http: httpx.AsyncClient
) -> None:
    url = task_portal.webhook_url + "tasks.task.list"
    first = (await http.post(url, json={"select": ["ID", "TITLE"]})).json()
    assert set(first) == {"result", "total", "next", "time"}
    assert set(first["result"]) == {"tasks"}
    assert (first["total"], first["next"]) == (60, 50)
    # Default order: ID descending.
    assert [t["id"] for t in first["result"]["tasks"][:3]] == ["60", "59", "58"]
    second = (await http.post(url, json={"select": ["ID"], "start": 50})).json()
    assert len(second["result"]["tasks"]) == 10 and "next" not in second
    empty = (await http.post(url, json={"filter": {"ID": 0}})).json()
    assert empty["result"] == {"tasks": []}
    assert empty["total"] == 0
