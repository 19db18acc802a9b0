"""How many HTTP requests a company load costs, counted by the portal.

The goal (the issue): a cold load in at most 3 requests for the houses and 10 in all. What
the loader actually does is asserted exactly: round 1 is one batch with every list but the
deals; round 2 one batch of chained ``crm.deal.list`` pages for the houses pipeline. With
the pipeline id configured, a reload folds the deals into round 1: one request.
"""

from __future__ import annotations

from typing import Any

from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import CompanySnapshot, MappingOptions
from bitrix.demo import YearMonth
from bitrix.demo.builder import DemoCompany
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal

from .conftest import LOAD_DAY, MSK, NOON

ROUND_ONE = {
    "crm.deal.fields",
    "crm.deal.userfield.list",
    "crm.category.list",
    "crm.status.list",
    "crm.company.list",
    "user.get",
    "department.get",
    "tasks.task.list",
    "calendar.event.get",
}


def _batches(portal: EmulatedPortal) -> list[set[str]]:
    assert all(r.method == "batch" for r in portal.requests), portal.requests
    return [set(r.sub_methods) for r in portal.requests]


async def test_cold_load(client: BitrixClient, portal: EmulatedPortal, demo: DemoCompany) -> None:
    loader = CompanyLoader(client, tz=MSK, options=MappingOptions(), clock=FixedClock(NOON))
    portal.reset()
    raw = await loader.fetch()
    assert loader.last_stats is not None
    assert loader.last_stats.requests == portal.request_count == 2
    assert _batches(portal) == [ROUND_ONE, {"crm.deal.list"}]
    houses_requests = sum(1 for r in portal.requests if "crm.deal.list" in r.sub_methods)
    assert houses_requests == 1  # the goal: at most 3
    assert portal.request_count == 2  # the goal: at most 10 in all
    # Only the houses pipeline's deals, with the mapped fields rather than every UF_*.
    category = str(demo.truth.layout.category_id)
    assert {d["CATEGORY_ID"] for d in raw.deals} == {category}
    assert len(raw.deals) == 490 + len(demo.truth.closed_house_ids)
    # The crew's fields (note, intercom, lifts, house type) are mapped now; the contract's
    # price is a field the bot never reads.
    unmapped_extra = demo.truth.field_codes["contract_price"]
    assert all(unmapped_extra not in d for d in raw.deals)
    assert loader.last_stats.rows["deals"] == len(raw.deals)


async def test_reload_with_a_configured_pipeline_is_one_request(
    client: BitrixClient, portal: EmulatedPortal, demo: DemoCompany
) -> None:
    options = MappingOptions(category_id=demo.truth.layout.category_id)
    loader = CompanyLoader(client, tz=MSK, options=options, clock=FixedClock(NOON))
    first = await loader.fetch()
    portal.reset()
    again = await loader.fetch()
    assert portal.request_count == 1
    assert _batches(portal) == [ROUND_ONE | {"crm.deal.list"}]
    assert again.deals == first.deals


async def test_reload_without_a_configured_pipeline_is_two_requests(
    client: BitrixClient, portal: EmulatedPortal
) -> None:
    loader = CompanyLoader(client, tz=MSK, options=MappingOptions(), clock=FixedClock(NOON))
    await loader.fetch()
    portal.reset()
    await loader.fetch()
    assert _batches(portal) == [ROUND_ONE, {"crm.deal.list"}]


async def test_a_new_schedule_field_between_loads_is_picked_up(
    client: BitrixClient, portal: EmulatedPortal, demo: DemoCompany
) -> None:
    """The real portal adds a field pair each month: the next load must map and fetch it."""
    layout = demo.truth.layout
    options = MappingOptions(category_id=layout.category_id)
    loader = CompanyLoader(client, tz=MSK, options=options, clock=FixedClock(NOON))
    await loader.fetch()
    month = YearMonth.of(LOAD_DAY).shift(2)
    code = "UF_CRM_9990000001"
    label = layout.schedule_label("date", month, 1)
    store = portal.store
    store.deal_userfields.append(_date_field(code, label, len(store.deal_userfields)))
    house_id = demo.truth.active_house_ids[0]
    day = f"{month.year}-{month.month:02d}-10T00:00:00+03:00"
    store.deals[house_id][code] = [day]
    try:
        portal.reset()
        raw = await loader.fetch()
        # The early deals lacked the new field, so they were fetched again in round 2.
        assert _batches(portal) == [ROUND_ONE | {"crm.deal.list"}, {"crm.deal.list"}]
        snapshot = CompanySnapshot(raw, tz=MSK, options=options, clock=FixedClock(NOON))
        assert any(s.date_field.code == code for s in snapshot.mapping.schedule)
        visits = snapshot.houses_by_id[str(house_id)].visits_in(month.year, month.month)
        assert [v.day.day for v in visits] == [10]
    finally:
        store.deal_userfields.pop()
        del store.deals[house_id][code]


def _date_field(code: str, label: str, index: int) -> dict[str, Any]:
    labels = {"ru": label, "en": label}
    return {
        "ID": str(9000 + index),
        "ENTITY_ID": "CRM_DEAL",
        "FIELD_NAME": code,
        "USER_TYPE_ID": "date",
        "XML_ID": None,
        "SORT": "500",
        "MULTIPLE": "Y",
        "MANDATORY": "N",
        "SHOW_FILTER": "N",
        "SHOW_IN_LIST": "Y",
        "EDIT_IN_LIST": "Y",
        "IS_SEARCHABLE": "N",
        "SETTINGS": {},
        "EDIT_FORM_LABEL": labels,
        "LIST_COLUMN_LABEL": labels,
        "LIST_FILTER_LABEL": labels,
    }
