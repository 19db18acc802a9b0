"""Load the whole company from Bitrix24 in as few HTTP requests as the API allows.

Round 1 is one `batch`: field metadata (`crm.deal.fields`, `crm.deal.userfield.list` with
labels), pipelines and stages, companies, users, departments, tasks and the company calendar
around today. Round 2 fetches the houses pipeline's deals with an explicit `select` of the
mapped fields only (reference §7.1: `UF_*` on many rows is what exhausts the per-method
operating-time budget). When the pipeline id is configured and a previous snapshot supplied
the field codes, deals go into round 1 as well. Lists longer than one batch continue in
further rounds (`BitrixClient.list_many` packs them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Any

from bitrix.client import BitrixClient, ListRequest
from bitrix.clock import Clock
from bitrix.company import MappingOptions, RawCompanyData
from bitrix.errors import BitrixError, BitrixMappingError
from bitrix.mapping import FieldMapping, build_mapping

log = logging.getLogger(__name__)

#: Task fields the bot reads (tasks.task.list takes UPPER_CASE select, answers camelCase).
TASK_SELECT = [
    "ID",
    "TITLE",
    "STATUS",
    "DEADLINE",
    "CREATED_DATE",
    "CLOSED_DATE",
    "CHANGED_DATE",
    "RESPONSIBLE_ID",
    "UF_CRM_TASK",
]
COMPANY_SELECT = ["ID", "TITLE", "PHONE", "EMAIL", "ADDRESS", "COMMENTS"]
#: Row-count guesses for a first load (no previous snapshot): enough chained pages for a
#: company of this size in one batch, without dozens of pages past the end of each list.
FIRST_LOAD_ROWS = {
    "userfields": 100,
    "statuses": 100,
    "companies": 100,
    "users": 150,
    "departments": 50,
    "tasks": 200,
    "deals": 600,
}
CALENDAR_BACK_DAYS = 31
CALENDAR_AHEAD_DAYS = 62


@dataclass(frozen=True)
class LoadStats:
    """How a load went: for logs, `/health` and the benchmark."""

    requests: int
    seconds: float
    rows: dict[str, int]


class CompanyLoader:
    """Fetches `RawCompanyData` through a `BitrixClient` (see the module docstring)."""

    def __init__(
        self,
        client: BitrixClient,
        *,
        tz: tzinfo,
        options: MappingOptions,
        clock: Clock,
    ) -> None:
        self.client = client
        self.tz = tz
        self.options = options
        self._clock = clock
        self._previous: RawCompanyData | None = None
        self._mapping: FieldMapping | None = None
        self.last_stats: LoadStats | None = None

    async def fetch(self) -> RawCompanyData:
        """Load everything; raises `BitrixError` subclasses on failure, and only those.

        Anything else that goes wrong while reading the portal's answers (a category id 'abc',
        a list where an object belongs) is a `BitrixMappingError`: the cache keeps serving the
        last good snapshot for it exactly as for an outage, instead of a raw ValueError killing
        the refresh.
        """
        try:
            return await self._fetch()
        except BitrixError:
            raise
        except Exception as exc:
            log.exception("could not read the company data from Bitrix24")
            raise BitrixMappingError(
                f"could not read the company data: {type(exc).__name__}: {exc}",
                admin_hint=(
                    "Ответ Bitrix24 не удалось разобрать (подробности в журнале бота); "
                    "проверьте воронку и поля сделок командой audiobot fields."
                ),
            ) from exc

    async def _fetch(self) -> RawCompanyData:
        started = time.perf_counter()
        requests_before = self.client.stats.requests
        now = self._clock.utcnow()
        today = now.astimezone(self.tz).date()
        previous = self._previous

        def hint(name: str) -> int | None:
            if previous is not None:
                return len(getattr(previous, name))
            return FIRST_LOAD_ROWS.get(name)

        lists: dict[str, ListRequest] = {
            "deal_fields": ListRequest("crm.deal.fields"),
            "userfields": ListRequest(
                "crm.deal.userfield.list", {"filter": {"LANG": "ru"}}, hint("userfields")
            ),
            "categories": ListRequest("crm.category.list", {"entityTypeId": 2}),
            "statuses": ListRequest("crm.status.list", {}, hint("statuses")),
            "companies": ListRequest(
                "crm.company.list", {"select": COMPANY_SELECT}, hint("companies")
            ),
            "users": ListRequest("user.get", {}, hint("users")),
            "departments": ListRequest("department.get", {}, hint("departments")),
            "tasks": ListRequest("tasks.task.list", {"select": TASK_SELECT}, hint("tasks")),
            "events": ListRequest(
                "calendar.event.get",
                {
                    "type": "company_calendar",
                    "ownerId": 0,
                    "from": (today - timedelta(days=CALENDAR_BACK_DAYS)).isoformat(),
                    "to": (today + timedelta(days=CALENDAR_AHEAD_DAYS)).isoformat(),
                },
            ),
        }
        early_deals = self.options.category_id is not None and self._mapping is not None
        if early_deals:
            assert self._mapping is not None
            lists["deals"] = self._deals_request(self._mapping, hint("deals"))
        fetched = await self.client.list_many(lists)
        deal_fields = fetched["deal_fields"][0] if fetched["deal_fields"] else {}
        mapping = build_mapping(
            deal_fields,
            fetched["userfields"],
            fetched["categories"],
            fetched["statuses"],
            today=today,
            category_id=self.options.category_id,
            pipeline_name=self.options.pipeline_name,
            overrides=self.options.overrides,
            brigade_source=self.options.brigade_source,
        )
        if (
            early_deals
            and self._mapping is not None
            and mapping.deal_select == (self._mapping.deal_select)
        ):
            deals = fetched["deals"]
        else:
            deals = (
                await self.client.list_many({"deals": self._deals_request(mapping, hint("deals"))})
            )["deals"]
        raw = RawCompanyData(
            deal_fields=dict(deal_fields),
            userfields=fetched["userfields"],
            categories=fetched["categories"],
            statuses=fetched["statuses"],
            companies=fetched["companies"],
            users=fetched["users"],
            departments=fetched["departments"],
            tasks=fetched["tasks"],
            events=fetched["events"],
            deals=deals,
            fetched_at=now,
        )
        self._previous = raw
        self._mapping = mapping
        self.last_stats = LoadStats(
            requests=self.client.stats.requests - requests_before,
            seconds=time.perf_counter() - started,
            rows={name: len(rows) for name, rows in {**fetched, "deals": deals}.items()},
        )
        log.info(
            "fetched the company from Bitrix24: %d HTTP requests, %.2f s, %d deals",
            self.last_stats.requests,
            self.last_stats.seconds,
            len(deals),
        )
        return raw

    @staticmethod
    def _deals_request(mapping: FieldMapping, expected: int | None) -> ListRequest:
        params: dict[str, Any] = {
            "filter": {"CATEGORY_ID": mapping.pipeline.id},
            "select": mapping.deal_select,
        }
        return ListRequest("crm.deal.list", params, expected)
