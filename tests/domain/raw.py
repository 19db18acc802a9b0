"""The test's own view of a portal: raw REST answers and the facts a test derives from them.

Independent of the code under test: plain httpx, one request per page with ``start`` offsets
(not our client's chained batches), and brigades, counts and schedules read from the answers
with the portal's *known* layout (labels from `DemoLayout`), not with `bitrix.mapping`'s
discovery. The domain layer must arrive at the same facts on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from bitrix.demo import DemoLayout, YearMonth
from bitrix.demo.layout import BrigadeSource

Record = dict[str, Any]
_BRIGADE = re.compile(r"(\d+)\s*бригада|бригада\s*(\d+)")


async def fetch_all(
    http: httpx.AsyncClient, method: str, params: Record | None = None
) -> list[Any]:
    """Every row of a list method, page by page (bounded at 200 pages)."""
    rows: list[Any] = []
    start: int | None = 0
    for _ in range(200):
        if start is None:
            return rows
        answer = (await http.post(method, json={**(params or {}), "start": start})).json()
        result = answer["result"]
        rows.extend(result["categories"] if isinstance(result, dict) else result)
        start = answer.get("next")
    raise AssertionError(f"{method}: more than 200 pages")


@dataclass
class RawPortal:
    """What the portal answered, plus lookups by the known layout."""

    layout: DemoLayout
    deals: list[Record]
    users: dict[str, Record]
    departments: dict[str, Record]
    userfields: list[Record]
    companies: list[Record]

    @classmethod
    async def fetch(cls, webhook_url: str, layout: DemoLayout) -> RawPortal:
        """Read the portal through its REST API."""
        async with httpx.AsyncClient(base_url=webhook_url, timeout=30) as http:
            deals = await fetch_all(http, "crm.deal.list", {"select": ["*", "UF_*"]})
            users = await fetch_all(http, "user.get")
            departments = await fetch_all(http, "department.get")
            userfields = await fetch_all(
                http, "crm.deal.userfield.list", {"filter": {"LANG": "ru"}}
            )
            companies = await fetch_all(http, "crm.company.list", {"select": ["ID", "TITLE"]})
        return cls(
            layout=layout,
            deals=deals,
            users={str(u["ID"]): u for u in users},
            departments={str(d["ID"]): d for d in departments},
            userfields=userfields,
            companies=companies,
        )

    # ------------------------------------------------------------------ fields by label
    def code(self, label: str) -> str:
        """The code of the user field whose form label is exactly ``label``."""
        codes = [f["FIELD_NAME"] for f in self.userfields if f["EDIT_FORM_LABEL"] == label]
        assert len(codes) == 1, (label, codes)
        return str(codes[0])

    def options(self, code: str) -> dict[str, str]:
        """An enumeration field's option id → text."""
        field = next(f for f in self.userfields if f["FIELD_NAME"] == code)
        return {str(o["ID"]): str(o["VALUE"]) for o in field.get("LIST") or []}

    # ------------------------------------------------------------------ houses
    def houses(self) -> list[Record]:
        """Active deals of the houses pipeline: its lost stages are ended contracts."""
        category = str(self.layout.category_id)
        lost = {f"C{category}:LOSE", f"C{category}:APOLOGY"}
        return [
            d for d in self.deals if d["CATEGORY_ID"] == category and d["STAGE_ID"] not in lost
        ]

    def count(self, deal: Record, role: str) -> int | None:
        """Apartments / entrances / floors of a deal as an int (empty → None)."""
        label = {
            "apartments": self.layout.apartments_label,
            "entrances": self.layout.entrances_label,
            "floors": self.layout.floors_label,
        }[role]
        value = deal.get(self.code(label))
        return None if value in (None, "") else int(value)

    def brigade_department(self, department_id: str) -> int | None:
        """The brigade number of a department or of its nearest brigade ancestor."""
        seen: set[str] = set()
        current: str | None = department_id
        while current is not None and current not in seen:
            seen.add(current)
            department = self.departments.get(current)
            if department is None:
                return None
            match = re.fullmatch(r"Бригада (\d+)", str(department["NAME"]))
            if match:
                return int(match.group(1))
            current = department.get("PARENT")
        return None

    def service_brigade(self, user_id: str) -> int | None:
        """The brigade a service user is named after («1» «бригада», «4 бригада»)."""
        user = self.users.get(user_id, {})
        name = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".strip().lower()
        match = _BRIGADE.fullmatch(name)
        return int(match.group(1) or match.group(2)) if match else None

    def brigade(self, deal: Record) -> int | None:
        """A house's brigade the way this portal records it."""
        source = self.layout.brigade_source
        if source is BrigadeSource.ENUM_FIELD:
            code = self.code(self.layout.brigade_field_label)
            text = self.options(code).get(str(deal.get(code)), "")
            match = re.fullmatch(r"Бригада (\d+)", text)
            return int(match.group(1)) if match else None
        responsible = str(deal["ASSIGNED_BY_ID"])
        if source is BrigadeSource.SERVICE_ACCOUNT:
            return self.service_brigade(responsible)
        user = self.users[responsible]
        for department in user.get("UF_DEPARTMENT") or []:
            number = self.brigade_department(str(department))
            if number is not None:
                return number
        return None

    def schedule(self, deal: Record, month: YearMonth) -> list[tuple[date, str]]:
        """(day, cleaning-type text) of every planned cleaning of a house in a month.

        Ordered by day; visits on the same day keep field order (period 1 before period 2),
        as the portal's form shows them: a house can get two cleanings of different types on
        one day, and their order is not alphabetical.
        """
        visits = []
        for period in (1, 2):
            date_code = self.code(self.layout.schedule_label("date", month, period))
            type_code = self.code(self.layout.schedule_label("type", month, period))
            label = self.options(type_code).get(str(deal.get(type_code)), "")
            days = deal.get(date_code) or []
            visits += [(date.fromisoformat(str(d)[:10]), label) for d in days]
        return sorted(visits, key=lambda visit: visit[0])  # stable: ties keep field order

    # ------------------------------------------------------------------ people
    def people(self) -> list[Record]:
        """Active users that are people (not brigade service accounts)."""
        return [
            u
            for u in self.users.values()
            if u.get("ACTIVE") is True and self.service_brigade(str(u["ID"])) is None
        ]

    def person_brigade(self, user: Record) -> int | None:
        """The brigade of a person: the first of their departments inside a brigade."""
        for department in user.get("UF_DEPARTMENT") or []:
            number = self.brigade_department(str(department))
            if number is not None:
                return number
        return None
