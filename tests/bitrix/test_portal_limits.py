"""The leaky bucket (503) and the per-method operating budget (429), driven by a manual clock."""

from __future__ import annotations

from bitrix.portal import EmulatedPortal, ManualClock

from .conftest import NOON, Rest

TOO_MANY = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
BLOCKED = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}


async def statuses(rest: Rest, n: int, method: str = "server.time") -> list[int]:
    return [(await rest(method)).status_code for _ in range(n)]


async def test_bucket_is_off_by_default(rest: Rest) -> None:
    assert set(await statuses(rest, 60)) == {200}


async def test_default_bucket_bursts_fifty_then_503(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.bucket = True
    assert set(await statuses(rest, 50)) == {200}
    refused = await rest("server.time")
    assert refused.status_code == 503
    assert refused.json() == TOO_MANY


async def test_bucket_drains_with_the_clock(
    rest: Rest, portal: EmulatedPortal, clock: ManualClock
) -> None:
    portal.options.bucket = True
    portal.options.bucket_burst = 5
    portal.options.bucket_rate = 2.0
    assert await statuses(rest, 6) == [200] * 5 + [503]
    clock.advance(0.5)  # One request has drained.
    assert await statuses(rest, 2) == [200, 503]
    clock.advance(10)  # Fully drained.
    assert await statuses(rest, 6) == [200] * 5 + [503]
    # Refused requests are not counted: a client pacing at the rate gets through.
    for _ in range(4):
        clock.advance(0.5)
        assert (await rest("server.time")).status_code == 200


async def test_batch_is_one_request_for_the_bucket(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.bucket = True
    portal.options.bucket_burst = 2
    batch = await rest("batch", {"cmd": [f"crm.deal.get?id={i}" for i in range(1, 11)]})
    assert batch.status_code == 200
    assert len(batch.json()["result"]["result"]) == 10
    assert await statuses(rest, 2) == [200, 503]


async def test_operating_budget_blocks_the_method_until_reset(
    rest: Rest, portal: EmulatedPortal, clock: ManualClock
) -> None:
    portal.options.operating_budget = 1.0
    portal.options.operating_cost = 0.4
    times = []
    for _ in range(3):
        response = await rest("crm.deal.list", {"select": ["ID"]})
        assert response.status_code == 200
        times.append(response.json()["time"])
    assert [t["operating"] for t in times] == [0.4, 0.8, 1.2000000000000002]
    assert all(isinstance(t["operating"], float) for t in times)
    assert {t["operating_reset_at"] for t in times} == {int(NOON) + 600}
    blocked = await rest("crm.deal.list")
    assert blocked.status_code == 429
    assert blocked.json() == BLOCKED  # No `time` in an error body.
    # Other methods are not affected.
    assert (await rest("crm.deal.get", {"id": 1})).status_code == 200
    clock.advance(599)
    assert (await rest("crm.deal.list")).status_code == 429
    clock.advance(1)
    recovered = await rest("crm.deal.list")
    assert recovered.status_code == 200
    assert recovered.json()["time"]["operating_reset_at"] == int(NOON) + 1200


async def test_per_method_costs(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.operating_budget = 2.0
    portal.options.operating_costs = {"tasks.task.list": 3.0}
    assert (await rest("tasks.task.list")).status_code == 200
    assert (await rest("tasks.task.list")).status_code == 429
    assert portal.operating("tasks.task.list") == 3.0
    assert portal.operating("crm.deal.list") == 0.0
    portal.reset_limits()
    assert (await rest("tasks.task.list")).status_code == 200


async def test_sub_calls_count_against_their_own_method(
    rest: Rest, portal: EmulatedPortal
) -> None:
    portal.options.operating_budget = 1.0
    portal.options.operating_cost = 0.5
    cmd = ["crm.deal.list?select[]=ID"] * 3 + ["server.time"]
    result = (await rest("batch", {"cmd": cmd})).json()["result"]
    assert set(result["result"]) == {"0", "1", "3"}
    assert result["result_error"] == {"2": BLOCKED}
    # The outer batch is never metered, so it is never blocked itself.
    for _ in range(3):
        assert (await rest("batch", {"cmd": ["server.time"]})).status_code == 200
    assert portal.operating("batch") == 0.0
