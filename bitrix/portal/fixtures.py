"""Small, realistic datasets for the emulated portal (tests and examples).

- `sample_store`: a cleaning company in miniature — a houses pipeline (category 34) and the
  default sales funnel, 12 deals with user fields (address, counts, a cleaning-type enumeration,
  a multiple date field), 3 management companies, 5 departments (one without a head),
  11 users (a fired one, one without ``PERSONAL_MOBILE``, two brigade service accounts),
  6 tasks around today and 5 calendar events.
- `deals_store`, `users_store`, `tasks_store`: the sample company with exactly ``n`` deals,
  users or tasks, for pagination tests.

Records have the exact REST output shapes documented in `bitrix.portal.store`. Dates are relative
to ``today`` (default: today in the store's time zone). The full demo company lives in
`bitrix.demo`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bitrix.portal.query import iso
from bitrix.portal.store import PortalStore, Record

HOUSES_CATEGORY_ID = 34
SALES_CATEGORY_ID = 0

#: User-field codes of the sample portal (random-looking, as on a real portal).
UF_ADDRESS = "UF_CRM_1594289616952"
UF_APARTMENTS = "UF_CRM_1607938113"
UF_ENTRANCES = "UF_CRM_1607938127"
UF_FLOORS = "UF_CRM_1607938140"
UF_CLEAN_DATES = "UF_CRM_1698765432101"
UF_CLEAN_TYPE = "UF_CRM_1698765432115"

#: Option IDs of the cleaning-type enumeration (`UF_CLEAN_TYPE`).
CLEAN_WET_ALL = "2101"
CLEAN_SWEEP_ALL = "2102"
CLEAN_WET_FIRST = "2103"

_STREETS = (
    "Пролетарская",
    "Никитиной",
    "Московская",
    "Билибина",
    "Суворова",
    "Зеленая",
    "Телевизионная",
    "Карачевская",
    "Майская",
    "Чижевского",
)


def _at(day: date, tz: tzinfo, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def deal_record(
    deal_id: int,
    title: str,
    *,
    category_id: int,
    stage_id: str,
    assigned_by_id: int,
    created: datetime,
    company_id: int | None = None,
    semantic: str = "P",
    user_fields: dict[str, Any] | None = None,
) -> Record:
    """A deal exactly as `crm.deal.get` returns it: strings, ``None`` for empty references."""
    stamp = iso(created)
    record: Record = {
        "ID": str(deal_id),
        "TITLE": title,
        "TYPE_ID": "SERVICE" if category_id == HOUSES_CATEGORY_ID else "SALE",
        "STAGE_ID": stage_id,
        "PROBABILITY": None,
        "CURRENCY_ID": "RUB",
        "OPPORTUNITY": "0.00",
        "IS_MANUAL_OPPORTUNITY": "N",
        "TAX_VALUE": "0.00",
        "LEAD_ID": None,
        "COMPANY_ID": str(company_id) if company_id is not None else "0",
        "CONTACT_ID": None,
        "QUOTE_ID": None,
        "BEGINDATE": iso(_at(created.date(), created.tzinfo or ZoneInfo("UTC"))),
        "CLOSEDATE": iso(
            _at(created.date() + timedelta(days=365), created.tzinfo or ZoneInfo("UTC"))
        ),
        "ASSIGNED_BY_ID": str(assigned_by_id),
        "CREATED_BY_ID": "1",
        "MODIFY_BY_ID": "1",
        "DATE_CREATE": stamp,
        "DATE_MODIFY": stamp,
        "OPENED": "Y",
        "CLOSED": "N" if semantic == "P" else "Y",
        "COMMENTS": "",
        "ADDITIONAL_INFO": None,
        "LOCATION_ID": None,
        "CATEGORY_ID": str(category_id),
        "STAGE_SEMANTIC_ID": semantic,
        "IS_NEW": "N",
        "IS_RECURRING": "N",
        "IS_RETURN_CUSTOMER": "N",
        "IS_REPEATED_APPROACH": "N",
        "SOURCE_ID": None,
        "SOURCE_DESCRIPTION": None,
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "MOVED_BY_ID": "1",
        "MOVED_TIME": stamp,
        "LAST_ACTIVITY_TIME": stamp,
        "LAST_ACTIVITY_BY": "1",
        "UTM_SOURCE": None,
        "UTM_MEDIUM": None,
        "UTM_CAMPAIGN": None,
        "UTM_CONTENT": None,
        "UTM_TERM": None,
    }
    record.update(user_fields or {})
    return record


def _userfields() -> list[Record]:
    def field(
        field_id: int,
        name: str,
        user_type: str,
        sort: int,
        labels: tuple[str, str],
        *,
        multiple: bool = False,
        settings: dict[str, Any] | None = None,
        options: list[Record] | None = None,
    ) -> Record:
        ru, en = labels
        record: Record = {
            "ID": str(field_id),
            "ENTITY_ID": "CRM_DEAL",
            "FIELD_NAME": name,
            "USER_TYPE_ID": user_type,
            "XML_ID": None,
            "SORT": str(sort),
            "MULTIPLE": "Y" if multiple else "N",
            "MANDATORY": "N",
            "SHOW_FILTER": "E",
            "SHOW_IN_LIST": "Y",
            "EDIT_IN_LIST": "Y",
            "IS_SEARCHABLE": "N",
            "SETTINGS": settings or {},
            "EDIT_FORM_LABEL": {"ru": ru, "en": en},
            "LIST_COLUMN_LABEL": {"ru": ru, "en": en},
            "LIST_FILTER_LABEL": {"ru": ru, "en": en},
            "ERROR_MESSAGE": {"ru": None, "en": None},
            "HELP_MESSAGE": {"ru": None, "en": None},
        }
        if options is not None:
            record["LIST"] = options
        return record

    text = {
        "SIZE": 20,
        "ROWS": 1,
        "REGEXP": "",
        "MIN_LENGTH": 0,
        "MAX_LENGTH": 0,
        "DEFAULT_VALUE": "",
    }
    return [
        field(101, UF_ADDRESS, "string", 100, ("Адрес", "Address"), settings=text),
        field(
            102, UF_APARTMENTS, "string", 110, ("Количество квартир", "Apartments"), settings=text
        ),
        field(
            103, UF_ENTRANCES, "string", 120, ("Количество подъездов", "Entrances"), settings=text
        ),
        field(104, UF_FLOORS, "string", 130, ("Количество этажей", "Floors"), settings=text),
        field(
            105,
            UF_CLEAN_DATES,
            "date",
            140,
            ("Дата уборки 1", "Cleaning date 1"),
            multiple=True,
            settings={"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
        ),
        field(
            106,
            UF_CLEAN_TYPE,
            "enumeration",
            150,
            ("Тип уборки 1", "Cleaning type 1"),
            settings={
                "DISPLAY": "LIST",
                "LIST_HEIGHT": 1,
                "CAPTION_NO_VALUE": "",
                "SHOW_NO_VALUE": "Y",
            },
            options=[
                {
                    "ID": CLEAN_WET_ALL,
                    "SORT": "10",
                    "VALUE": "Влажная уборка лестничных площадок всех этажей",
                    "DEF": "N",
                    "XML_ID": "a3f1c2d4e5b6",
                },
                {
                    "ID": CLEAN_SWEEP_ALL,
                    "SORT": "20",
                    "VALUE": "Подметание лестничных площадок и маршей всех этажей",
                    "DEF": "N",
                    "XML_ID": "b7e8f9a0c1d2",
                },
                {
                    "ID": CLEAN_WET_FIRST,
                    "SORT": "30",
                    "VALUE": "Влажная уборка 1 этажа",
                    "DEF": "N",
                    "XML_ID": "c3d4e5f6a7b8",
                },
            ],
        ),
    ]


def _categories() -> list[Record]:
    return [
        {"id": 0, "name": "Продажи", "sort": 100, "entityTypeId": 2, "isDefault": "Y"},
        {
            "id": HOUSES_CATEGORY_ID,
            "name": "Уборка подъездов",
            "sort": 200,
            "entityTypeId": 2,
            "isDefault": "N",
            "originId": "",
            "originatorId": "",
        },
    ]


def _statuses() -> list[Record]:
    rows: list[Record] = []

    def stage(
        entity: str,
        status: str,
        name: str,
        sort: int,
        semantics: str | None,
        *,
        category: str | None,
    ) -> None:
        extra = {None: "process", "S": "success", "F": "failure"}[semantics]
        color = {None: "#39A8EF", "S": "#7BD500", "F": "#FF5752"}[semantics]
        rows.append(
            {
                "ID": str(len(rows) + 1),
                "ENTITY_ID": entity,
                "STATUS_ID": status,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str(sort),
                "SYSTEM": "Y" if semantics or sort == 10 else "N",
                "CATEGORY_ID": category,
                "COLOR": color,
                "SEMANTICS": semantics,
                "EXTRA": {"SEMANTICS": extra, "COLOR": color},
            }
        )

    stage("DEAL_STAGE", "NEW", "Новая", 10, None, category=None)
    stage("DEAL_STAGE", "PREPARATION", "Подготовка документов", 20, None, category=None)
    stage("DEAL_STAGE", "WON", "Сделка успешна", 60, "S", category=None)
    stage("DEAL_STAGE", "LOSE", "Сделка провалена", 70, "F", category=None)
    entity = f"DEAL_STAGE_{HOUSES_CATEGORY_ID}"
    prefix = f"C{HOUSES_CATEGORY_ID}:"
    houses = str(HOUSES_CATEGORY_ID)
    stage(entity, prefix + "NEW", "Новый дом", 10, None, category=houses)
    stage(entity, prefix + "EXECUTING", "Обслуживается", 20, None, category=houses)
    stage(entity, prefix + "WON", "Договор завершён", 60, "S", category=houses)
    stage(entity, prefix + "LOSE", "Договор расторгнут", 70, "F", category=houses)
    stage(entity, prefix + "APOLOGY", "Отказ", 80, "F", category=houses)
    return rows


def _companies() -> dict[int, Record]:
    def company(company_id: int, title: str, phone: str) -> Record:
        return {
            "ID": str(company_id),
            "TITLE": title,
            "COMPANY_TYPE": "PARTNER",
            "INDUSTRY": "OTHER",
            "ASSIGNED_BY_ID": "2",
            "OPENED": "Y",
            "DATE_CREATE": "2021-03-01T10:00:00+03:00",
            "DATE_MODIFY": "2024-05-14T12:30:00+03:00",
            "HAS_PHONE": "Y",
            "HAS_EMAIL": "N",
            "PHONE": [
                {
                    "ID": str(800 + company_id),
                    "VALUE_TYPE": "WORK",
                    "VALUE": phone,
                    "TYPE_ID": "PHONE",
                }
            ],
        }

    return {
        1: company(1, "ООО УК «Жилкомсервис»", "+7 4842 55-12-01"),
        2: company(2, "ООО «УК Домовой»", "+7 4842 57-30-44"),
        3: company(3, "ТСЖ «Московская 12»", "+7 910 600-12-12"),
    }


def _departments() -> dict[int, Record]:
    return {
        1: {"ID": "1", "NAME": "ООО «Чистый подъезд»", "SORT": 500, "UF_HEAD": "1"},
        2: {"ID": "2", "NAME": "Офис", "SORT": 100, "PARENT": "1", "UF_HEAD": "2"},
        3: {"ID": "3", "NAME": "Бригада 1", "SORT": 200, "PARENT": "1", "UF_HEAD": "5"},
        4: {"ID": "4", "NAME": "Бригада 2", "SORT": 300, "PARENT": "1", "UF_HEAD": "8"},
        5: {"ID": "5", "NAME": "Бригада 3", "SORT": 400, "PARENT": "1"},
    }


def _user(
    user_id: int,
    name: str,
    last_name: str,
    position: str,
    department: int,
    *,
    mobile: str | None = None,
    email: str | None = None,
    active: bool = True,
    second_name: str | None = None,
    gender: str = "",
) -> Record:
    record: Record = {
        "ID": str(user_id),
        "XML_ID": f"{user_id:08d}",
        "ACTIVE": active,
        "NAME": name,
        "LAST_NAME": last_name,
    }
    if second_name is not None:
        record["SECOND_NAME"] = second_name
    if email is not None:
        record["EMAIL"] = email
    record.update(
        {
            "LAST_LOGIN": "2024-09-02T08:15:00+03:00",
            "DATE_REGISTER": "2021-03-01T00:00:00+03:00",
            "IS_ONLINE": "N",
            "TIME_ZONE_OFFSET": "0",
            "TIMESTAMP_X": "02.09.2024 08:15:00",
            "LAST_ACTIVITY_DATE": "2024-09-02 08:15:00",
            "PERSONAL_GENDER": gender,
            "PERSONAL_BIRTHDAY": "",
        }
    )
    if mobile is not None:
        record["PERSONAL_MOBILE"] = mobile
    record["WORK_POSITION"] = position
    record["UF_EMPLOYMENT_DATE"] = ""
    record["UF_DEPARTMENT"] = [department]
    record["USER_TYPE"] = "employee"
    return record


def _users() -> dict[int, Record]:
    users = [
        _user(1, "Сергей", "Петров", "Директор", 1, mobile="+7 910 100-00-01",
              email="director@chisty-podezd.ru", second_name="Николаевич", gender="M"),
        _user(2, "Ольга", "Иванова", "Менеджер", 2, mobile="+7 910 100-00-02",
              email="manager@chisty-podezd.ru", second_name="Викторовна", gender="F"),
        _user(3, "Анна", "Смирнова", "Диспетчер", 2, email="dispatch@chisty-podezd.ru",
              gender="F"),
        _user(4, "1", "бригада", "", 3),
        _user(5, "Иван", "Кузнецов", "Бригадир", 3, mobile="+7 910 100-00-05", gender="M"),
        _user(6, "Мария", "Сидоренко", "Уборщица", 3, mobile="+7 910 100-00-06", gender="F"),
        _user(7, "2 бригада", "", "", 4),
        _user(8, "Павел", "Иванов", "Бригадир", 4, mobile="+7 910 100-00-08", gender="M"),
        _user(9, "Андрей", "Шевчук", "Уборщик", 4, mobile="+7 910 100-00-09", gender="M"),
        _user(10, "Елена", "Попова", "Уборщица", 3, mobile="+7 910 100-00-10", active=False,
              gender="F"),
        _user(11, "Наталья", "Петрова", "Уборщица", 5, mobile="+7 910 100-00-11", gender="F"),
    ]  # fmt: skip
    return {int(u["ID"]): u for u in users}


def _houses(today: date, tz: ZoneInfo) -> dict[int, Record]:
    created = _at(today - timedelta(days=400), tz, 10)

    def dates(*days: int) -> list[str]:
        return [iso(_at(today.replace(day=1) + timedelta(days=d - 1), tz)) for d in days]

    def house(
        deal_id: int,
        title: str,
        address: str,
        counts: tuple[str | None, str | None, str | None],
        *,
        brigade_user: int,
        company: int | None,
        stage: str = "EXECUTING",
        semantic: str = "P",
        clean_dates: list[str] | None = None,
        clean_type: str | None = CLEAN_WET_ALL,
    ) -> Record:
        apartments, entrances, floors = counts
        return deal_record(
            deal_id,
            title,
            category_id=HOUSES_CATEGORY_ID,
            stage_id=f"C{HOUSES_CATEGORY_ID}:{stage}",
            assigned_by_id=brigade_user,
            created=created,
            company_id=company,
            semantic=semantic,
            user_fields={
                UF_ADDRESS: address,
                UF_APARTMENTS: apartments,
                UF_ENTRANCES: entrances,
                UF_FLOORS: floors,
                UF_CLEAN_DATES: clean_dates if clean_dates is not None else [],
                UF_CLEAN_TYPE: clean_type,
            },
        )

    houses = [
        house(1, "Пролетарская 112/1", "г. Калуга, ул. Пролетарская, д. 112/1|54.5293;36.2754",
              ("120", "4", "9"), brigade_user=4, company=1, clean_dates=dates(3, 17)),
        house(2, "Никитиной 15к2", "г. Калуга, ул. Никитиной, д. 15 к. 2", ("72", "2", "9"),
              brigade_user=4, company=2, clean_dates=dates(5, 12, 19, 26)),
        house(3, "Московская 12", "г. Калуга, ул. Московская, д. 12", ("45", "3", "5"),
              brigade_user=4, company=3, clean_dates=dates(10), clean_type=CLEAN_SWEEP_ALL),
        house(4, "Билибина 4а", "", ("", "1", "5"), brigade_user=7, company=None,
              clean_dates=dates(8, 22), clean_type=CLEAN_WET_FIRST),
        house(5, "Чижевского 18", "г. Калуга, ул. Чижевского, д. 18", ("160", "5", "10"),
              brigade_user=7, company=1, clean_dates=dates(4, 18)),
        house(6, "Кондрово, Пушкина 78", "Калужская обл., г. Кондрово, ул. Пушкина, д. 78",
              (None, "2", "3"), brigade_user=7, company=None, clean_dates=[], clean_type=None),
        house(7, "Суворова 21", "г. Калуга, ул. Суворова, д. 21", ("36", "3", "4"),
              brigade_user=7, company=2, stage="NEW", clean_dates=[], clean_type=None),
        house(8, "Зеленая 9", "г. Калуга, ул. Зеленая, д. 9", ("30", "2", "5"),
              brigade_user=4, company=None, stage="LOSE", semantic="F", clean_dates=[],
              clean_type=None),
        house(9, "Ленина 5", "г. Калуга, ул. Ленина, д. 5", ("54", "3", "5"), brigade_user=4,
              company=2, stage="APOLOGY", semantic="F", clean_dates=[], clean_type=None),
    ]  # fmt: skip
    sales = [
        deal_record(10, "Договор на уборку ЖК Солнечный", category_id=SALES_CATEGORY_ID,
                    stage_id="NEW", assigned_by_id=2, created=created, company_id=1),
        deal_record(11, "Коммерческое предложение ТСЖ «Заречье»", category_id=SALES_CATEGORY_ID,
                    stage_id="PREPARATION", assigned_by_id=2, created=created),
        deal_record(12, "Разовая уборка офиса на Кирова", category_id=SALES_CATEGORY_ID,
                    stage_id="WON", assigned_by_id=2, created=created, semantic="S"),
    ]  # fmt: skip
    for deal in sales:
        for name in (UF_ADDRESS, UF_APARTMENTS, UF_ENTRANCES, UF_FLOORS, UF_CLEAN_TYPE):
            deal[name] = None
        deal[UF_CLEAN_DATES] = []
    return {int(d["ID"]): d for d in [*houses, *sales]}


def _task(
    task_id: int,
    title: str,
    *,
    status: str,
    responsible: int,
    created: datetime,
    deadline: datetime | None,
    closed: datetime | None = None,
    links: list[str] | None = None,
    priority: str = "1",
) -> Record:
    return {
        "id": str(task_id),
        "title": title,
        "description": "",
        "status": status,
        "priority": priority,
        "deadline": iso(deadline) if deadline else None,
        "createdDate": iso(created),
        "closedDate": iso(closed) if closed else None,
        "changedDate": iso(closed or created),
        "responsibleId": str(responsible),
        "createdBy": "2",
        "groupId": "0",
        "ufCrmTask": list(links or []),
    }


def _tasks(today: date, tz: ZoneInfo) -> dict[int, Record]:
    created = _at(today - timedelta(days=7), tz, 9)
    tasks = [
        _task(1, "Проверить качество уборки: Пролетарская 112/1", status="2", responsible=5,
              created=created, deadline=_at(today - timedelta(days=1), tz, 18), links=["D_1"]),
        _task(2, "Закупить моющие средства", status="5", responsible=3, created=created,
              deadline=_at(today - timedelta(days=2), tz, 18),
              closed=_at(today - timedelta(days=3), tz, 16)),
        _task(3, "Заменить коврик у подъезда: Никитиной 15к2", status="3", responsible=8,
              created=created, deadline=_at(today, tz, 17), links=["D_2"], priority="2"),
        _task(4, "Согласовать график с УК «Жилкомсервис»", status="2", responsible=2,
              created=created, deadline=_at(today + timedelta(days=1), tz, 12)),
        _task(5, "Вывезти мусор после ремонта: Московская 12", status="2", responsible=9,
              created=created, deadline=_at(today + timedelta(days=6), tz, 18), links=["D_3"]),
        _task(6, "Подготовить отчёт за месяц", status="2", responsible=3, created=created,
              deadline=None),
    ]  # fmt: skip
    return {int(t["id"]): t for t in tasks}


def _event(
    event_id: int,
    name: str,
    *,
    cal_type: str,
    owner: int,
    begins: datetime,
    ends: datetime,
    all_day: bool = False,
    location: str = "",
    section: int = 1,
    crm: list[str] | None = None,
) -> Record:
    offset = begins.utcoffset()
    offset_seconds = int(offset.total_seconds()) if offset else 0
    fmt = "%d.%m.%Y" if all_day else "%d.%m.%Y %H:%M:%S"
    return {
        "ID": str(event_id),
        "PARENT_ID": str(event_id),
        "DELETED": "N",
        "CAL_TYPE": cal_type,
        "OWNER_ID": str(owner),
        "NAME": name,
        "DATE_FROM": begins.strftime(fmt),
        "DATE_TO": ends.strftime(fmt),
        "TZ_FROM": str(begins.tzinfo),
        "TZ_TO": str(ends.tzinfo),
        "TZ_OFFSET_FROM": str(offset_seconds),
        "TZ_OFFSET_TO": str(offset_seconds),
        "DATE_FROM_TS_UTC": str(int(begins.timestamp())),
        "DATE_TO_TS_UTC": str(int(ends.timestamp())),
        "DT_SKIP_TIME": "Y" if all_day else "N",
        "DT_LENGTH": int((ends - begins).total_seconds()) + (86400 if all_day else 0),
        "CREATED_BY": str(owner or 1),
        "DESCRIPTION": "",
        "LOCATION": location,
        "COLOR": "#9dcf00",
        "IS_MEETING": False,
        "MEETING_STATUS": "H",
        "SECTION_ID": str(section),
        "RRULE": "",
        "EXDATE": "",
        "REMIND": [{"type": "min", "count": 15}],
        "UF_CRM_CAL_EVENT": list(crm) if crm else False,
    }


def _events(today: date, tz: ZoneInfo) -> list[Record]:
    return [
        _event(1, "Планёрка с бригадирами", cal_type="user", owner=1,
               begins=_at(today, tz, 9), ends=_at(today, tz, 10), location="Офис"),
        _event(2, "Встреча с УК «Жилкомсервис»", cal_type="user", owner=1,
               begins=_at(today + timedelta(days=1), tz, 14),
               ends=_at(today + timedelta(days=1), tz, 15), crm=["CO_1"]),
        _event(3, "Приёмка дома: Чижевского 18", cal_type="user", owner=5,
               begins=_at(today + timedelta(days=2), tz, 11),
               ends=_at(today + timedelta(days=2), tz, 12), section=2, crm=["D_5"]),
        _event(4, "Санитарный день", cal_type="company_calendar", owner=0,
               begins=_at(today + timedelta(days=3), tz), ends=_at(today + timedelta(days=3), tz),
               all_day=True, section=3),
        _event(5, "Инструктаж по технике безопасности", cal_type="user", owner=1,
               begins=_at(today - timedelta(days=10), tz, 11),
               ends=_at(today - timedelta(days=10), tz, 12)),
    ]  # fmt: skip


def sample_store(today: date, *, timezone: str = "Europe/Moscow") -> PortalStore:
    """The small sample company dated around ``today``; a fresh store on every call."""
    tz = ZoneInfo(timezone)
    day = today
    return PortalStore(
        deals=_houses(day, tz),
        deal_userfields=_userfields(),
        categories=_categories(),
        statuses=_statuses(),
        companies=_companies(),
        users=_users(),
        departments=_departments(),
        tasks=_tasks(day, tz),
        events=_events(day, tz),
        webhook_user_id=1,
        timezone=timezone,
    )


def deals_store(
    n: int,
    *,
    category_id: int = HOUSES_CATEGORY_ID,
    today: date,
    timezone: str = "Europe/Moscow",
) -> PortalStore:
    """The sample company with exactly ``n`` deals (IDs 1..n) in ``category_id``."""
    store = sample_store(today, timezone=timezone)
    tz = ZoneInfo(timezone)
    created = _at(today - timedelta(days=30), tz, 10)
    stage = f"C{category_id}:EXECUTING" if category_id else "NEW"
    store.deals = {
        i: deal_record(
            i,
            f"{_STREETS[i % len(_STREETS)]} {i}",
            category_id=category_id,
            stage_id=stage,
            assigned_by_id=4 if i % 2 else 7,
            created=created + timedelta(minutes=i),
            company_id=(i % 3) + 1 if i % 5 else None,
            user_fields={
                UF_ADDRESS: f"г. Калуга, ул. {_STREETS[i % len(_STREETS)]}, д. {i}",
                UF_APARTMENTS: str(12 + i % 90),
                UF_ENTRANCES: str(1 + i % 6),
                UF_FLOORS: str(2 + i % 14),
                UF_CLEAN_DATES: [],
                UF_CLEAN_TYPE: CLEAN_WET_ALL,
            },
        )
        for i in range(1, n + 1)
    }
    return store


def users_store(n: int, *, today: date, timezone: str = "Europe/Moscow") -> PortalStore:
    """The sample company with exactly ``n`` users (IDs 1..n; user 1 is the webhook owner)."""
    store = sample_store(today, timezone=timezone)
    owner = store.users[1]
    users = {1: owner} if n >= 1 else {}
    for i in range(2, n + 1):
        mobile = f"+7 910 2{i % 100:02d}-{i % 100:02d}-00" if i % 7 else None
        users[i] = _user(i, f"Сотрудник {i}", f"Тестов-{i}", "Уборщица", 3 + i % 3, mobile=mobile)
    store.users = users
    return store


def tasks_store(n: int, *, today: date, timezone: str = "Europe/Moscow") -> PortalStore:
    """The sample company with exactly ``n`` tasks (IDs 1..n)."""
    store = sample_store(today, timezone=timezone)
    tz = ZoneInfo(timezone)
    day = today
    created = _at(day - timedelta(days=14), tz, 9)
    store.tasks = {
        i: _task(
            i,
            f"Задача {i}",
            status=("2", "3", "5")[i % 3],
            responsible=(5, 6, 8, 9)[i % 4],
            created=created + timedelta(minutes=i),
            deadline=_at(day + timedelta(days=i % 11 - 5), tz, 18),
            closed=_at(day - timedelta(days=1), tz, 17) if i % 3 == 2 else None,
            links=[f"D_{i % 9 + 1}"] if i % 4 == 0 else None,
        )
        for i in range(1, n + 1)
    }
    return store
