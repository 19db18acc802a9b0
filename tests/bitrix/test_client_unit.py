"""BitrixClient through ``httpx.MockTransport``: request shape, parsing, error mapping, retries.

The integration tests (`test_client_portal.py`) run the same client against the emulated portal
over real HTTP; these pin down what the emulator cannot easily produce on demand (exact bodies,
odd shapes, transport exceptions, timing decisions).
"""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from pydantic import SecretStr

from bitrix import (
    BatchResult,
    BitrixAPIError,
    BitrixBadResponse,
    BitrixClient,
    BitrixConfigError,
    BitrixConnectError,
    BitrixConnectionDropped,
    BitrixError,
    BitrixInsufficientScope,
    BitrixNotFound,
    BitrixOperationTimeLimit,
    BitrixPortalMoved,
    BitrixServerError,
    BitrixTimeoutError,
    ListRequest,
    is_read_method,
)
from tests.bitrix.client_fixtures import (
    SECRET,
    WEBHOOK,
    FakeTime,
    MockPortal,
    Seen,
    batch_response,
    envelope,
    error_response,
    html_response,
    json_response,
)


def make_client(
    portal: MockPortal, fake: FakeTime | None = None, **kwargs: object
) -> BitrixClient:
    fake = fake or FakeTime()
    options: dict[str, object] = {
        "transport": portal.transport(),
        "clock": fake.clock,
        "wall_clock": fake.wall,
        "sleep": fake.sleep,
        "rand": lambda: 0.5,
    }
    options.update(kwargs)
    return BitrixClient(WEBHOOK, **options)  # type: ignore[arg-type]


# --- request shape and envelope parsing -------------------------------------------------


async def test_call_posts_json_to_the_method_url_and_parses_the_envelope() -> None:
    portal = MockPortal()
    portal.queue(json_response(200, envelope([{"ID": "1"}], total="51", next_=50, operating=0.5)))
    async with make_client(portal) as bx:
        response = await bx.call("crm.deal.list", {"filter": {">ID": 0}, "select": ["ID"]})
    assert response.result == [{"ID": "1"}]
    assert response.total == 51  # a string number is read as int
    assert response.next == 50
    assert response.time["operating"] == 0.5
    seen = portal.seen[0]
    assert seen.path == f"/rest/7/{SECRET}/crm.deal.list"
    assert seen.body == {"filter": {">ID": 0}, "select": ["ID"]}
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["user-agent"].startswith("AudioBot/")
    assert bx.stats.requests == 1
    assert bx.stats.operating["crm.deal.list"] == 0.5


async def test_missing_total_and_next_are_none() -> None:
    portal = MockPortal()
    portal.queue(json_response(200, {"result": {"ID": "1"}}))
    async with make_client(portal) as bx:
        response = await bx.call("profile")
    assert response.total is None
    assert response.next is None
    assert response.time == {}


async def test_secretstr_url_and_trailing_method_are_accepted() -> None:
    portal = MockPortal()
    url = SecretStr(f"https://portal.example.bitrix24.ru/rest/7/{SECRET}/profile.json")
    async with BitrixClient(url, transport=portal.transport()) as bx:
        await bx.call("server.time")
        assert repr(bx) == "BitrixClient(host='portal.example.bitrix24.ru', user_id=7)"
        assert bx.host == "portal.example.bitrix24.ru"
        assert bx.user_id == 7
    assert portal.seen[0].path == f"/rest/7/{SECRET}/server.time"


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        f"ftp://portal.example/rest/1/{SECRET}/",
        f"https://portal.example/api/1/{SECRET}/",
        f"https://portal.example/rest/x/{SECRET}/",
        "https://portal.example/rest/1/",
    ],
)
def test_malformed_webhook_url_is_a_config_error_without_the_secret(url: str) -> None:
    with pytest.raises(BitrixConfigError) as info:
        BitrixClient(url)
    assert isinstance(info.value, ValueError)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert info.value.__context__ is None
    assert "BITRIX_WEBHOOK_URL" in info.value.admin_hint


def test_read_methods() -> None:
    for method in ("crm.deal.list", "user.get", "crm.deal.fields", "scope", "profile", "app.info"):
        assert is_read_method(method)
    for method in ("tasks.task.add", "crm.deal.update", "im.notify"):
        assert not is_read_method(method)
    assert is_read_method("batch", {"cmd": {"a": "crm.deal.list?start=0", "b": "user.current"}})
    assert not is_read_method("batch", {"cmd": {"a": "crm.deal.list", "b": "tasks.task.add?x=1"}})
    assert not is_read_method("batch", {"cmd": []})


# --- errors -----------------------------------------------------------------------------


async def test_302_is_portal_moved_and_not_followed() -> None:
    portal = MockPortal()
    portal.queue(
        httpx.Response(
            302, headers={"Location": f"https://new.example.ru/rest/7/{SECRET}/profile"}
        )
    )
    async with make_client(portal) as bx:
        with pytest.raises(BitrixPortalMoved) as info:
            await bx.call("profile")
    exc = info.value
    assert exc.status == 302
    assert exc.location_host == "new.example.ru"
    assert "new.example.ru" in exc.admin_hint
    assert len(portal.seen) == 1
    assert SECRET not in str(exc) + repr(exc) + exc.admin_hint


async def test_error_body_with_http_200_raises() -> None:
    portal = MockPortal()
    portal.queue(error_response(200, "insufficient_scope", "needs user"))
    async with make_client(portal) as bx:
        with pytest.raises(BitrixInsufficientScope) as info:
            await bx.call("user.add", {"fields": {}})
    assert info.value.status == 200
    assert info.value.scope == "user"


async def test_classic_crm_not_found() -> None:
    portal = MockPortal()
    portal.queue(error_response(400, "", "Not found"))
    async with make_client(portal) as bx:
        with pytest.raises(BitrixNotFound) as info:
            await bx.call("crm.deal.get", {"id": 999})
    assert str(info.value) == 'crm.deal.get: "" (HTTP 400): Not found'
    assert len(portal.seen) == 1  # 4xx is never retried


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (html_response(502), BitrixBadResponse),
        (html_response(403, "Forbidden"), BitrixBadResponse),
        (httpx.Response(500, text="oops"), BitrixBadResponse),
        (json_response(200, ["not", "an", "object"]), BitrixBadResponse),
        (json_response(200, {"no": "result"}), BitrixBadResponse),
        (error_response(500, "INTERNAL_SERVER_ERROR"), BitrixServerError),
    ],
)
async def test_unusable_answers_are_mapped_and_not_retried_for_writes(
    answer: httpx.Response, expected: type[BitrixError]
) -> None:
    portal = MockPortal()
    portal.queue(answer)
    async with make_client(portal) as bx:
        with pytest.raises(expected) as info:
            await bx.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 1}})
    assert len(portal.seen) == 1
    assert bx.stats.retries == 0
    assert info.value.method == "tasks.task.add"


async def test_html_snippet_is_readable_and_clean() -> None:
    portal = MockPortal()
    portal.queue(html_response(502, f"Bad Gateway for /rest/7/{SECRET}/batch"))
    async with make_client(portal, max_retries=0) as bx:
        with pytest.raises(BitrixBadResponse) as info:
            await bx.call("crm.deal.list")
    exc = info.value
    assert "Bad Gateway" in exc.description
    assert "<" not in exc.description
    assert SECRET not in exc.description
    assert exc.content_type == "text/html"
    assert exc.status == 502


@pytest.mark.parametrize(
    "answer",
    [
        html_response(502),
        error_response(500, "INTERNAL_SERVER_ERROR", "boom"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.ConnectError("connection refused"),
    ],
)
async def test_reads_recover_from_transient_failures(answer: httpx.Response | Exception) -> None:
    portal = MockPortal()
    portal.queue(answer, answer)
    portal.queue(json_response(200, envelope([{"ID": "1"}], total=1)))
    fake = FakeTime()
    async with make_client(portal, fake) as bx:
        response = await bx.call("crm.deal.list")
    assert response.result == [{"ID": "1"}]
    assert len(portal.seen) == 3
    assert bx.stats.retries == 2
    # exponential backoff with (injected) jitter: 0.5 → 1.0, halved plus half × rand(0.5)
    assert fake.sleeps == [0.375, 0.75]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.ReadTimeout("timed out"), BitrixTimeoutError),
        (httpx.RemoteProtocolError("Server disconnected"), BitrixConnectionDropped),
        (error_response(500, "INTERNAL_SERVER_ERROR"), BitrixServerError),
    ],
)
async def test_writes_are_not_retried_after_the_request_may_have_run(
    answer: httpx.Response | Exception, expected: type[BitrixError]
) -> None:
    portal = MockPortal()
    portal.queue(answer)
    async with make_client(portal) as bx:
        with pytest.raises(expected):
            await bx.call("tasks.task.add", {"fields": {"TITLE": "x"}})
    assert len(portal.seen) == 1


async def test_writes_are_retried_when_the_request_never_ran() -> None:
    portal = MockPortal()
    portal.queue(
        httpx.ConnectError("connection refused"),
        error_response(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        json_response(200, envelope({"task": {"id": "5"}})),
    )
    async with make_client(portal) as bx:
        response = await bx.call("tasks.task.add", {"fields": {"TITLE": "x"}})
    assert response.result == {"task": {"id": "5"}}
    assert len(portal.seen) == 3


async def test_query_limit_saturates_the_limiter() -> None:
    portal = MockPortal()
    portal.queue(error_response(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"))
    fake = FakeTime()
    async with make_client(portal, fake, rate=2.0, burst=50) as bx:
        await bx.call("crm.deal.list")
    # Backoff 0.375 s drains 0.75 of the now full bucket (50): the retry still waits 0.125 s for
    # its slot, i.e. the client paces at the portal's rate instead of bursting again.
    assert fake.sleeps == [0.375, 0.125]
    assert bx.stats.throttled_seconds == 0.125


async def test_retries_are_bounded() -> None:
    portal = MockPortal(handler=lambda seen: html_response(502))
    fake = FakeTime()
    async with make_client(portal, fake, max_retries=3) as bx:
        with pytest.raises(BitrixBadResponse):
            await bx.call("user.get")
    assert len(portal.seen) == 4
    assert bx.stats.retries == 3
    assert fake.sleeps == [0.375, 0.75, 1.5]


async def test_transport_errors_carry_no_httpx_context_and_no_secret() -> None:
    portal = MockPortal()
    portal.queue(httpx.ConnectError(f"cannot reach https://x/rest/7/{SECRET}/profile"))
    async with make_client(portal, max_retries=0) as bx:
        with pytest.raises(BitrixConnectError) as info:
            await bx.call("profile")
    exc = info.value
    assert exc.__cause__ is None
    assert exc.__context__ is None
    rendered = "".join(traceback.format_exception(exc))
    assert SECRET not in rendered
    assert SECRET not in repr(exc)
    assert exc.cause is not None
    assert "ConnectError" in exc.cause


# --- OPERATION_TIME_LIMIT and the operating budget ---------------------------------------


async def test_429_waits_for_the_remembered_reset_then_succeeds() -> None:
    fake = FakeTime()
    reset_at = fake.wall() + 30
    portal = MockPortal()
    portal.queue(
        json_response(200, envelope([], total=0, operating=10.0, reset_at=reset_at)),
        error_response(
            429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
        ),
        json_response(200, envelope([], total=0, operating=0.0)),
    )
    async with make_client(portal, fake, max_operating_wait=60) as bx:
        await bx.call("crm.deal.list")
        await bx.call("crm.deal.list")
    assert fake.sleeps == [pytest.approx(31.0)]
    assert bx.stats.operating_waits == 1
    assert len(portal.seen) == 3


async def test_429_fails_clearly_when_the_reset_is_unknown() -> None:
    portal = MockPortal()
    portal.queue(error_response(429, "OPERATION_TIME_LIMIT", "blocked"))
    fake = FakeTime()
    async with make_client(portal, fake) as bx:
        with pytest.raises(BitrixOperationTimeLimit) as info:
            await bx.call("tasks.task.list")
    assert info.value.reset_at is None
    assert fake.sleeps == []
    assert len(portal.seen) == 1
    assert "задачам" in info.value.user_message


async def test_429_fails_clearly_when_the_reset_is_too_far() -> None:
    fake = FakeTime()
    reset_at = fake.wall() + 500
    portal = MockPortal()
    portal.queue(
        json_response(200, envelope([], operating=1.0, reset_at=reset_at)),
        error_response(429, "OPERATION_TIME_LIMIT", "blocked"),
    )
    async with make_client(portal, fake, max_operating_wait=60) as bx:
        await bx.call("crm.deal.list")
        with pytest.raises(BitrixOperationTimeLimit) as info:
            await bx.call("crm.deal.list")
    assert info.value.reset_at == reset_at
    assert "UTC" in info.value.admin_hint
    assert fake.sleeps == []


async def test_near_the_budget_the_client_slows_down() -> None:
    fake = FakeTime()
    reset_at = fake.wall() + 300
    portal = MockPortal()
    portal.queue(json_response(200, envelope([], operating=440.0, reset_at=reset_at)))
    async with make_client(portal, fake) as bx:
        await bx.call("crm.deal.list")
        await bx.call("crm.deal.list")  # 440 s of 480: halfway through the 80 s margin
        await bx.call("user.get")  # other methods are not slowed
    assert fake.sleeps == [pytest.approx(2.5)]


async def test_over_the_budget_the_client_waits_for_the_reset() -> None:
    fake = FakeTime()
    reset_at = fake.wall() + 20
    portal = MockPortal()
    portal.queue(json_response(200, envelope([], operating=485.0, reset_at=reset_at)))
    async with make_client(portal, fake) as bx:
        await bx.call("crm.deal.list")
        await bx.call("crm.deal.list")
    assert fake.sleeps == [pytest.approx(20.0)]


# --- batch ------------------------------------------------------------------------------


async def test_batch_builds_php_query_commands_and_parses_sections() -> None:
    portal = MockPortal()
    portal.queue(
        batch_response(
            {"me": {"ID": "7"}, "deals": [{"ID": "1"}]},
            errors={"bad": {"error": "insufficient_scope", "error_description": ""}},
            totals={"deals": 1},
            nexts={},
            times={"deals": {"operating": 1.5, "operating_reset_at": 1_750_000_600}},
        )
    )
    async with make_client(portal) as bx:
        result = await bx.batch(
            {
                "me": "user.current",
                "deals": ("crm.deal.list", {"filter": {">ID": 0}, "select": ["ID", "TITLE"]}),
                "bad": ("tasks.task.list", None),
            }
        )
    sent = portal.seen[0]
    assert sent.body["halt"] == 0
    commands = sent.commands
    assert commands["me"] == ("user.current", {})
    assert commands["deals"] == (
        "crm.deal.list",
        {"filter": {">ID": "0"}, "select": ["ID", "TITLE"]},
    )
    assert result.results["me"] == {"ID": "7"}
    assert result["deals"].result == [{"ID": "1"}]
    assert result["deals"].total == 1
    assert result.total("me") is None
    assert result.next("deals") is None
    error = result.errors["bad"]
    assert isinstance(error, BitrixInsufficientScope)
    assert error.status is None
    assert error.method == "tasks.task.list"
    assert error.scope == "task"
    with pytest.raises(BitrixInsufficientScope):
        result["bad"]
    assert not result.ok
    assert bx.stats.operating["crm.deal.list"] == 1.5


async def test_batch_with_list_shaped_sections() -> None:
    # A list-shaped cmd: results come back as JSON lists, errors keyed with gaps as objects.
    portal = MockPortal()
    portal.queue(
        batch_response(
            {"0": {"ID": "1"}, "2": {"ID": "3"}},
            errors={"1": {"error": "", "error_description": "Not found"}},
        )
    )
    async with make_client(portal) as bx:
        result = await bx.batch(
            [("crm.deal.get", {"id": 1}), ("crm.deal.get", {"id": 2}), "crm.deal.get?id=3"]
        )
    assert result.keys == ("0", "1", "2")
    assert result.results == {"0": {"ID": "1"}, "2": {"ID": "3"}}
    assert isinstance(result.errors["1"], BitrixNotFound)
    assert portal.seen[0].commands["2"] == ("crm.deal.get", {"id": "3"})

    portal.queue(batch_response([{"ID": "1"}, {"ID": "2"}]))
    async with make_client(portal) as bx:
        result = await bx.batch(["crm.deal.get?id=1", "crm.deal.get?id=2"])
    assert result.results == {"0": {"ID": "1"}, "1": {"ID": "2"}}
    assert result.ok


async def test_batch_of_more_than_50_commands_is_split() -> None:
    def answer(seen: Seen) -> httpx.Response:
        return batch_response({k: int(k[1:]) for k in seen.body["cmd"]})

    portal = MockPortal(handler=answer)
    async with make_client(portal) as bx:
        result = await bx.batch({f"k{i}": ("server.time", None) for i in range(120)})
    assert [len(s.body["cmd"]) for s in portal.seen] == [50, 50, 20]
    assert result.results == {f"k{i}": i for i in range(120)}
    assert bx.stats.requests == 3


async def test_batch_halt_stops_later_chunks() -> None:
    portal = MockPortal()
    portal.queue(batch_response({"k0": 1}, errors={"k1": {"error": "ERROR_CORE"}}))
    async with make_client(portal) as bx:
        result = await bx.batch({f"k{i}": "server.time" for i in range(60)}, halt=True)
    assert len(portal.seen) == 1
    assert portal.seen[0].body["halt"] == 1
    assert result.skipped == tuple(f"k{i}" for i in range(2, 60))
    with pytest.raises(BitrixAPIError):
        result.raise_for_errors()
    with pytest.raises(KeyError):
        result["k5"]


async def test_batch_of_writes_is_not_retried_but_reads_are() -> None:
    portal = MockPortal()
    portal.queue(html_response(502), batch_response({"a": 1}))
    async with make_client(portal) as bx:
        result = await bx.batch({"a": "crm.deal.list", "b": "user.get"})
    assert isinstance(result, BatchResult)
    assert len(portal.seen) == 2

    portal = MockPortal()
    portal.queue(html_response(502))
    async with make_client(portal) as bx:
        with pytest.raises(BitrixBadResponse):
            await bx.batch({"a": "crm.deal.list", "b": ("tasks.task.add", {"fields": {}})})
    assert len(portal.seen) == 1


@pytest.mark.parametrize("key", ["a[b]", "x y", "a?b", "a&b", "", "$r"])
async def test_batch_rejects_keys_that_break_references(key: str) -> None:
    async with make_client(MockPortal()) as bx:
        with pytest.raises(ValueError):
            await bx.batch({key: "server.time"})


# --- list planning ----------------------------------------------------------------------


async def test_list_all_first_batch_chains_fifty_pages() -> None:
    portal = MockPortal()
    portal.queue(batch_response({"l0p0": []}, totals={"l0p0": 0}))
    async with make_client(portal) as bx:
        rows = await bx.list_all(
            "crm.deal.list", {"filter": {"CATEGORY_ID": 2}, "select": ["TITLE"]}
        )
    assert rows == []
    commands = portal.seen[0].commands
    assert len(commands) == 50
    method, first = commands["l0p0"]
    assert method == "crm.deal.list"
    assert first == {
        "filter": {"CATEGORY_ID": "2", ">ID": "0"},
        "select": ["TITLE", "ID"],
        "order": {"ID": "ASC"},
        "start": "0",
    }
    _, second = commands["l0p1"]
    assert second["filter"][">ID"] == "$result[l0p0][49][ID]"
    assert second["start"] == "-1"
    _, last = commands["l0p49"]
    assert last["filter"][">ID"] == "$result[l0p48][49][ID]"


async def test_list_plans_for_tasks_and_users_use_their_own_conventions() -> None:
    portal = MockPortal()
    portal.queue(
        batch_response(
            {"l0p0": {"tasks": []}, "l1p0": []}, totals={"l0p0": 0}
        )  # user.get: no total when empty
    )
    async with make_client(portal) as bx:
        lists = await bx.list_many(
            {
                "tasks": ListRequest("tasks.task.list", {"select": ["ID", "TITLE"]}, 60),
                "users": ListRequest("user.get", {"ACTIVE": True}, 80),
            }
        )
    assert lists == {"tasks": [], "users": []}
    commands = portal.seen[0].commands
    _, task_page = commands["l0p1"]
    assert task_page["filter"][">ID"] == "$result[l0p0][tasks][49][id]"
    assert task_page["order"] == {"ID": "asc"}
    _, user_first = commands["l1p0"]
    assert user_first == {
        "FILTER": {"ACTIVE": "Y", ">ID": "0"},
        "SORT": "ID",
        "ORDER": "ASC",
        "start": "0",
    }
    # hints: 60 tasks → 3 pages, 80 users → 3 pages
    assert sorted(commands) == ["l0p0", "l0p1", "l0p2", "l1p0", "l1p1", "l1p2"]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("crm.deal.list", {"start": 50}),
        ("crm.deal.list", {"order": {"TITLE": "ASC"}}),
        ("user.get", {"SORT": "NAME", "ORDER": "ASC"}),
        ("tasks.task.list", {"ORDER": {"ID": "desc"}}),
        ("department.get", {"start": 0}),
    ],
)
async def test_list_rejects_caller_paging_and_order(
    method: str, params: dict[str, object]
) -> None:
    portal = MockPortal()
    async with make_client(portal) as bx:
        with pytest.raises(ValueError, match="list_all/list_many own paging"):
            await bx.list_all(method, params)
    assert portal.seen == []


async def test_list_page_error_is_raised() -> None:
    portal = MockPortal()
    portal.queue(
        batch_response(
            {}, errors={"l0p0": {"error": "insufficient_scope", "error_description": ""}}
        )
    )
    async with make_client(portal) as bx:
        with pytest.raises(BitrixInsufficientScope) as info:
            await bx.list_all("tasks.task.list")
    assert info.value.scope == "task"


# --- logging and secrets ----------------------------------------------------------------


async def test_logs_never_carry_the_webhook_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="bitrix.client")
    portal = MockPortal()
    portal.queue(
        json_response(200, envelope([])),
        html_response(502),
        json_response(200, envelope([])),
        error_response(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
    )
    async with make_client(portal) as bx:
        await bx.call("crm.deal.list")
        await bx.call("user.get")
        with pytest.raises(BitrixError) as info:
            await bx.call("profile")
        # httpx's own request log line, even if someone turns its logger up to DEBUG.
        httpx_logger = logging.getLogger("httpx")
        level = httpx_logger.level
        httpx_logger.setLevel(logging.DEBUG)
        try:
            await bx.call("server.time")
        finally:
            httpx_logger.setLevel(level)
    messages = [r.getMessage() for r in caplog.records]
    assert any("crm.deal.list 200" in m for m in messages)  # our DEBUG line
    assert any("retry" in m for m in messages)  # our WARNING line
    assert any(r.name == "httpx" for r in caplog.records)  # httpx did log (redacted)
    assert all(SECRET not in m for m in messages)
    assert SECRET not in str(info.value) + repr(info.value) + repr(bx)
    assert SECRET not in repr(bx.stats)
