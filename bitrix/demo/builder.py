"""Assembles the demo company into a `PortalStore`, and keeps the ground truth for tests."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from faker import Faker

from bitrix.demo.dates import DemoCalendar, YearMonth
from bitrix.demo.fields import FieldSet, build_fields
from bitrix.demo.houses import (
    STREETS,
    Company,
    House,
    build_companies,
    company_record,
    plan_houses,
)
from bitrix.demo.layout import (
    ROLE_ADDRESS,
    ROLE_APARTMENTS,
    ROLE_BRIGADE,
    ROLE_ENTRANCES,
    ROLE_FLOORS,
    BrigadeSource,
    DemoLayout,
    schedule_role,
)
from bitrix.demo.people import BRIGADE_DEPT_IDS, BRIGADES, Org, build_org
from bitrix.demo.schedule import (
    NO_PLAN,
    CleaningType,
    MonthPlan,
    Periodicity,
    month_periodicity,
    plan_month,
    summarize,
    usual_periodicity,
)
from bitrix.demo.work import build_events, build_tasks
from bitrix.portal.store import PortalStore, Record

#: Deals of the sales pipeline (category 0): not houses, and their titles are not addresses.
_SALES = (
    ("Договор на уборку ЖК Солнечный", "PREPARATION", 85000),
    ("Коммерческое предложение для ТСЖ «Берёзка»", "NEW", 24000),
    ("Уборка офиса ООО «Калугаприбор»", "EXECUTING", 42000),
    ("Генеральная уборка после ремонта, ЖК «Европейский»", "WON", 67000),
    ("Тендер МУП «Управление домами» на следующий год", "PREPAYMENT_INVOICE", 1250000),
    ("Разовая мойка окон, бизнес-центр «Плаза»", "FINAL_INVOICE", 18500),
    ("Уборка подъездов ЖК «Молодёжный»", "NEW", 96000),
    ("Клининг школы (летний период)", "LOSE", 54000),
    ("Расширение договора с УК «Домовой»", "EXECUTING", 130000),
    ("Уборка паркинга ТЦ «Европа»", "WON", 38000),
)
_SALES_STAGES = (
    ("NEW", "Новая", None, "process", "Y"),
    ("PREPARATION", "Подготовка документов", None, "process", "N"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", None, "process", "N"),
    ("EXECUTING", "В работе", None, "process", "N"),
    ("FINAL_INVOICE", "Финальный счёт", None, "process", "N"),
    ("WON", "Сделка успешна", "S", "success", "Y"),
    ("LOSE", "Сделка провалена", "F", "failure", "Y"),
    ("APOLOGY", "Анализ причины провала", "F", "apology", "N"),
)
_HOUSE_STAGES = (
    ("NEW", "Новый дом", None, "process", "Y"),
    ("PREPARATION", "Подготовка договора", None, "process", "N"),
    ("EXECUTING", "Обслуживается", None, "process", "N"),
    ("WON", "Договор завершён", "S", "success", "Y"),
    ("LOSE", "Расторгнут", "F", "failure", "Y"),
    ("APOLOGY", "Отказ", "F", "apology", "N"),
)
#: An unused one-off-jobs pipeline: real portals have pipelines the bot must ignore.
_ONE_OFF_STAGES = (
    ("NEW", "Заявка", None, "process", "Y"),
    ("EXECUTING", "В работе", None, "process", "N"),
    ("WON", "Выполнено", "S", "success", "Y"),
    ("LOSE", "Отменено", "F", "failure", "Y"),
)
_STAGE_COLORS = {"process": "#39A8EF", "success": "#7BD500", "failure": "#FF5752",
                 "apology": "#FF5752"}  # fmt: skip
_COMMENTS = (
    "Ключи у старшей по дому, кв. 12",
    "Подвал не убирать, закрыт УК",
    "Старшая по дому — звонить после 10:00",
    "Мусоропровод заварен",
    "Домофон не работает, звонить в кв. 1",
)


@dataclass(frozen=True)
class DemoTruth:
    """What a test may know about a generated demo portal without asking the REST API.

    The domain layer must not read this; it discovers the same facts through the API.
    """

    layout: DemoLayout
    seed: int
    today: date
    timezone: str
    #: Last, this and next month: the months that have schedule fields.
    months: tuple[YearMonth, YearMonth, YearMonth]
    #: Field role → ``UF_CRM_*`` code (roles: "address", "apartments", "entrances", "floors",
    #: "brigade" in the enum layout, extras, and `schedule_role` keys like "date:2026-11:1").
    field_codes: Mapping[str, str]
    #: Schedule type field code → cleaning type → option id.
    type_options: Mapping[str, Mapping[CleaningType, str]]
    #: Brigade → option id of the «Бригада» enumeration (enum layout only).
    brigade_options: Mapping[int, str]
    active_house_ids: tuple[int, ...]
    closed_house_ids: tuple[int, ...]
    #: Deals of the sales pipeline.
    other_deal_ids: tuple[int, ...]
    #: Active house deal id → brigade number.
    house_brigade: Mapping[int, int]
    #: Active house deal id → month key ("YYYY-MM") → plan / periodicity.
    plans: Mapping[int, Mapping[str, MonthPlan]]
    periodicity: Mapping[int, Mapping[str, Periodicity]]
    brigade_department_ids: Mapping[int, int]
    brigade_head_ids: Mapping[int, int]
    #: Brigade → service user id (service-account layout only).
    service_account_ids: Mapping[int, int]
    #: The 82 active people (not service accounts) and the fired users.
    people_ids: tuple[int, ...]
    fired_ids: tuple[int, ...]
    #: Two people with the same surname in different brigades.
    namesake_ids: tuple[int, int]
    company_ids: tuple[int, ...]


@dataclass(frozen=True)
class DemoCompany:
    """A generated demo portal and its ground truth."""

    store: PortalStore
    truth: DemoTruth


def _missing(rng: random.Random) -> str | None:
    # Empty custom fields come back as null or as "" depending on how they were cleared.
    return "" if rng.random() < 0.35 else None


def _count_value(rng: random.Random, value: int, coverage: float) -> str | None:
    return str(value) if rng.random() < coverage else _missing(rng)


@dataclass
class _Deal:
    began: date
    house: House | None = None
    sale: int = -1


def build_demo(
    today: date,
    *,
    seed: int = 7,
    timezone: str = "Europe/Moscow",
    layout: DemoLayout | None = None,
) -> DemoCompany:
    """Generate the demo company deterministically from ``seed``, dated around ``today``.

    ``today`` is required: the caller's clock decides it (`bitrix.clock`), so a test pins its
    day and the product passes ``Clock.today()``. Each part of the company draws from its own
    random stream, so changing one part does not reshuffle the others.
    """
    tz = ZoneInfo(timezone)
    layout = layout or DemoLayout()
    clock = DemoCalendar(today, tz)
    this_month = YearMonth.of(today)
    months = (this_month.shift(-1), this_month, this_month.shift(1))

    def stream(name: str) -> random.Random:
        return random.Random(f"{seed}:{name}")

    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    org = build_org(
        stream("people"), fake, layout, clock, avoid_surnames=[s.name for s in STREETS.values()]
    )
    companies = build_companies(stream("companies"))
    houses = plan_houses(stream("houses"), clock)
    fields = build_fields(layout, months)

    # Deal ids follow creation order; houses and sales deals interleave over the years.
    rng = stream("deals")
    deals = [_Deal(h.began - timedelta(days=rng.randint(0, 12)), house=h) for h in houses]
    deals += [
        _Deal(today - timedelta(days=rng.randint(2, 160)), sale=i) for i in range(len(_SALES))
    ]
    deals.sort(key=lambda d: (d.began, d.house.title if d.house else str(d.sale)))
    ids = sorted(rng.sample(range(140, 14000), len(deals)))
    for deal, deal_id in zip(deals, ids, strict=True):
        if deal.house is not None:
            deal.house.id = deal_id

    plans = _plan_schedules(stream("schedule"), houses, months)
    responsible = _responsibles(stream("responsible"), layout, org, houses)

    managers = [p.id for p in org.by_position("Менеджер")]
    dispatchers = [p.id for p in org.by_position("Диспетчер")]
    store_deals: dict[int, Record] = {}
    uf_rng = stream("userfields")
    for deal, deal_id in zip(deals, ids, strict=True):
        if deal.house is not None:
            house = deal.house
            company = companies[house.company].id if house.company is not None else None
            record = _house_record(
                rng,
                clock,
                layout=layout,
                house=house,
                created=deal.began,
                responsible=responsible[house.id],
                company=company,
                managers=managers,
                dispatchers=dispatchers,
            )
            record.update(
                _house_userfields(
                    uf_rng, clock, layout=layout, fields=fields, house=house, plans=plans,
                    months=months,
                )
            )  # fmt: skip
        else:
            record = _sale_record(
                rng, clock, deal_id=deal_id, index=deal.sale, created=deal.began,
                managers=managers, companies=companies,
            )  # fmt: skip
            record.update(_empty_userfields(fields))
        store_deals[deal_id] = record

    company_rng = stream("company-records")
    store_companies = {
        c.id: company_record(c, company_rng, clock, managers, 1000 + 7 * index)
        for index, c in enumerate(companies)
    }
    active = [h for h in houses if h.active]
    tasks = build_tasks(stream("tasks"), clock, org, active, companies)
    events = build_events(stream("events"), clock, org, active, companies)

    store = PortalStore(
        deals=store_deals,
        deal_userfields=fields.userfields,
        categories=_categories(layout),
        statuses=_statuses(layout),
        companies=store_companies,
        users=org.users,
        departments=org.departments,
        tasks=tasks,
        events=events,
        webhook_user_id=org.director.id,
        timezone=timezone,
    )
    truth = DemoTruth(
        layout=layout,
        seed=seed,
        today=today,
        timezone=timezone,
        months=months,
        field_codes=dict(fields.codes),
        type_options={code: dict(options) for code, options in fields.type_options.items()},
        brigade_options=dict(fields.brigade_options),
        active_house_ids=tuple(sorted(h.id for h in active)),
        closed_house_ids=tuple(sorted(h.id for h in houses if not h.active)),
        other_deal_ids=tuple(
            sorted(i for d, i in zip(deals, ids, strict=True) if d.house is None)
        ),
        house_brigade={h.id: h.brigade for h in active},
        plans={h.id: {m.key: plans.get((h.id, m.key), NO_PLAN) for m in months} for h in active},
        periodicity={
            h.id: {m.key: summarize(plans.get((h.id, m.key), NO_PLAN)) for m in months}
            for h in active
        },
        brigade_department_ids=dict(BRIGADE_DEPT_IDS),
        brigade_head_ids={n: p.id for n, p in org.heads.items()},
        service_account_ids=dict(org.service_accounts),
        people_ids=tuple(sorted(p.id for p in org.people)),
        fired_ids=tuple(sorted(p.id for p in org.fired)),
        namesake_ids=(org.namesakes[0].id, org.namesakes[1].id),
        company_ids=tuple(sorted(c.id for c in companies)),
    )
    return DemoCompany(store, truth)


def build_demo_store(
    today: date,
    *,
    seed: int = 7,
    timezone: str = "Europe/Moscow",
    layout: DemoLayout | None = None,
) -> PortalStore:
    """The demo company's portal data (see `build_demo` for the ground truth as well)."""
    return build_demo(today, seed=seed, timezone=timezone, layout=layout).store


def _plan_schedules(
    rng: random.Random,
    houses: list[House],
    months: tuple[YearMonth, YearMonth, YearMonth],
) -> dict[tuple[int, str], MonthPlan]:
    usual = {h.id: usual_periodicity(rng) for h in houses}
    plans: dict[tuple[int, str], MonthPlan] = {}
    last, this, _next = months
    for month in months:
        kinds: dict[int, Periodicity] = {}
        late: dict[int, Periodicity] = {}
        for house in houses:
            if house.active:
                if house.stage == "NEW" or (house.stage == "PREPARATION" and month == last):
                    kinds[house.id] = Periodicity.NOT_SET
                else:
                    planned_ahead = month > this
                    kinds[house.id] = month_periodicity(
                        rng, usual[house.id], planned_ahead=planned_ahead
                    )
            elif month == last and house.closed and YearMonth.of(house.closed) == this:
                # Ended this month: last month's visits are still on the card.
                late[house.id] = month_periodicity(rng, usual[house.id], planned_ahead=False)
        routes = _routes([h for h in houses if h.id in kinds])
        for key, plan in plan_month(rng, month, kinds, routes).items():
            plans[(key, month.key)] = plan
        closed_routes = _routes([h for h in houses if h.id in late])
        for key, plan in plan_month(rng, month, late, closed_routes).items():
            plans[(key, month.key)] = plan
    return plans


def _routes(houses: list[House]) -> dict[int, list[int]]:
    routes: dict[int, list[int]] = {n: [] for n in BRIGADES}
    ordered = sorted(houses, key=lambda h: (h.street.key, h.base_number, h.number))
    for house in ordered:
        routes[house.brigade].append(house.id)
    return {n: keys for n, keys in routes.items() if keys}


def _responsibles(
    rng: random.Random, layout: DemoLayout, org: Org, houses: list[House]
) -> dict[int, int]:
    managers = org.by_position("Менеджер")
    result: dict[int, int] = {}
    for house in houses:
        if layout.brigade_source is BrigadeSource.SERVICE_ACCOUNT:
            result[house.id] = org.service_accounts[house.brigade]
        elif layout.brigade_source is BrigadeSource.RESPONSIBLE_DEPARTMENT:
            head = org.heads[house.brigade]
            crew = org.brigades[house.brigade]
            result[house.id] = (head if rng.random() < 0.7 else rng.choice(crew)).id
        else:
            # The brigade is in its own field; the responsible is the account manager.
            result[house.id] = rng.choice(managers).id
    return result


def _house_record(
    rng: random.Random,
    clock: DemoCalendar,
    *,
    layout: DemoLayout,
    house: House,
    created: date,
    responsible: int,
    company: int | None,
    managers: list[int],
    dispatchers: list[int],
) -> Record:
    # No УК is written either way on real portals: "0" after clearing in the UI, null when
    # the deal was imported without one.
    company_id = str(company) if company is not None else ("0" if house.id % 2 else None)
    creator = str(rng.choice(managers))
    modifier = str(rng.choice(dispatchers + managers))
    if house.active:
        modified = clock.today - timedelta(days=rng.randint(0, 27))
        # Bitrix fills CLOSEDATE with the start date + 7 days unless someone changes it.
        closedate = house.began + timedelta(days=7)
    else:
        modified = house.closed or clock.today
        closedate = modified
    moved = modified if not house.active else max(house.began, created)
    price = round(house.entrances * house.floors * 95, -2) or 1500
    semantic = "P" if house.active else "F"
    return {
        "ID": str(house.id),
        "TITLE": house.title,
        "TYPE_ID": "SERVICE",
        "STAGE_ID": f"C{layout.category_id}:{house.stage}",
        "PROBABILITY": None,
        "CURRENCY_ID": "RUB",
        "OPPORTUNITY": f"{price}.00",
        "IS_MANUAL_OPPORTUNITY": "Y",
        "TAX_VALUE": "0.00",
        "LEAD_ID": None,
        "COMPANY_ID": company_id,
        "CONTACT_ID": None,
        "QUOTE_ID": None,
        "BEGINDATE": clock.crm_date(house.began),
        "CLOSEDATE": clock.crm_date(closedate),
        "ASSIGNED_BY_ID": str(responsible),
        "CREATED_BY_ID": creator,
        "MODIFY_BY_ID": modifier,
        "DATE_CREATE": clock.iso(
            created, rng.randint(9, 18), rng.randint(0, 59), rng.randint(0, 59)
        ),
        "DATE_MODIFY": clock.iso(
            modified, rng.randint(9, 18), rng.randint(0, 59), rng.randint(0, 59)
        ),
        "OPENED": "Y",
        "CLOSED": "N" if house.active else "Y",
        "COMMENTS": None,
        "ADDITIONAL_INFO": None,
        "LOCATION_ID": None,
        "CATEGORY_ID": str(layout.category_id),
        "STAGE_SEMANTIC_ID": semantic,
        "IS_NEW": "Y" if house.stage == "NEW" else "N",
        "IS_RECURRING": "N",
        "IS_RETURN_CUSTOMER": "N",
        "IS_REPEATED_APPROACH": "N",
        "SOURCE_ID": rng.choice(("CALL", "RECOMMENDATION", "OTHER", None)),
        "SOURCE_DESCRIPTION": None,
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "MOVED_BY_ID": creator,
        "MOVED_TIME": clock.iso(moved, 10, 0, 0),
        "LAST_ACTIVITY_TIME": clock.iso(modified, 12, 0, 0),
        "LAST_ACTIVITY_BY": modifier,
        "UTM_SOURCE": None,
        "UTM_MEDIUM": None,
        "UTM_CAMPAIGN": None,
        "UTM_CONTENT": None,
        "UTM_TERM": None,
    }


def _house_userfields(
    rng: random.Random,
    clock: DemoCalendar,
    *,
    layout: DemoLayout,
    fields: FieldSet,
    house: House,
    plans: dict[tuple[int, str], MonthPlan],
    months: tuple[YearMonth, YearMonth, YearMonth],
) -> Record:
    codes = fields.codes
    values: Record = {}
    roll = rng.random()
    address = house.full_address(rng.randrange(3))
    if roll < 0.50:
        values[codes[ROLE_ADDRESS]] = address
    elif roll < 0.80:
        values[codes[ROLE_ADDRESS]] = f"{address}|{house.latitude};{house.longitude}"
    else:
        values[codes[ROLE_ADDRESS]] = _missing(rng)
    values[codes[ROLE_APARTMENTS]] = _count_value(rng, house.apartments, 0.96)
    values[codes[ROLE_ENTRANCES]] = _count_value(rng, house.entrances, 0.93)
    values[codes[ROLE_FLOORS]] = _count_value(rng, house.floors, 0.91)
    values[codes["comment"]] = rng.choice(_COMMENTS) if rng.random() < 0.15 else None
    values[codes["intercom"]] = (
        f"{rng.randint(1, 99)}К{rng.randint(1000, 9999)}" if rng.random() < 0.4 else _missing(rng)
    )
    values[codes["house_type"]] = (
        rng.choice(fields.house_type_options) if rng.random() < 0.6 else None
    )
    price = round(house.entrances * house.floors * 95, -2) or 1500
    values[codes["contract_price"]] = f"{price}|RUB" if rng.random() < 0.5 else ""
    values[codes["elevators"]] = (
        str(house.entrances) if house.floors >= 9 and rng.random() < 0.5 else None
    )
    values[codes["last_clean"]] = (
        clock.uf_date(clock.today - timedelta(days=rng.randint(200, 700)))
        if rng.random() < 0.05
        else None
    )
    if layout.brigade_source is BrigadeSource.ENUM_FIELD:
        values[codes[ROLE_BRIGADE]] = fields.brigade_options[house.brigade]
    for month in months:
        plan = plans.get((house.id, month.key), NO_PLAN)
        for period, (kind, dates) in enumerate(plan.periods, start=1):
            date_code = codes[schedule_role("date", month, period)]
            type_code = codes[schedule_role("type", month, period)]
            values[date_code] = [clock.uf_date(d) for d in dates]
            values[type_code] = (
                fields.type_options[type_code][kind] if kind is not None else _missing(rng)
            )
    # Bitrix lists user fields in their definition order.
    return {r["FIELD_NAME"]: values[r["FIELD_NAME"]] for r in fields.userfields}


def _empty_userfields(fields: FieldSet) -> Record:
    return {
        record["FIELD_NAME"]: [] if record["MULTIPLE"] == "Y" else None
        for record in fields.userfields
    }


def _sale_record(
    rng: random.Random,
    clock: DemoCalendar,
    *,
    deal_id: int,
    index: int,
    created: date,
    managers: list[int],
    companies: list[Company],
) -> Record:
    title, stage, amount = _SALES[index]
    manager = str(rng.choice(managers))
    semantic = {"WON": "S", "LOSE": "F", "APOLOGY": "F"}.get(stage, "P")
    company = companies[(index * 7) % len(companies)]
    company_id = str(company.id) if index % 3 else "0"
    modified = min(created + timedelta(days=rng.randint(0, 30)), clock.today)
    return {
        "ID": str(deal_id),
        "TITLE": title,
        "TYPE_ID": "SALE",
        "STAGE_ID": stage,
        "PROBABILITY": None,
        "CURRENCY_ID": "RUB",
        "OPPORTUNITY": f"{amount}.00",
        "IS_MANUAL_OPPORTUNITY": "Y",
        "TAX_VALUE": "0.00",
        "LEAD_ID": None,
        "COMPANY_ID": company_id,
        "CONTACT_ID": None,
        "QUOTE_ID": None,
        "BEGINDATE": clock.crm_date(created),
        "CLOSEDATE": clock.crm_date(created + timedelta(days=30)),
        "ASSIGNED_BY_ID": manager,
        "CREATED_BY_ID": manager,
        "MODIFY_BY_ID": manager,
        "DATE_CREATE": clock.iso(created, 11, rng.randint(0, 59), rng.randint(0, 59)),
        "DATE_MODIFY": clock.iso(modified, 15, rng.randint(0, 59), rng.randint(0, 59)),
        "OPENED": "Y",
        "CLOSED": "Y" if semantic != "P" else "N",
        "COMMENTS": "",
        "ADDITIONAL_INFO": None,
        "LOCATION_ID": None,
        "CATEGORY_ID": "0",
        "STAGE_SEMANTIC_ID": semantic,
        "IS_NEW": "Y" if stage == "NEW" else "N",
        "IS_RECURRING": "N",
        "IS_RETURN_CUSTOMER": "N",
        "IS_REPEATED_APPROACH": "N",
        "SOURCE_ID": rng.choice(("WEB", "CALL", "EMAIL")),
        "SOURCE_DESCRIPTION": None,
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "MOVED_BY_ID": manager,
        "MOVED_TIME": clock.iso(modified, 15, 0, 0),
        "LAST_ACTIVITY_TIME": clock.iso(modified, 15, 0, 0),
        "LAST_ACTIVITY_BY": manager,
        "UTM_SOURCE": None,
        "UTM_MEDIUM": None,
        "UTM_CAMPAIGN": None,
        "UTM_CONTENT": None,
        "UTM_TERM": None,
    }


def _one_off_category_id(layout: DemoLayout) -> int:
    return 36 if layout.category_id != 36 else 38


def _categories(layout: DemoLayout) -> list[Record]:
    return [
        {"id": 0, "name": "Продажи", "sort": 100, "entityTypeId": 2, "isDefault": "Y"},
        {"id": layout.category_id, "name": layout.category_name, "sort": 200,
         "entityTypeId": 2, "isDefault": "N", "originId": "", "originatorId": ""},
        {"id": _one_off_category_id(layout), "name": "Разовые работы", "sort": 300,
         "entityTypeId": 2, "isDefault": "N", "originId": "", "originatorId": ""},
    ]  # fmt: skip


def _statuses(layout: DemoLayout) -> list[Record]:
    statuses: list[Record] = []
    pipelines: list[tuple[int, tuple[tuple[str, str, str | None, str, str], ...]]] = [
        (0, _SALES_STAGES),
        (layout.category_id, _HOUSE_STAGES),
        (_one_off_category_id(layout), _ONE_OFF_STAGES),
    ]
    status_id = 40
    for category, stages in pipelines:
        for sort, (code, name, semantics, extra, system) in enumerate(stages, start=1):
            status_id += 2
            color = _STAGE_COLORS[extra]
            statuses.append(
                {
                    "ID": str(status_id),
                    "ENTITY_ID": f"DEAL_STAGE_{category}" if category else "DEAL_STAGE",
                    "STATUS_ID": f"C{category}:{code}" if category else code,
                    "NAME": name,
                    "NAME_INIT": name if system == "Y" else "",
                    "SORT": str(10 * sort),
                    "SYSTEM": system,
                    "CATEGORY_ID": str(category) if category else None,
                    "COLOR": color,
                    "SEMANTICS": semantics,
                    "EXTRA": {"SEMANTICS": extra, "COLOR": color},
                }
            )
    return statuses
