"""BitrixClient against the emulated portal over real HTTP on loopback.

Request counts are the portal's own (`EmulatedPortal.count`), not the client's. Time is
virtual where limits are involved: the portal's `ManualClock` is also the client's clock, and
the client's ``sleep`` moves it on (`VirtualTime`), so buckets drain and operating windows
expire exactly, with no real waiting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from bitrix import (
    BitrixAuthError,
    BitrixBadResponse,
    BitrixBatchError,
    BitrixClient,
    BitrixConnectionDropped,
    BitrixError,
    BitrixHttpsRequired,
    BitrixInsufficientScope,
    BitrixInvalidCredentials,
    BitrixMethodNotFound,
    BitrixNotFound,
    BitrixOperationTimeLimit,
    BitrixPortalMoved,
    BitrixQueryLimitExceeded,
    BitrixRequestError,
    BitrixServerError,
    BitrixTimeoutError,
    BitrixUserDeactivated,
    ListRequest,
)
from bitrix.portal import (
    EmulatedPortal,
    Fault,
    PortalOptions,
    PortalStore,
    deals_store,
    sample_store,
    tasks_store,
    users_store,
)
from tests.bitrix.client_fixtures import SteppedTime, VirtualTime
from tests.bitrix.conftest import TODAY

DEAL_SELECT = ["ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "ASSIGNED_BY_ID"]


@asynccontextmanager
async def serving(
    store: PortalStore, vt: VirtualTime | None = None, **options: Any
) -> AsyncIterator[EmulatedPortal]:
    """A portal on loopback; with ``vt``, on the shared virtual clock."""
    if vt is not None:
        options["clock"] = vt.manual
    async with EmulatedPortal(store, PortalOptions(**options)) as portal:
        yield portal


def client_for(
    portal: EmulatedPortal, vt: VirtualTime | None = None, **kwargs: Any
) -> BitrixClient:
    """A client for ``portal``; with ``vt``, on the same virtual clock (sleeps move it)."""
    vt = vt or VirtualTime()
    kwargs.setdefault("clock", vt.clock)
    kwargs.setdefault("wall_clock", vt.wall)
    kwargs.setdefault("sleep", vt.sleep)
    kwargs.setdefault("rand", lambda: 0.5)
    return BitrixClient(portal.webhook_url, **kwargs)


def ids(rows: list[dict[str, Any]], field: str = "ID") -> list[int]:
    return [int(r[field]) for r in rows]


# --- complete lists with the fewest requests ---------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 49, 50, 51, 2500, 2501])
async def test_deal_lists_are_complete_in_ceil_n_over_2500_requests(n: int) -> None:
    async with serving(deals_store(n, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("crm.deal.list", {"select": DEAL_SELECT})
        assert ids(rows) == list(range(1, n + 1))
        assert set(rows[0]) == set(DEAL_SELECT) if rows else True
        expected = max(1, math.ceil(n / 2500))
        assert portal.request_count == expected
        assert portal.count("batch") == expected
        assert bx.stats.requests == expected


async def test_second_batch_carries_exactly_the_pages_still_needed() -> None:
    async with serving(deals_store(2620, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]})
        assert ids(rows) == list(range(1, 2621))
        first, second = portal.requests
        assert len(first.sub_methods) == 50
        assert len(second.sub_methods) == 3  # 120 rows left: ⌈120 / 50⌉ pages


async def test_expected_rows_hint_allocates_just_enough_pages() -> None:
    async with serving(deals_store(490, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]}, expected_rows=490)
        assert len(rows) == 490
        assert portal.request_count == 1
        assert len(portal.requests[0].sub_methods) == 11  # 490 + 10 % margin → 11 pages

        # A stale, too small hint costs one more request, never a wrong answer.
        portal.reset()
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]}, expected_rows=100)
        assert ids(rows) == list(range(1, 491))
        assert portal.request_count == 2


async def test_caller_filter_and_lower_bound_are_kept() -> None:
    async with serving(deals_store(300, today=TODAY)) as portal, client_for(portal) as bx:
        rows = await bx.list_all(
            "crm.deal.list", {"filter": {">ID": 120, "ASSIGNED_BY_ID": 4}, "select": ["ID"]}
        )
        assert ids(rows) == [i for i in range(121, 301) if i % 2]


@pytest.mark.parametrize("n", [1, 50, 51, 130])
async def test_users_are_listed_completely_in_one_request(n: int) -> None:
    async with serving(users_store(n, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("user.get")
        assert ids(rows) == list(range(1, n + 1))
        assert portal.request_count == 1
        active = await bx.list_all("user.get", {"ACTIVE": True})
        assert all(r["ACTIVE"] is True for r in active)


@pytest.mark.parametrize("n", [0, 50, 51, 130])
async def test_tasks_are_listed_completely_in_one_request(n: int) -> None:
    async with serving(tasks_store(n, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("tasks.task.list", {"select": ["ID", "TITLE", "STATUS"]})
        assert ids(rows, "id") == list(range(1, n + 1))
        assert portal.request_count == 1


async def test_classic_paging_for_departments() -> None:
    store = sample_store(TODAY)
    root = store.departments[1]
    store.departments = {1: root} | {
        i: {"ID": str(i), "NAME": f"Бригада {i}", "SORT": 500, "PARENT": "1"}
        for i in range(2, 121)
    }
    async with serving(store) as portal, client_for(portal) as bx:
        portal.reset()
        rows = await bx.list_all("department.get")
        assert sorted(ids(rows)) == list(range(1, 121))
        assert len(rows) == 120
        # First page for the total, then one batch with the two remaining pages.
        assert portal.request_count == 2
        assert len(portal.requests[1].sub_methods) == 2

        portal.reset()
        rows = await bx.list_all("department.get", expected_rows=120)
        assert len(rows) == 120
        assert portal.request_count == 1


async def test_list_many_loads_the_whole_company_in_one_request() -> None:
    store = deals_store(490, today=TODAY)
    company = {
        "deals": ListRequest("crm.deal.list", {"select": DEAL_SELECT}),
        "companies": ListRequest("crm.company.list", {"select": ["ID", "TITLE"]}),
        "users": ListRequest("user.get", {"ACTIVE": True}),
        "departments": ListRequest("department.get"),
        "categories": ListRequest("crm.category.list", {"entityTypeId": 2}),
        "stages": ListRequest("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_34"}}),
        "fields": ListRequest("crm.deal.userfield.list", {"filter": {"LANG": "ru"}}),
        "tasks": ListRequest("tasks.task.list", {"select": ["ID", "TITLE", "DEADLINE"]}),
        "events": ListRequest(
            "calendar.event.get",
            {"type": "user", "ownerId": 1, "from": "2000-01-01", "to": "2100-01-01"},
        ),
    }
    async with serving(store) as portal, client_for(portal) as bx:
        portal.reset()
        lists = await bx.list_many(company)
        assert portal.request_count == 1
        assert len(portal.requests[0].sub_methods) <= 50

        # The same as fetching each list on its own.
        for name, request in company.items():
            alone = await bx.list_all(request.method, request.params)
            assert lists[name] == alone, name
        assert len(lists["deals"]) == 490
        assert ids(lists["departments"]) == sorted(int(k) for k in store.departments)
        assert len(lists["tasks"]) == len(store.tasks)
        own_events = [e for e in store.events if e["CAL_TYPE"] == "user" and e["OWNER_ID"] == "1"]
        assert sorted(ids(lists["events"])) == sorted(ids(own_events))
        assert {c["id"] for c in lists["categories"]} == {c["id"] for c in store.categories}


async def test_list_many_with_hints_packs_a_bigger_company_in_one_request() -> None:
    store = deals_store(1200, today=TODAY)
    requests = {
        "deals": ListRequest("crm.deal.list", {"select": ["ID"]}, expected_rows=1200),
        "users": ListRequest("user.get", None, expected_rows=len(store.users)),
        "tasks": ListRequest("tasks.task.list", {"select": ["ID"]}, expected_rows=6),
    }
    async with serving(store) as portal, client_for(portal) as bx:
        portal.reset()
        lists = await bx.list_many(requests)
        assert portal.request_count == 1
        assert ids(lists["deals"]) == list(range(1, 1201))
        portal.reset()
        # Without hints the first request cannot hold 1,200 deals next to the other lists.
        await bx.list_many({k: ListRequest(r.method, r.params) for k, r in requests.items()})
        assert portal.request_count == 2


# --- batch -------------------------------------------------------------------------------


async def test_batch_with_references_and_partial_errors() -> None:
    async with serving(sample_store(TODAY)) as portal, client_for(portal) as bx:
        portal.options.scopes.discard("task")
        result = await bx.batch(
            {
                "me": ("user.current", None),
                "dep": ("department.get", {"ID": "$result[me][UF_DEPARTMENT][0]"}),
                "missing": ("crm.deal.get", {"id": 999_999}),
                "tasks": ("tasks.task.list", {"select": ["ID"]}),
                "deals": ("crm.deal.list", {"select": ["ID"], "order": {"ID": "ASC"}}),
                "nested": "batch?cmd[a]=server.time",
            }
        )
        assert portal.request_count == 1
        assert result.result("me")["ID"] == "1"
        assert result["dep"].result[0]["ID"] == "1"
        assert result.total("deals") == 12
        assert isinstance(result.errors["missing"], BitrixNotFound)
        assert result.errors["missing"].status is None
        scope_error = result.errors["tasks"]
        assert isinstance(scope_error, BitrixInsufficientScope)
        assert scope_error.scope == "task"
        assert "задачам" in scope_error.user_message
        assert isinstance(result.errors["nested"], BitrixBatchError)
        assert not result.ok


async def test_batch_halt_stops_at_the_first_error() -> None:
    async with serving(sample_store(TODAY)) as portal, client_for(portal) as bx:
        result = await bx.batch(
            [
                ("server.time", None),
                ("crm.deal.get", {"id": 999_999}),
                ("user.current", None),
            ],
            halt=True,
        )
        assert "0" in result.results
        assert isinstance(result.errors["1"], BitrixNotFound)
        assert result.skipped == ("2",)


async def test_batch_of_120_commands_goes_in_three_requests() -> None:
    async with serving(deals_store(120, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        result = await bx.batch({f"d{i}": ("crm.deal.get", {"id": i}) for i in range(1, 121)})
        assert portal.request_count == 3
        assert [int(result.result(f"d{i}")["ID"]) for i in range(1, 121)] == list(range(1, 121))


# --- every error the portal can produce ---------------------------------------------------


async def test_errors_from_the_portal_map_to_their_exceptions() -> None:
    store = sample_store(TODAY)
    async with serving(store) as portal:
        good = portal.webhook_url
        async with BitrixClient(good.replace(portal.options.token, "wrong")) as bx:
            with pytest.raises(BitrixInvalidCredentials) as info:
                await bx.call("profile")
            assert info.value.status == 401
            assert "BITRIX_WEBHOOK_URL" in info.value.admin_hint

        async with client_for(portal, max_retries=0) as bx:
            with pytest.raises(BitrixMethodNotFound):
                await bx.call("crm.nothing.list")
            with pytest.raises(BitrixNotFound) as not_found:
                await bx.call("crm.deal.get", {"id": 999_999})
            assert not_found.value.code == ""
            with pytest.raises(BitrixRequestError) as bad:
                await bx.call("calendar.event.get", {})
            assert bad.value.status == 400

            portal.options.scopes = {"crm", "user", "department", "calendar"}
            with pytest.raises(BitrixInsufficientScope) as scope:
                await bx.call("tasks.task.list")
            assert scope.value.status == 401
            assert scope.value.scope == "task"
            assert '"task"' in scope.value.admin_hint
            portal.options.scopes.add("task")

            portal.options.https_required = True
            with pytest.raises(BitrixHttpsRequired):
                await bx.call("profile")
            portal.options.https_required = False

            store.users[1]["ACTIVE"] = False
            with pytest.raises(BitrixUserDeactivated) as fired:
                await bx.call("profile")
            assert isinstance(fired.value, BitrixAuthError)
            store.users[1]["ACTIVE"] = True

            portal.options.moved_to = "https://renamed.bitrix24.ru"
            with pytest.raises(BitrixPortalMoved) as moved:
                await bx.call("profile")
            assert moved.value.location_host == "renamed.bitrix24.ru"
            portal.options.moved_to = None

            portal.options.bucket = True
            portal.options.bucket_burst = 1
            await bx.call("server.time")
            with pytest.raises(BitrixQueryLimitExceeded) as limited:
                await bx.call("server.time")
            assert limited.value.status == 503


# --- the leaky bucket ------------------------------------------------------------------------


async def test_200_parallel_calls_never_see_query_limit_exceeded() -> None:
    time = SteppedTime()
    async with serving(
        sample_store(TODAY), bucket=True, bucket_rate=2.0, bucket_burst=50, clock=time.manual
    ) as portal:
        # max_retries=0: a single 503 from the portal would reach the caller.
        async with BitrixClient(
            portal.webhook_url,
            rate=2.0,
            burst=50,
            max_retries=0,
            clock=time.clock,
            wall_clock=time.clock,
            sleep=time.sleep,
        ) as bx:
            portal.reset()

            async def settled(woken: int) -> None:
                # The woken caller's request has reached the portal before time moves on.
                await portal.wait_for_requests(49 + woken, timeout=5)

            calls = asyncio.gather(*(bx.call("server.time") for _ in range(200)))
            results = await time.drive(calls, settled)
        assert len(results) == 200
        assert portal.request_count == 200
        assert [r.status for r in portal.requests].count(503) == 0
        # 49 at once (one slot of headroom), then one every 0.5 s of virtual time.
        assert time.woken == 151
        assert time.clock() - time.start == pytest.approx(151 * 0.5)


async def test_a_bucket_shared_with_another_app_is_survived() -> None:
    vt = VirtualTime()
    async with (
        serving(sample_store(TODAY), vt, bucket=True) as portal,
        client_for(portal, vt) as bx,
        httpx.AsyncClient() as other_app,
    ):
        # Another application on the same IP has just filled the portal's bucket.
        for _ in range(50):
            (await other_app.post(portal.webhook_url + "server.time")).raise_for_status()
        portal.reset()
        results = await asyncio.gather(*(bx.call("server.time") for _ in range(10)))
        assert len(results) == 10
        refused = [r.status for r in portal.requests].count(503)
        assert refused >= 1  # the portal did refuse…
        assert bx.stats.retries == refused  # …and each refusal was retried, none surfaced


# --- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.HTML_502, Fault.DROP, Fault.ERROR_500])
async def test_reads_recover_from_injected_faults(fault: Fault) -> None:
    async with serving(deals_store(120, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        portal.inject_fault(fault, count=2)
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]})
        assert ids(rows) == list(range(1, 121))
        assert portal.request_count == 3
        assert bx.stats.retries == 2


async def test_reads_recover_from_a_hung_request() -> None:
    async with (
        serving(deals_store(10, today=TODAY)) as portal,
        client_for(portal, timeout=0.3) as bx,
    ):
        portal.reset()
        portal.inject_fault(Fault.HANG)
        response = await bx.call("crm.deal.list", {"select": ["ID"]})
        assert len(response.result) == 10
        assert portal.hung == 1  # the first attempt is still held by the portal
        assert portal.request_count == 2
        portal.release_hung()


async def test_a_500_on_the_nth_request_is_retried() -> None:
    async with serving(deals_store(2700, today=TODAY)) as portal, client_for(portal) as bx:
        portal.reset()
        portal.inject_fault(Fault.ERROR_500, after=1)  # the 2nd request fails
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]})
        assert ids(rows) == list(range(1, 2701))
        assert [r.status for r in portal.requests] == [200, 500, 200]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.ERROR_500, BitrixServerError),
        (Fault.HTML_502, BitrixBadResponse),
        (Fault.DROP, BitrixConnectionDropped),
    ],
)
async def test_a_write_is_never_retried_after_a_failure(
    fault: Fault, expected: type[BitrixError]
) -> None:
    store = sample_store(TODAY)
    async with serving(store) as portal, client_for(portal) as bx:
        before = len(store.tasks)
        portal.reset()
        portal.inject_fault(fault)
        with pytest.raises(expected):
            await bx.call("tasks.task.add", {"fields": {"TITLE": "Проверка", "RESPONSIBLE_ID": 5}})
        assert portal.count("tasks.task.add") == 1
        assert len(store.tasks) == before


async def test_a_write_that_hangs_times_out_without_retry() -> None:
    async with serving(sample_store(TODAY)) as portal, client_for(portal, timeout=0.3) as bx:
        portal.reset()
        portal.inject_fault(Fault.HANG)
        with pytest.raises(BitrixTimeoutError):
            await bx.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 5}})
        assert portal.count("tasks.task.add") == 1
        portal.release_hung()


# --- OPERATION_TIME_LIMIT --------------------------------------------------------------------


async def test_429_waits_for_operating_reset_at_then_succeeds() -> None:
    vt = VirtualTime()
    options = {"operating_budget": 1.0, "operating_cost": 0.6}
    async with (
        serving(sample_store(TODAY), vt, **options) as portal,
        # the client's own budget is the cloud's 480 s, so only the portal's 429 stops it
        client_for(portal, vt, max_operating_wait=700) as bx,
    ):
        await bx.call("crm.deal.list", {"select": ["ID"]})
        await bx.call("crm.deal.list", {"select": ["ID"]})
        started = vt.clock()
        response = await bx.call("crm.deal.list", {"select": ["ID"]})
        assert response.total == 12
        statuses = [r.status for r in portal.requests]
        assert statuses == [200, 200, 429, 200]
        assert vt.clock() - started == pytest.approx(601.0, abs=1.0)
        assert bx.stats.operating_waits == 1


async def test_429_fails_clearly_when_the_reset_is_too_far() -> None:
    vt = VirtualTime()
    options = {"operating_budget": 1.0, "operating_cost": 0.6}
    async with (
        serving(sample_store(TODAY), vt, **options) as portal,
        client_for(portal, vt, max_operating_wait=60) as bx,
    ):
        await bx.call("tasks.task.list")
        await bx.call("tasks.task.list")
        with pytest.raises(BitrixOperationTimeLimit) as info:
            await bx.call("tasks.task.list")
        exc = info.value
        assert exc.status == 429
        assert exc.reset_at is not None
        assert exc.reset_at - vt.wall() > 60
        assert "задачам" in exc.user_message
        assert vt.sleeps == []
        # Other methods are not blocked.
        await bx.call("crm.deal.list", {"select": ["ID"]})


async def test_the_client_waits_before_a_method_over_its_budget() -> None:
    vt = VirtualTime()
    options = {"operating_budget": 1.0, "operating_cost": 0.6}
    async with (
        serving(sample_store(TODAY), vt, **options) as portal,
        client_for(portal, vt, operating_budget=1.0, max_operating_wait=700) as bx,
    ):
        for _ in range(3):
            await bx.call("crm.deal.list", {"select": ["ID"]})
        assert [r.status for r in portal.requests] == [200, 200, 200]  # no 429 at all
        assert bx.stats.operating_waits == 1


async def test_list_pages_wait_for_the_operating_reset_inside_batches() -> None:
    vt = VirtualTime()
    options = {"operating_budget": 1.0, "operating_costs": {"crm.deal.list": 0.3}}
    async with (
        serving(deals_store(300, today=TODAY), vt, **options) as portal,
        client_for(portal, vt, max_operating_wait=700) as bx,
    ):
        await bx.call("crm.deal.list", {"select": ["ID"], "start": -1})  # learn reset_at
        portal.reset()
        rows = await bx.list_all("crm.deal.list", {"select": ["ID"]})
        assert ids(rows) == list(range(1, 301))
        assert portal.request_count == 2
        assert bx.stats.operating_waits >= 1


# --- secrets ---------------------------------------------------------------------------------


async def test_no_secret_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "bitrix.client", "bitrix.portal"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with serving(deals_store(60, today=TODAY)) as portal:
        token = portal.options.token
        texts: list[str] = []
        async with client_for(portal, timeout=0.3) as bx:
            await bx.list_all("crm.deal.list", {"select": ["ID"]})
            portal.inject_fault(Fault.HTML_502)
            portal.inject_fault(Fault.DROP)
            await bx.call("user.get")
            portal.inject_fault(Fault.HANG)
            await bx.call("server.time")
            portal.release_hung()
            texts.append(repr(bx))
            texts.append(repr(bx.stats))
            portal.options.scopes.discard("task")
            for call in (
                bx.call("tasks.task.list"),
                bx.call("tasks.task.add", {"fields": {}}),
            ):
                try:
                    await call
                except BitrixError as exc:
                    texts += [str(exc), repr(exc), exc.admin_hint, exc.user_message]
                    texts.append("".join(traceback.format_exception(exc)))
            portal.options.moved_to = "https://renamed.bitrix24.ru"
            try:
                await bx.call("profile")
            except BitrixPortalMoved as exc:
                texts += [str(exc), repr(exc), exc.admin_hint]
                texts.append("".join(traceback.format_exception(exc)))
            portal.options.moved_to = None
        async with BitrixClient(portal.webhook_url.replace(token, token[:-1] + "X")) as bad:
            try:
                await bad.call("profile")
            except BitrixInvalidCredentials as exc:
                texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    messages = [r.getMessage() for r in caplog.records]
    assert any(r.name == "bitrix.client" and r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name == "bitrix.client" and r.levelno == logging.WARNING for r in caplog.records)
    assert len(texts) >= 10
    for text in [*messages, *texts]:
        assert token not in text
