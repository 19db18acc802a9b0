"""Injected faults, special modes (moved, https-required, latency) and the background thread."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bitrix.portal import (
    EmulatedPortal,
    Fault,
    PortalOptions,
    PortalStore,
    PortalThread,
    sample_store,
)

from .conftest import TODAY, Rest


async def test_html_502_then_normal(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.HTML_502)
    failed = await rest("crm.deal.list")
    assert failed.status_code == 502
    assert failed.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in failed.text
    assert (await rest("crm.deal.list")).status_code == 200
    assert [r.fault for r in portal.requests] == [Fault.HTML_502, None]


async def test_dropped_connection(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await rest("crm.deal.list")
    assert (await rest("crm.deal.list")).status_code == 200
    dropped = portal.requests[0]
    assert (dropped.fault, dropped.status) == (Fault.DROP, None)


async def test_error_500_for_n_requests(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.ERROR_500, count=2)
    codes = [(await rest("scope")).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert portal.requests[0].error == "INTERNAL_SERVER_ERROR"


async def test_500_on_the_nth_request(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.ERROR_500, after=2)
    codes = [(await rest("scope")).status_code for _ in range(4)]
    assert codes == [200, 200, 500, 200]
    body = (await rest("scope")).json()
    assert "error" not in body


async def test_fault_for_one_method_only(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.ERROR_500, method="crm.deal.list", after=1)
    assert (await rest("crm.deal.list")).status_code == 200
    assert (await rest("user.get")).status_code == 200  # Not counted for the deal fault.
    assert (await rest("CRM.DEAL.LIST")).status_code == 500
    assert (await rest("crm.deal.list")).status_code == 200
    portal.inject_fault(Fault.ERROR_500, count=5)
    portal.clear_faults()
    assert (await rest("crm.deal.list")).status_code == 200


async def test_hang_until_released_then_answers(rest: Rest, portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.HANG)
    pending = asyncio.create_task(rest("crm.deal.get", {"id": 1}))
    await portal.wait_for_hung(1, timeout=5)
    assert not pending.done()
    assert portal.hung == 1
    portal.release_hung()
    response = await asyncio.wait_for(pending, timeout=5)
    assert response.status_code == 200
    assert response.json()["result"]["ID"] == "1"
    assert portal.hung == 0


async def test_hang_past_the_client_timeout(portal: EmulatedPortal) -> None:
    portal.inject_fault(Fault.HANG, method="tasks.task.add")
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.2)) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(
                portal.webhook_url + "tasks.task.add",
                json={"fields": {"TITLE": "x", "RESPONSIBLE_ID": 5}},
            )
    assert portal.hung == 1
    assert portal.requests[-1].status is None
    # Stopping the portal drops held requests cleanly (the fixture stops it again: idempotent).
    await portal.stop()
    assert portal.hung == 0
    assert 7 not in portal.store.tasks  # The held write never ran.


async def test_portal_moved_redirects(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.moved_to = "https://new-portal.bitrix24.ru/"
    response = await rest("crm.deal.list", http_method="GET", params={"select[]": "ID"})
    assert response.status_code == 302
    path = f"/rest/{portal.options.user_id}/{portal.options.token}/crm.deal.list?select%5B%5D=ID"
    assert response.headers["Location"] == "https://new-portal.bitrix24.ru" + path
    portal.options.moved_to = None
    assert (await rest("crm.deal.list")).status_code == 200


async def test_https_required(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.https_required = True
    response = await rest("crm.deal.list")
    assert response.status_code == 401
    assert response.json() == {"error": "INVALID_REQUEST", "error_description": "Https required."}


async def test_added_latency(rest: Rest, portal: EmulatedPortal) -> None:
    portal.options.latency = 0.05
    began = time.perf_counter()
    assert (await rest("server.time")).status_code == 200
    assert time.perf_counter() - began >= 0.05


async def test_wait_for_requests_times_out(portal: EmulatedPortal) -> None:
    with pytest.raises(TimeoutError):
        await portal.wait_for_requests(1, timeout=0.05)


def test_portal_thread_serves_synchronous_callers() -> None:
    thread = PortalThread(sample_store(TODAY), PortalOptions(token="thread0token0123"))
    url = thread.start()
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/rest/1/thread0token0123/")
        with httpx.Client(timeout=10) as client:
            assert (
                client.get(url + "crm.deal.get?id=3").json()["result"]["TITLE"] == "Московская 12"
            )
            thread.portal.inject_fault(Fault.HTML_502)
            assert client.get(url + "scope").status_code == 502
        assert thread.portal.request_count == 2
    finally:
        thread.stop()
    thread.stop()  # Idempotent.
    with httpx.Client(timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.get(url + "scope")


def test_portal_thread_releases_hung_requests_on_stop() -> None:
    with PortalThread(sample_store(TODAY)) as thread:
        thread.portal.inject_fault(Fault.HANG)
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=0.2)) as client,
            pytest.raises(httpx.ReadTimeout),
        ):
            client.get(thread.webhook_url + "scope")
    assert thread.portal.hung == 0


async def test_serve_forever_until_cancelled(store: PortalStore, http: httpx.AsyncClient) -> None:
    urls: list[str] = []
    started = asyncio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        started.set()

    serving = asyncio.create_task(EmulatedPortal(store).serve_forever(ready=ready))
    await asyncio.wait_for(started.wait(), timeout=5)
    assert (await http.get(urls[0] + "server.time")).status_code == 200
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    with pytest.raises(httpx.ConnectError):
        await http.get(urls[0] + "server.time")


async def test_a_method_bug_answers_a_json_500(
    rest: Rest, portal: EmulatedPortal, caplog: pytest.LogCaptureFixture
) -> None:
    portal.store.deals[1]["ID"] = object()  # Not JSON-serialisable, not comparable.
    response = await rest("crm.deal.get", {"id": 1})
    assert response.status_code == 500
    assert response.json()["error"] == "INTERNAL_SERVER_ERROR"
    assert "emulated method crm.deal.get failed" in caplog.text
