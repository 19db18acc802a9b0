"""The emulator's index path for ID-chained crm lists answers exactly what a full scan answers.

`bitrix.portal.crm` bisects sorted ids for ``filter[>ID]``/``[>=ID]`` lists ordered by ID
(the pages `BitrixClient.list_many` chains). The reference below is the scan the emulator did
before: every row matched, ordered by the default order then the explicit one, paged, then
selected with the full user-field list.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bitrix.demo import build_demo_store
from bitrix.portal import PortalOptions, PortalStore, deals_store
from bitrix.portal.calls import CallContext
from bitrix.portal.crm import (
    EXACT_FIELDS,
    _deal_uf_names,
    _select_list,
    company_list,
    deal_list,
    select_fields,
)
from bitrix.portal.query import order_records, orm_page, parse_filter, parse_order, record_matches

from .conftest import TODAY

MSK = ZoneInfo("Europe/Moscow")


def _context(store: PortalStore, start: int) -> CallContext:
    return CallContext(store, PortalOptions(), time.time(), MSK, start=start, in_batch=True)


def _reference_deals(store: PortalStore, params: dict[str, Any], start: int) -> dict[str, Any]:
    ctx = _context(store, start)
    rows = list(store.deals.values())
    uf_names = _deal_uf_names(ctx)
    known = set(uf_names).union(*(r.keys() for r in rows))
    conditions = parse_filter(params.get("filter") or {}, fields=known)
    matched = [r for r in rows if record_matches(r, conditions, MSK, exact_fields=EXACT_FIELDS)]
    ordered = order_records(matched, [("ID", False)], MSK)
    order = parse_order(params.get("order") or {}, fields=known)
    if order:
        ordered = order_records(ordered, order, MSK)
    page = orm_page(ordered, start)
    items = [select_fields(r, _select_list(params), uf_names) for r in page.items]
    return {"items": items, "total": page.total, "next": page.next}


def _answer(store: PortalStore, params: dict[str, Any], start: int) -> dict[str, Any]:
    out = deal_list(_context(store, start), dict(params))
    return {"items": out.result, "total": out.total, "next": out.next}


@pytest.fixture(scope="module")
def demo_store() -> PortalStore:
    return build_demo_store(TODAY)


FILTERS: list[dict[str, Any]] = [
    {">ID": "0"},
    {">ID": 2500},
    {">=ID": "2500"},
    {">ID": "13999"},
    {">ID": "-5"},
    {">ID": "1e3"},
    {">ID": 700.5},
    {">ID": ["3000", "9000"]},
    {">ID": ""},
    {">ID": "abc"},
    {">ID": True},
    {">ID": {"0": "4000"}},
    {">ID": "3000", "<ID": "6000"},
    {">=ID": "500", "CATEGORY_ID": "34"},
    {">ID": "500", "!STAGE_ID": "C34:LOSE", "%TITLE": "ленина"},
    {">ID": "500", "NO_SUCH_FIELD": "1"},
    {"CATEGORY_ID": "0"},
]
ORDERS: list[Any] = [None, {"ID": "ASC"}, {"ID": "asc"}, {"ID": "DESC"}, {"TITLE": "ASC"}]
SELECTS: list[Any] = [
    None,
    ["ID", "TITLE", "STAGE_ID"],
    ["*", "UF_*"],
    ["ID", "UF_CRM_NOT_DECLARED", "ASSIGNED_BY_ID"],
]


@pytest.mark.parametrize("filter_", FILTERS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("start", [-1, 0, 50])
def test_deal_pages_equal_the_scan(
    demo_store: PortalStore, filter_: dict[str, Any], order: Any, start: int
) -> None:
    for select in SELECTS:
        params: dict[str, Any] = {"filter": filter_}
        if order is not None:
            params["order"] = order
        if select is not None:
            params["select"] = select
        assert _answer(demo_store, params, start) == _reference_deals(demo_store, params, start)


def test_selecting_a_declared_user_field_missing_from_records(demo_store: PortalStore) -> None:
    store = demo_store.clone()
    store.deal_userfields.append({"FIELD_NAME": "UF_CRM_NEW", "USER_TYPE_ID": "string"})
    params = {"filter": {">ID": "0"}, "select": ["ID", "UF_CRM_NEW"]}
    answer = _answer(store, params, -1)
    assert answer == _reference_deals(store, params, -1)
    assert all(item["UF_CRM_NEW"] is None for item in answer["items"])


def test_keys_that_are_not_the_ids_fall_back_to_the_scan() -> None:
    store = deals_store(120, today=TODAY)
    stray = dict(store.deals.pop(3))
    stray["ID"] = "1000"  # a record whose key (3) is not its ID: the index cannot be trusted
    store.deals[3] = stray
    for start in (-1, 0, 50):
        params = {"filter": {">ID": "100"}, "select": ["ID"]}
        answer = _answer(store, params, start)
        assert answer == _reference_deals(store, params, start)
    assert "1000" in [i["ID"] for i in _answer(store, params, 0)["items"]]


def test_a_store_filled_out_of_id_order() -> None:
    store = deals_store(300, today=TODAY)
    store.deals = dict(reversed(list(store.deals.items())))
    for start in (-1, 0, 250):
        params = {"filter": {">ID": "120"}, "select": ["ID", "TITLE"]}
        assert _answer(store, params, start) == _reference_deals(store, params, start)
    assert [i["ID"] for i in _answer(store, params, -1)["items"]][:2] == ["121", "122"]


def test_company_pages_equal_the_scan(demo_store: PortalStore) -> None:
    rows = list(demo_store.companies.values())
    for filter_ in ({">ID": "0"}, {">=ID": "3"}, {">ID": "10", "%TITLE": "ук"}):
        for start in (-1, 0):
            params = {"filter": filter_, "select": ["ID", "TITLE"]}
            out = company_list(_context(demo_store, start), dict(params))
            conditions = parse_filter(filter_, fields=set().union(*(r.keys() for r in rows)))
            matched = [r for r in rows if record_matches(r, conditions, MSK)]
            expected = order_records(matched, [("ID", False)], MSK)
            page = orm_page(expected, start)
            assert [r["ID"] for r in out.result] == [r["ID"] for r in page.items]
            assert (out.total, out.next) == (page.total, page.next)


@pytest.mark.parametrize("op", [">", ">="])
@pytest.mark.parametrize("start", [-1, 0, 100])
def test_bounds_on_existing_ids(demo_store: PortalStore, op: str, start: int) -> None:
    ids = sorted(demo_store.deals)
    for bound in (ids[0], ids[99], ids[-50], ids[-1]):
        for value in (str(bound), bound):
            params = {"filter": {f"{op}ID": value}, "select": ["ID"], "order": {"ID": "ASC"}}
            answer = _answer(demo_store, params, start)
            assert answer == _reference_deals(demo_store, params, start)
            if start == -1 and bound != ids[-1]:
                first = int(answer["items"][0]["ID"])
                assert first == bound if op == ">=" else first > bound
