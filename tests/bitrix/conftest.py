"""Shared fixtures: an emulated portal on loopback with a fixed clock, and a plain HTTP client.

The portal serves `sample_store` for a fixed "today" (``TODAY``) and a `ManualClock` standing at
noon of that day in Moscow, so dates, overdue tasks and the limiters are deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bitrix.portal import EmulatedPortal, ManualClock, PortalOptions, PortalStore, sample_store

TODAY = date(2026, 3, 16)
NOON = datetime(2026, 3, 16, 12, 0, tzinfo=ZoneInfo("Europe/Moscow")).timestamp()

Rest = Callable[..., Coroutine[Any, Any, httpx.Response]]


@pytest.fixture
def clock() -> ManualClock:
    """The portal's clock: noon of ``TODAY`` in Moscow; advance it instead of sleeping."""
    return ManualClock(NOON)


@pytest.fixture
def store() -> PortalStore:
    """A fresh sample company for ``TODAY``."""
    return sample_store(TODAY)


@pytest.fixture
def options(clock: ManualClock) -> PortalOptions:
    """Default portal switches with the manual clock."""
    return PortalOptions(clock=clock)


@pytest.fixture
async def portal(store: PortalStore, options: PortalOptions) -> AsyncIterator[EmulatedPortal]:
    """A running emulated portal on a free loopback port."""
    async with EmulatedPortal(store, options) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client (not our Bitrix client), no redirects followed."""
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def rest(portal: EmulatedPortal, http: httpx.AsyncClient) -> Rest:
    """``await rest("crm.deal.list", {"select": [...]})``: a JSON POST to the portal's webhook.

    Extra keyword arguments go to ``httpx.AsyncClient.request`` (``method="GET"``, ``params=``,
    ``data=``, ``content=``, ``headers=``...); without a JSON payload nothing is sent as JSON.
    """

    async def call(
        method: str, payload: Any = None, *, http_method: str = "POST", **kwargs: Any
    ) -> httpx.Response:
        if payload is not None:
            kwargs["json"] = payload
        return await http.request(http_method, portal.webhook_url + method, **kwargs)

    return call
