"""`batch`: sections and their PHP shapes, references, halt, the 50 cap, nesting, scopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bitrix.php import build_query
from bitrix.portal import EmulatedPortal, PortalOptions, deals_store
from bitrix.portal.batch import resolve_references, substitute

from .conftest import TODAY, Rest


async def run_batch(rest: Rest, cmd: Any, **extra: Any) -> dict[str, Any]:
    response = await rest("batch", {"cmd": cmd, **extra})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"result", "time"}
    assert set(body["result"]) == {
        "result",
        "result_error",
        "result_total",
        "result_next",
        "result_time",
    }
    result: dict[str, Any] = body["result"]
    return result


async def test_map_cmd_with_references_and_sections(rest: Rest) -> None:
    result = await run_batch(
        rest,
        {
            "me": "user.current",
            "dep": "department.get?ID=$result[me][UF_DEPARTMENT][0]",
            "deals": "crm.deal.list?filter[>ID]=0&order[ID]=ASC&select[]=ID&start=-1",
        },
    )
    assert result["result"]["me"]["ID"] == "1"
    assert result["result"]["dep"] == [
        {"ID": "1", "NAME": "ООО «Чистый подъезд»", "SORT": 500, "UF_HEAD": "1"}
    ]
    assert len(result["result"]["deals"]) == 12
    assert result["result_error"] == []
    assert result["result_total"] == {"dep": 1, "deals": 0}
    assert result["result_next"] == []
    assert set(result["result_time"]) == {"me", "dep", "deals"}
    assert isinstance(result["result_time"]["dep"]["start"], float)


async def test_list_cmd_gives_lists(rest: Rest) -> None:
    result = await run_batch(rest, ["server.time", "crm.deal.list?select[]=ID", "scope"])
    assert isinstance(result["result"], list) and len(result["result"]) == 3
    assert result["result"][2] == ["calendar", "crm", "department", "disk", "task", "user"]
    assert isinstance(result["result_time"], list) and len(result["result_time"]) == 3
    # Only the list method has a total, keyed "1": an object, not a list.
    assert result["result_total"] == {"1": 12}
    assert result["result_error"] == []


async def test_failures_leave_gaps_and_batch_stays_200(rest: Rest) -> None:
    result = await run_batch(
        rest, ["server.time", "crm.deal.get?id=999", "no.such.method", "scope"]
    )
    assert set(result["result"]) == {"0", "3"}
    assert result["result_error"] == {
        "1": {"error": "", "error_description": "Not found"},
        "2": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
    }
    assert set(result["result_time"]) == {"0", "3"}
    all_failed = await run_batch(rest, ["crm.deal.get?id=999", "crm.deal.get?id=998"])
    assert all_failed["result"] == [] and all_failed["result_time"] == []
    assert isinstance(all_failed["result_error"], list) and len(all_failed["result_error"]) == 2


@pytest.mark.parametrize(
    ("halt", "ran"),
    [(1, ["0"]), (True, ["0"]), ("1", ["0"]), (0, ["0", "2"]), (False, ["0", "2"])],
)
async def test_halt_stops_at_the_first_error(rest: Rest, halt: Any, ran: list[str]) -> None:
    result = await run_batch(rest, ["server.time", "crm.deal.get?id=999", "scope"], halt=halt)
    keys = (
        list(result["result"])
        if isinstance(result["result"], dict)
        else [str(i) for i in range(len(result["result"]))]
    )
    assert keys == ran
    assert list(result["result_error"]) == ["1"]


async def test_more_than_fifty_commands(rest: Rest, portal: EmulatedPortal) -> None:
    cmd = {f"c{i}": "server.time" for i in range(53)}
    result = await run_batch(rest, cmd)
    assert len(result["result"]) == 50
    assert result["result_error"] == {
        f"c{i}": {
            "error": "ERROR_BATCH_LENGTH_EXCEEDED",
            "error_description": "Max batch length exceeded",
        }
        for i in (50, 51, 52)
    }
    assert portal.calls("server.time") == 50


async def test_batch_inside_batch_is_refused(rest: Rest) -> None:
    result = await run_batch(rest, {"inner": "batch?cmd[a]=scope", "ok": "scope"})
    assert result["result_error"] == {
        "inner": {
            "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "error_description": "Method is not allowed for batch usage",
        }
    }
    assert list(result["result"]) == ["ok"]


async def test_sub_call_outside_scopes(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.scopes = {"crm"}
    result = await run_batch(rest, {"t": "tasks.task.list", "d": "crm.deal.list?select[]=ID"})
    assert result["result_error"] == {
        "t": {"error": "insufficient_scope", "error_description": ""}
    }
    assert len(result["result"]["d"]) == 12


async def test_next_total_and_wrapped_references(rest: Rest) -> None:
    result = await run_batch(
        rest,
        {
            "t": "tasks.task.list?order[ID]=ASC&select[]=ID&select[]=RESPONSIBLE_ID",
            "who": "user.get?ID=$result[t][tasks][0][responsibleId]",
            # "=" inside a key must be encoded, or parse_str splits the pair there.
            "count": "crm.deal.list?filter[%3C%3DID]=$total[t]&select[]=ID",
            "err": "crm.deal.get?id=0",
            "echo": "crm.deal.list?filter[TITLE]=$error[err][error_description]&select[]=ID",
        },
    )
    assert result["result"]["who"][0]["NAME"] == "Иван"
    assert [r["ID"] for r in result["result"]["count"]] == ["1", "2", "3", "4", "5", "6"]
    assert result["result"]["echo"] == []


async def test_unresolvable_reference_yields_what_the_walk_reached(rest: Rest) -> None:
    result = await run_batch(
        rest,
        {
            "deals": "crm.deal.list?select[]=ID&filter[<ID]=3",
            # `[5]` is missing: the walk stops at the list; string-substituted it prints "Array".
            "miss": "crm.deal.list?select[]=ID&filter[%TITLE]=x$result[deals][5][ID]",
            # The whole value is one reference: the raw value (a list) replaces it.
            "raw": "crm.deal.list?select[]=ID&filter[@ID]=$result[deals][9]",
        },
    )
    assert result["result"]["miss"] == []
    assert [r["ID"] for r in result["result"]["raw"]] == []  # @ID with a list of records.


async def test_chained_pagination_across_fifty_commands(
    options: PortalOptions, http: httpx.AsyncClient
) -> None:
    async with EmulatedPortal(deals_store(2600, today=TODAY), options) as portal:
        select = "&select[]=ID&select[]=TITLE"
        cmd = {"p0": f"crm.deal.list?order[ID]=ASC&filter[>ID]=0{select}&start=-1"}
        for i in range(1, 50):
            previous = f"$result[p{i - 1}][49][ID]"
            cmd[f"p{i}"] = f"crm.deal.list?order[ID]=ASC&filter[>ID]={previous}{select}&start=-1"
        response = await http.post(portal.webhook_url + "batch", json={"halt": 1, "cmd": cmd})
        result = response.json()["result"]
        rows = [row for i in range(50) for row in result["result"][f"p{i}"]]
        assert [int(r["ID"]) for r in rows] == list(range(1, 2501))
        assert result["result_total"] == {f"p{i}": 0 for i in range(50)}
        assert result["result_error"] == []
        assert portal.request_count == 1
        assert portal.calls("crm.deal.list") == 50


async def test_form_encoded_batch_is_double_encoded(
    http: httpx.AsyncClient, portal: EmulatedPortal
) -> None:
    inner = build_query({"filter": {"%TITLE": "Пролетарская"}, "select": ["ID", "TITLE"]})
    first = quote("crm.deal.list?" + inner, safe="")
    second = quote("crm.deal.get?id=$result[a][0][ID]", safe="")
    body = f"halt=0&cmd[a]={first}&cmd[b]={second}"
    response = await http.post(
        portal.webhook_url + "batch",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    result = response.json()["result"]
    assert result["result"]["a"] == [{"ID": "1", "TITLE": "Пролетарская 112/1"}]
    assert result["result"]["b"]["TITLE"] == "Пролетарская 112/1"


async def test_batch_by_get_query_string(http: httpx.AsyncClient, portal: EmulatedPortal) -> None:
    response = await http.get(
        portal.webhook_url + "batch",
        params={"cmd[0]": "scope", "cmd[1]": "crm.deal.get?id=2"},
    )
    result = response.json()["result"]["result"]
    assert result[1]["TITLE"] == "Никитиной 15к2"


async def test_operating_is_reported_per_sub_call(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.operating_cost = 0.25
    result = await run_batch(
        rest, ["crm.deal.list?select[]=ID", "crm.deal.list?select[]=ID", "scope"]
    )
    times = result["result_time"]
    assert times[0]["operating"] == 0.25 and times[1]["operating"] == 0.5
    assert times[2]["operating"] == 0.25
    assert isinstance(times[1]["operating_reset_at"], int)
    assert portal.operating("batch") == 0.0


# ------------------------------------------------------------------------------- reference walk


SECTIONS: dict[str, dict[str, Any]] = {
    "result": {"a": [{"ID": "37", "TAGS": []}], "s": "hello", "m": {"x": None}},
    "next": {"a": 50},
    "total": {"a": 120},
    "time": {},
    "error": {"e": {"error": "", "error_description": "Not found"}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$result[a][0][ID]", "37"),
        ("id=$result[a][0][ID] !", "id=37 !"),
        ("id=$result[a][0][ID]!", "id=37"),  # The match runs to whitespace: "!" is eaten.
        ("$RESULT[a][0][ID]", "37"),  # The pattern is case-insensitive.
        ("$next[a]", 50),
        ("n=$total[a]", "n=120"),
        ("$result[a][0]", {"ID": "37", "TAGS": []}),
        ("$result[a][9][ID]", [{"ID": "37", "TAGS": []}]),  # Stops at the list.
        ("x$result[a][9][ID]", "xArray"),
        ("$result[a][0][TAGS][0]", []),  # Empty array: isset fails, the walk stays.
        ("$result[s][1]", "e"),  # PHP string offset.
        ("$result[m][x]", {"x": None}),  # isset(null) is false.
        ("$result", "$result"),  # No path: left alone.
        ("$error[e][error_description]", "Not found"),
        ("$time[a]", {}),
        ("a $result[a][0][ID] b $next[a]", "a 37 b 50"),
    ],
)
def test_reference_substitution(value: str, expected: Any) -> None:
    assert substitute(value, SECTIONS) == expected


def test_references_in_keys_and_nested_values() -> None:
    params = {"filter": {">ID": "$result[a][0][ID]", "$result[s]": "1"}, "select": ["$next[a]"]}
    assert resolve_references(params, SECTIONS) == {
        "filter": {">ID": "37", "hello": "1"},
        "select": [50],
    }
