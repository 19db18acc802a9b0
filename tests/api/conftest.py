"""The HTTP API over real loopback HTTP: demo portal → `Runtime` → `ApiServer` → httpx.

`api_stack` wires one emulated portal with the demo company, a `Runtime` pointed at it (as in
production: `BITRIX_WEBHOOK_URL` set), and the API on a free port. `fetch_expected` reads the
same portal through plain REST calls (httpx, no code of ours) and computes what every endpoint
must answer, so the tests compare the API with the portal's raw data, never with our domain
layer. The demo generator's `DemoTruth` is used only where REST cannot tell (which users are
brigade service accounts) and as a second, independent check (periodicity).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bitrix.demo import DemoCompany
from bitrix.portal import EmulatedPortal, PortalOptions
from bot.config import Settings
from bot.runtime import Runtime
from handlers.http_api import ApiServer, serve_api

#: The API token of every test stack (tests assert it never reaches a log line).
TOKEN = "api-t0ken-f0r-tests-7c41d2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOUSES_PIPELINE = "Уборка подъездов"
HOME_TOWN = "Калуга"
#: The day every API test runs on: the demo is built around it and the product's clock is
#: pinned to it (``DEMO_DATE``), so "this month's visits" do not depend on the real date.
TODAY = date(2026, 11, 25)


@dataclass
class Stack:
    """A running portal, runtime and API server, and an httpx client for the API."""

    portal: EmulatedPortal
    runtime: Runtime
    server: ApiServer
    client: httpx.AsyncClient
    settings: Settings


@asynccontextmanager
async def api_stack(
    demo: DemoCompany,
    cache_dir: Path,
    *,
    token: str | None = TOKEN,
    portal: EmulatedPortal | None = None,
    speech: bool = False,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """Start the whole chain; a given ``portal`` must already be running (or stopped)."""
    own = portal is None
    if portal is None:
        portal = EmulatedPortal(demo.store, PortalOptions())
        await portal.start()
    settings = Settings(
        _env_file=None,
        bitrix_webhook_url=portal.webhook_url,
        api_token=token,
        demo_date=TODAY,
        cache_dir=cache_dir,
        bitrix_timeout=5.0,
        **overrides,
    )
    runtime = await Runtime.create(settings, speech=speech, notice=None)
    runtime.health_cache_seconds = 0  # these tests change the portal's state between checks
    try:
        server = await serve_api(runtime, settings, port=0)
        assert server is not None
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
                yield Stack(portal, runtime, server, client, settings)
        finally:
            await server.stop()
    finally:
        await runtime.aclose()
        if own:
            await portal.stop()


# ---------------------------------------------------------------------- raw REST
async def rest_all(
    http: httpx.AsyncClient, webhook: str, method: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of a list method, page by page (``start``/``next``), at most 100 pages."""
    items: list[dict[str, Any]] = []
    start: int | None = 0
    for _ in range(100):
        response = await http.post(webhook + method, json={**(params or {}), "start": start})
        response.raise_for_status()
        body = response.json()
        result = body["result"]
        if isinstance(result, dict):  # crm.category.list-style {"categories": [...]}
            (result,) = result.values()
        items.extend(result)
        start = body.get("next")
        if start is None:
            return items
    raise AssertionError(f"{method}: more than 100 pages")


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _brigade_of_department_name(name: str) -> int | None:
    match = re.fullmatch(r"Бригада (\d+)", name)
    return int(match.group(1)) if match else None


@dataclass
class Expected:
    """What the API must say, computed from raw REST answers of the portal."""

    month: str
    #: Deal id → the house item the API must give (in no particular order).
    houses: dict[int, dict[str, Any]]
    employees: dict[int, dict[str, Any]]
    departments: dict[int, dict[str, Any]]
    #: Brigade → people (active, not service accounts) in its department.
    brigade_people: dict[int, int] = field(default_factory=dict)


async def fetch_expected(webhook: str, demo: DemoCompany, timezone: str) -> Expected:
    """Read the portal with plain REST calls and compute every endpoint's answer."""
    truth = demo.truth
    today = TODAY
    month = f"{today.year:04d}-{today.month:02d}"
    async with httpx.AsyncClient(timeout=10.0) as http:
        categories = await rest_all(http, webhook, "crm.category.list", {"entityTypeId": 2})
        (category,) = [c["id"] for c in categories if c["name"] == HOUSES_PIPELINE]
        deals = await rest_all(
            http,
            webhook,
            "crm.deal.list",
            {"filter": {"CATEGORY_ID": category}, "select": ["*", "UF_*"]},
        )
        userfields = await rest_all(http, webhook, "crm.deal.userfield.list", {})
        companies = await rest_all(http, webhook, "crm.company.list", {})
        users = await rest_all(http, webhook, "user.get", {})
        departments = await rest_all(http, webhook, "department.get", {})

    labels = {
        (f["FIELD_NAME"], str(option["ID"])): option["VALUE"]
        for f in userfields
        for option in f.get("LIST") or []
    }
    company_names = {int(c["ID"]): c["TITLE"] for c in companies}
    service_brigade = {uid: n for n, uid in truth.service_account_ids.items()}
    dep_by_id = {int(d["ID"]): d for d in departments}
    user_names = {
        int(u["ID"]): " ".join(
            p for k in ("LAST_NAME", "NAME", "SECOND_NAME") if (p := (u.get(k) or "").strip())
        )
        for u in users
    }
    codes = truth.field_codes

    houses: dict[int, dict[str, Any]] = {}
    for deal in deals:
        if deal["STAGE_SEMANTIC_ID"] == "F":  # lost stage: the contract ended
            continue
        deal_id = int(deal["ID"])
        title = deal["TITLE"]
        town, street_and_number = (
            [p.strip() for p in title.split(",", 1)] if "," in title else [HOME_TOWN, title]
        )
        street, number = street_and_number.rsplit(" ", 1)
        company_id = _int(deal["COMPANY_ID"])
        company_id = company_id or None
        address = deal[codes["address"]]
        visits: list[dict[str, str]] = []
        for period in (1, 2):
            kind = deal[codes[f"type:{month}:{period}"]]
            label = labels[(codes[f"type:{month}:{period}"], str(kind))] if kind else ""
            visits.extend(
                {"date": str(day)[:10], "type": label}
                for day in deal[codes[f"date:{month}:{period}"]] or []
            )
        visits.sort(key=lambda v: v["date"])
        houses[deal_id] = {
            "id": deal_id,
            "address": title,
            "full_address": address.split("|", 1)[0].strip() if address else None,
            "town": town,
            "street": street,
            "number": number.lower(),
            "brigade": service_brigade[int(deal["ASSIGNED_BY_ID"])],
            "company": (
                None
                if company_id is None
                else {"id": company_id, "name": company_names[company_id]}
            ),
            "apartments": _int(deal[codes["apartments"]]),
            "entrances": _int(deal[codes["entrances"]]),
            "floors": _int(deal[codes["floors"]]),
            "periodicity": truth.periodicity[deal_id][month].value,
            "visits": visits,
        }

    people = [u for u in users if u["ACTIVE"] is True and int(u["ID"]) not in service_brigade]
    employees: dict[int, dict[str, Any]] = {}
    sizes: dict[int, int] = defaultdict(int)
    brigade_people: dict[int, int] = defaultdict(int)
    for user in people:
        user_id = int(user["ID"])
        deps = [int(d) for d in user["UF_DEPARTMENT"]]
        for dep_id in deps:
            sizes[dep_id] += 1
        main = dep_by_id[deps[0]]
        brigade = _brigade_of_department_name(main["NAME"])
        if brigade is not None:
            brigade_people[brigade] += 1
        employees[user_id] = {
            "id": user_id,
            "name": user_names[user_id],
            "position": user["WORK_POSITION"],
            "department": {"id": deps[0], "name": main["NAME"]},
            "brigade": brigade,
            "active": True,
        }

    department_items: dict[int, dict[str, Any]] = {}
    for dep in departments:
        dep_id = int(dep["ID"])
        parent = _int(dep.get("PARENT"))
        head = _int(dep.get("UF_HEAD"))
        department_items[dep_id] = {
            "id": dep_id,
            "name": dep["NAME"],
            "parent": None
            if parent is None
            else {"id": parent, "name": dep_by_id[parent]["NAME"]},
            "head": None if head is None else {"id": head, "name": user_names[head]},
            "size": sizes[dep_id],
            "brigade": _brigade_of_department_name(dep["NAME"]),
        }
    return Expected(
        month=month,
        houses=houses,
        employees=employees,
        departments=department_items,
        brigade_people=dict(brigade_people),
    )
