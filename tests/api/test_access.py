"""Access control, bad input and HTTP errors: always JSON, never a 500, never the token in logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bitrix.demo import DemoCompany, build_demo
from tests.api.conftest import AUTH, TODAY, TOKEN, Stack, api_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATA_PATHS = [
    "/api/cleaning/houses",
    "/api/dashboard/employees",
    "/api/dashboard/departments",
    "/api/dashboard/statistics",
]


@pytest.fixture(scope="module")
def demo() -> DemoCompany:
    """The demo company."""
    return build_demo(TODAY)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    demo: DemoCompany, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Portal, runtime and API (with ``API_TOKEN``) for the module."""
    async with api_stack(demo, tmp_path_factory.mktemp("cache")) as running:
        yield running


def error_of(response: Any, status: int, code: str) -> str:
    """Assert a JSON error answer; returns its message."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


# ---------------------------------------------------------------------- auth
@pytest.mark.parametrize("path", DATA_PATHS)
async def test_right_token_is_let_in(stack: Stack, path: str) -> None:
    response = await stack.client.get(path, headers=AUTH)
    assert response.status_code == 200
    assert "data_age_s" in response.json()


@pytest.mark.parametrize("path", DATA_PATHS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Bearer {TOKEN[:-1]}",  # a prefix of the right one
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer токен".encode(),  # not ASCII
        b"Bearer \xff\xfe",  # not even UTF-8
    ],
)
async def test_missing_or_wrong_token_is_401(
    stack: Stack, path: str, authorization: str | bytes | None
) -> None:
    headers: dict[bytes, bytes] = {}
    if authorization is not None:
        value = authorization if isinstance(authorization, bytes) else authorization.encode()
        headers[b"Authorization"] = value
    response = await stack.client.get(path, headers=headers)
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


async def test_bearer_scheme_is_case_insensitive(stack: Stack) -> None:
    response = await stack.client.get(
        "/api/dashboard/statistics", headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert response.status_code == 200


async def test_health_is_open_without_a_token(stack: Stack) -> None:
    response = await stack.client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_without_api_token_data_endpoints_are_403(demo: DemoCompany, tmp_path: Path) -> None:
    async with api_stack(demo, tmp_path, token=None) as bare:
        for path in DATA_PATHS:
            for headers in ({}, AUTH):
                message = error_of(
                    await bare.client.get(path, headers=headers), 403, "api_disabled"
                )
                assert "API_TOKEN" in message
        assert (await bare.client.get("/api/health")).status_code == 200
        # Nothing was loaded from Bitrix24 for a refused request.
        assert bare.runtime.cache.snapshot is None


async def test_an_empty_api_token_counts_as_not_configured(
    demo: DemoCompany, tmp_path: Path
) -> None:
    async with api_stack(demo, tmp_path, token="") as bare:
        response = await bare.client.get(DATA_PATHS[0], headers={"Authorization": "Bearer x"})
        error_of(response, 403, "api_disabled")


async def test_the_token_never_reaches_the_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Bearer a-wrong-guess-that-is-also-secret"
    with caplog.at_level(logging.DEBUG):
        for path in [*DATA_PATHS, "/api/health", "/nowhere"]:
            await stack.client.get(path, headers=AUTH)
            await stack.client.get(path, headers={"Authorization": wrong})
            await stack.client.post(path, headers=AUTH)
        await stack.client.get(DATA_PATHS[0], params={"limit": "x"}, headers=AUTH)
    assert caplog.records, "nothing was logged: the check would be empty"
    assert TOKEN not in caplog.text
    assert "a-wrong-guess" not in caplog.text


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "99999999999999999999"}, "limit"),
        ({"offset": "-3"}, "offset"),
        ({"offset": "1e3"}, "offset"),
        ({"brigade": "abc"}, "brigade"),
        ({"brigade": "-2"}, "brigade"),
        ({"company": "ООО УК"}, "company"),
        ({"company": "-5"}, "company"),
        ({"street": "x" * 10_000}, "street"),
        ({"street": "ы" * 5_000}, "street"),
        ({"street": ","}, "street"),
        ({"street": "Кондрово,"}, "street"),
        ({"street": "..."}, "street"),
        ([("limit", "10"), ("limit", "20")], "limit"),
    ],
)
async def test_bad_query_values_are_400(stack: Stack, params: Any, names: str) -> None:
    response = await stack.client.get("/api/cleaning/houses", params=params, headers=AUTH)
    message = error_of(response, 400, "bad_request")
    assert names in message


async def test_auth_comes_before_validation(stack: Stack) -> None:
    response = await stack.client.get("/api/cleaning/houses", params={"limit": "abc"})
    error_of(response, 401, "unauthorized")


async def test_unknown_and_empty_params_are_ignored(stack: Stack) -> None:
    response = await stack.client.get(
        "/api/cleaning/houses",
        params={"sort": "desc", "brigade": "", "street": " ", "x" * 3000: "1"},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert response.json()["total"] == 490


async def test_bytes_that_are_not_utf8_are_400_not_500(stack: Stack) -> None:
    response = await stack.client.get("/api/cleaning/houses?street=%FF%FE", headers=AUTH)
    error_of(response, 400, "bad_request")
    response = await stack.client.get("/api/cleaning/houses?limit=%FF", headers=AUTH)
    error_of(response, 400, "bad_request")


# ---------------------------------------------------------------------- routing
@pytest.mark.parametrize(
    "path", ["/", "/api", "/api/houses", "/api/health/", "/api/cleaning/houses/1", "/favicon.ico"]
)
async def test_unknown_paths_are_404_json(stack: Stack, path: str) -> None:
    message = error_of(await stack.client.get(path, headers=AUTH), 404, "not_found")
    assert path in message


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/health", *DATA_PATHS])
async def test_wrong_method_is_405_json(stack: Stack, method: str, path: str) -> None:
    response = await stack.client.request(method, path, headers=AUTH, content=b"{}")
    error_of(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
