"""Routing, authentication, request bodies, headers and request recording of the portal."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from bitrix.portal import EmulatedPortal

from .conftest import Rest

DEAL_QUERY = "filter[>ID]=5&filter[CATEGORY_ID]=34&select[]=ID&select[]=TITLE&order[ID]=DESC"


def ids(response: httpx.Response) -> list[str]:
    return [row["ID"] for row in response.json()["result"]]


async def test_get_query_string_form_json_and_multipart_agree(
    rest: Rest, http: httpx.AsyncClient, portal: EmulatedPortal
) -> None:
    url = portal.webhook_url + "crm.deal.list"
    by_get = await http.get(f"{url}?{DEAL_QUERY}")
    by_json = await rest(
        "crm.deal.list",
        {
            "filter": {">ID": 5, "CATEGORY_ID": 34},
            "select": ["ID", "TITLE"],
            "order": {"ID": "DESC"},
        },
    )
    by_form = await http.post(
        url, content=DEAL_QUERY, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    by_multipart = await http.post(
        url,
        data={"filter[>ID]": "5", "filter[CATEGORY_ID]": "34", "order[ID]": "DESC"},
        files={"select[]": (None, "ID")},
    )
    assert by_multipart.request.headers["Content-Type"].startswith("multipart/form-data")
    expected = ["9", "8", "7", "6"]
    assert ids(by_get) == expected
    assert ids(by_json) == expected
    assert ids(by_form) == expected
    assert [r["ID"] for r in by_multipart.json()["result"]] == expected
    assert set(by_get.json()["result"][0]) == {"ID", "TITLE"}
    assert set(by_multipart.json()["result"][0]) == {"ID"}


async def test_body_keys_win_over_query_keys(
    http: httpx.AsyncClient, portal: EmulatedPortal
) -> None:
    url = portal.webhook_url + "crm.deal.list?filter[ID]=1&select[]=ID"
    response = await http.post(url, json={"filter": {"ID": 2}})
    assert ids(response) == ["2"]
    # Top-level replacement: the body's `filter` replaced the query's, `select` stayed.
    assert set(response.json()["result"][0]) == {"ID"}


async def test_invalid_json_body_is_silently_empty(rest: Rest) -> None:
    response = await rest(
        "crm.deal.list", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["total"] == 12


@pytest.mark.parametrize(
    "path",
    [
        "crm.deal.list",
        "CRM.Deal.LIST",
        "crm.deal.list.json",
        "crm.deal.list/",
        "Crm.Deal.List.json/",
    ],
)
async def test_method_names_are_case_insensitive_with_optional_suffix(
    http: httpx.AsyncClient, portal: EmulatedPortal, path: str
) -> None:
    response = await http.get(portal.webhook_url + path)
    assert response.status_code == 200
    assert response.json()["total"] == 12
    assert portal.requests[-1].method == "crm.deal.list"


async def test_wrong_credentials_are_401(http: httpx.AsyncClient, portal: EmulatedPortal) -> None:
    token = portal.options.token
    for url in (
        f"{portal.base_url}/rest/1/wrongtoken/crm.deal.list",
        f"{portal.base_url}/rest/2/{token}/crm.deal.list",
    ):
        response = await http.post(url)
        assert response.status_code == 401
        assert response.json() == {
            "error": "INVALID_CREDENTIALS",
            "error_description": "Invalid request credentials",
        }


async def test_unknown_method_is_404(rest: Rest) -> None:
    response = await rest("crm.deal.explode")
    assert response.status_code == 404
    assert response.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


@pytest.mark.parametrize(
    "path", ["/", "/crm.deal.list", "/rest/crm.deal.list", "/rest/1/x", "/api/1/x/y"]
)
async def test_anything_not_a_webhook_path_is_no_auth_found(
    http: httpx.AsyncClient, portal: EmulatedPortal, path: str
) -> None:
    response = await http.get(portal.base_url + path)
    assert response.status_code == 401
    assert response.json() == {
        "error": "NO_AUTH_FOUND",
        "error_description": "Wrong authorization data",
    }


async def test_response_headers_and_time_free_error_bodies(rest: Rest) -> None:
    ok = await rest("server.time")
    assert ok.headers["Content-Type"] == "application/json; charset=utf-8"
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r"\d+\.\d{10}", ok.headers["X-Bitrix-Rest-Time"])
    error = await rest("crm.deal.get", {"id": 999})
    assert error.status_code == 400
    assert error.headers["Content-Type"] == "application/json; charset=utf-8"
    assert error.json() == {"error": "", "error_description": "Not found"}


async def test_scopes_switch_at_run_time(rest: Rest, portal: EmulatedPortal) -> None:
    assert (await rest("crm.deal.list")).status_code == 200
    portal.options.scopes = {"user", "task"}
    denied = await rest("crm.deal.list")
    assert denied.status_code == 401
    assert denied.json() == {
        "error": "insufficient_scope",
        "error_description": (
            "The request requires higher privileges than provided by the webhook token"
        ),
    }
    assert (await rest("scope")).json()["result"] == ["task", "user"]
    assert (await rest("department.get")).status_code == 401
    # Basic-scope methods need no grant.
    for method in ("scope", "app.info", "server.time", "profile", "batch"):
        assert (await rest(method)).status_code == 200, method
    portal.options.scopes.add("crm")
    assert (await rest("crm.deal.list")).status_code == 200


async def test_user_scopes_limit_the_fields(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.scopes = {"user_brief"}
    brief = (await rest("user.get", {"ID": 2})).json()["result"][0]
    assert "EMAIL" not in brief and "PERSONAL_MOBILE" not in brief
    assert brief["NAME"] == "Ольга" and brief["UF_DEPARTMENT"] == [2]
    portal.options.scopes = {"user_basic"}
    basic = (await rest("user.current")).json()["result"]
    assert basic["EMAIL"] == "director@chisty-podezd.ru"
    assert "LAST_LOGIN" not in basic
    portal.options.scopes = {"crm"}
    assert (await rest("user.current")).status_code == 401


async def test_credentials_switch_at_run_time(
    rest: Rest, http: httpx.AsyncClient, portal: EmulatedPortal
) -> None:
    old_url = portal.webhook_url
    portal.options.token = "rotated0code0123"
    portal.options.user_id = 2
    assert (await http.post(old_url + "profile")).status_code == 401
    assert portal.webhook_url.endswith("/rest/2/rotated0code0123/")
    profile = (await rest("profile")).json()["result"]
    assert profile["ID"] == "2" and profile["NAME"] == "Ольга"


async def test_fired_webhook_owner_cannot_authorize(rest: Rest, portal: EmulatedPortal) -> None:
    portal.store.users[1]["ACTIVE"] = False
    response = await rest("profile")
    assert response.status_code == 401
    assert response.json()["error"] == "authorization_error"


async def test_requests_are_recorded_and_counted(rest: Rest, portal: EmulatedPortal) -> None:
    await rest("crm.deal.list", {"select": ["ID"]})
    await rest("crm.deal.get", {"id": 999})
    await rest("batch", {"cmd": {"a": "crm.deal.list?select[]=ID", "b": "user.current"}})
    assert portal.request_count == 3
    assert portal.count("crm.deal.list") == 1
    assert portal.count("batch") == 1
    assert portal.calls("crm.deal.list") == 2
    assert portal.calls("user.current") == 1
    first, second, third = portal.requests
    assert (first.method, first.status, first.params) == ("crm.deal.list", 200, {"select": ["ID"]})
    assert (second.status, second.error) == (400, "")
    assert third.sub_methods == ["crm.deal.list", "user.current"]
    portal.reset()
    assert portal.request_count == 0
    assert portal.calls("crm.deal.list") == 0


async def test_token_never_logged(
    rest: Rest, portal: EmulatedPortal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await rest("crm.deal.list")
    await rest("nope.nope")
    assert caplog.records, "the portal logs each request at DEBUG"
    assert portal.options.token not in caplog.text
    assert portal.options.token not in repr(portal)
