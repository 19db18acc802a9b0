"""Daily work of the demo company: tasks (``tasks.task.list``) and company calendar events.

Tasks cover every state the bot reports on: done, overdue, due today, tomorrow, this and next
week, later, without deadline and deferred; a good share is linked to a house
(``ufCrmTask: ["D_<deal id>"]``), some to a management company (``"CO_<id>"``). Calendar events
are ``calendar.event.get`` items of the company calendar around today, timed and all-day.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bitrix.demo.dates import DemoCalendar, YearMonth, is_working_day
from bitrix.demo.houses import Company, House
from bitrix.demo.people import Org, Person
from bitrix.portal.store import Record

_AVATAR = "/bitrix/images/tasks/default_avatar.png"
_HOUSE_TASKS = (
    "Проверить качество уборки: {house}",
    "Жалоба жильцов: {house}, подъезд {entrance}",
    "Фотоотчёт по уборке: {house}",
    "Помыть окна на лестнице: {house}",
    "Согласовать с УК доступ в подвал: {house}",
    "Уборка после ремонта в подъезде: {house}",
    "Заменить коврики у входа: {house}",
)
_HOUSE_NOTES = (
    "Жильцы жалуются на грязь на площадках, проверить и отписаться.",
    "Сделать фото до и после, приложить к задаче.",
    "Ключи у старшей по дому.",
    "",
)
_BRIGADE_TASKS = (
    "Заменить инвентарь бригаде {brigade}",
    "Выдать спецодежду бригаде {brigade}",
    "Табель бригады {brigade} за {month}",
    "Инструктаж по технике безопасности: бригада {brigade}",
    "Проверить расход моющих средств в бригаде {brigade}",
)
_COMPANY_TASKS = (
    "Акт для {company}",
    "Сверка с {company} за {month}",
    "Подписать допсоглашение с {company}",
    "Отправить график уборки в {company}",
)
_OFFICE_TASKS = (
    "Закупить моющие средства",
    "Составить график уборки на {next_month}",
    "Подготовить отчёт по КПИ бригад",
    "Оплатить счёт за инвентарь",
    "Продлить договор аренды склада",
    "Начислить зарплату за {month}",
    "Обновить контакты старших по домам",
)
#: Task kinds in rotation: four house tasks in every nine keeps every date bucket mixed.
_KIND_CYCLE = ("house", "house", "house", "house", "brigade", "brigade", "company", "office",
               "office")  # fmt: skip
#: (bucket, count): how many tasks fall in each date bucket.
_BUCKETS = (
    ("done", 16),
    ("overdue", 9),
    ("today", 7),
    ("tomorrow", 6),
    ("soon", 8),
    ("next_week", 7),
    ("later", 6),
    ("no_deadline", 5),
    ("deferred", 2),
)


def _person_ref(person: Person) -> Record:
    return {
        "id": str(person.id),
        "name": person.full_name,
        "link": f"/company/personal/user/{person.id}/",
        "icon": _AVATAR,
        "workPosition": person.position,
    }


@dataclass
class _TaskDraft:
    title: str
    description: str
    responsible: Person
    creator: Person
    crm: list[str]
    bucket: str
    deadline: datetime | None = None


def _deadline(rng: random.Random, clock: DemoCalendar, bucket: str) -> datetime | None:
    today = clock.today
    hour = rng.choice((10, 12, 14, 17, 18, 19))
    if bucket == "done":
        return clock.at(today - timedelta(days=rng.randint(1, 40)), hour)
    if bucket == "overdue":
        return clock.at(today - timedelta(days=rng.randint(1, 20)), hour)
    if bucket == "today":
        return clock.at(today, hour)
    if bucket == "tomorrow":
        return clock.at(today + timedelta(days=1), hour)
    if bucket == "soon":
        return clock.at(today + timedelta(days=rng.randint(2, 6)), hour)
    if bucket == "next_week":
        monday = today + timedelta(days=7 - today.weekday())
        return clock.at(monday + timedelta(days=rng.randint(0, 4)), hour)
    if bucket == "later":
        return clock.at(today + timedelta(days=rng.randint(14, 40)), hour)
    if bucket == "deferred" and rng.random() < 0.5:
        return clock.at(today + timedelta(days=rng.randint(20, 60)), 18)
    return None


def build_tasks(
    rng: random.Random,
    clock: DemoCalendar,
    org: Org,
    houses: Sequence[House],
    companies: Sequence[Company],
) -> dict[int, Record]:
    """At least 60 tasks in every state, keyed by id, as ``tasks.task.list`` items."""
    managers = org.by_position("Менеджер")
    office = [*org.office, org.director]
    accountants = org.by_position("Бухгалтер")
    creators = [org.director, *managers]
    drafts: list[_TaskDraft] = []
    offset = rng.randrange(len(_KIND_CYCLE))
    counters = {"house": 0, "brigade": 0, "company": 0, "office": 0}
    for bucket, count in _BUCKETS:
        for _ in range(count):
            kind = _KIND_CYCLE[(len(drafts) + offset) % len(_KIND_CYCLE)]
            turn = counters[kind]
            counters[kind] += 1
            deadline = _deadline(rng, clock, bucket)
            # Paperwork names the month it closes: a timesheet due early in a month is the
            # previous month's.
            month = YearMonth.of((deadline.date() if deadline else clock.today) - timedelta(10))
            words = {"month": month.name_ru, "next_month": month.shift(1).name_ru}
            crm: list[str] = []
            if kind == "house":
                house = rng.choice(houses)
                title = _HOUSE_TASKS[turn % len(_HOUSE_TASKS)].format(
                    house=house.title, entrance=rng.randint(1, max(house.entrances, 1))
                )
                description = rng.choice(_HOUSE_NOTES)
                crew = org.brigades[house.brigade]
                responsible = org.heads[house.brigade] if rng.random() < 0.6 else rng.choice(crew)
                crm = [f"D_{house.id}"]
            elif kind == "brigade":
                brigade = 1 + turn % 6
                title = _BRIGADE_TASKS[turn % len(_BRIGADE_TASKS)].format(brigade=brigade, **words)
                description = ""
                responsible = org.heads[brigade] if turn % 2 else rng.choice(managers)
            elif kind == "company":
                company = companies[(turn * 5) % 12]
                title = _COMPANY_TASKS[turn % len(_COMPANY_TASKS)].format(
                    company=company.short, **words
                )
                description = "Документы в папке «Договоры УК»."
                responsible = rng.choice([*managers, *accountants])
                if rng.random() < 0.5:
                    crm = [f"CO_{company.id}"]
            else:
                title = _OFFICE_TASKS[turn % len(_OFFICE_TASKS)].format(**words)
                description = ""
                responsible = rng.choice(office)
            creator = rng.choice([c for c in creators if c is not responsible] or creators)
            drafts.append(
                _TaskDraft(title, description, responsible, creator, crm, bucket, deadline)
            )

    records = [_task_record(rng, clock, draft) for draft in drafts]
    records.sort(key=lambda record: str(record["createdDate"]))
    task_id = 1180
    tasks: dict[int, Record] = {}
    for record in records:
        task_id += rng.randint(1, 9)
        record["id"] = str(task_id)
        tasks[task_id] = record
    return tasks


def _task_record(rng: random.Random, clock: DemoCalendar, draft: _TaskDraft) -> Record:
    now = clock.at(clock.today, 9, 5)
    deadline = draft.deadline
    anchor = deadline if deadline is not None and deadline < now else now
    created = anchor - timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 5))
    created = created.replace(minute=rng.randint(0, 59), second=rng.randint(0, 59))
    status = "2" if rng.random() < 0.6 else "3"
    closed: datetime | None = None
    if draft.bucket == "done":
        status = "5"
        due = deadline or now
        closed = min(due - timedelta(days=rng.randint(-2, 3)), now - timedelta(hours=1))
        closed = max(closed, created + timedelta(hours=2))
    elif draft.bucket == "deferred":
        status = "6"
    changed = closed or min(now - timedelta(hours=rng.randint(1, 72)), now)
    changed = max(changed, created)
    overdue = deadline is not None and deadline.date() < clock.today and status in ("2", "3")

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "id": "",
        "parentId": "0",
        "title": draft.title,
        "description": draft.description,
        "mark": None,
        "priority": "2" if rng.random() < 0.2 else "1",
        "multitask": "N",
        "notViewed": "N",
        "replicate": "N",
        "stageId": "0",
        "createdBy": str(draft.creator.id),
        "createdDate": iso(created),
        "responsibleId": str(draft.responsible.id),
        "changedBy": str(draft.responsible.id if closed else draft.creator.id),
        "changedDate": iso(changed),
        "statusChangedBy": str(draft.responsible.id if closed else draft.creator.id),
        "closedBy": str(draft.responsible.id) if closed else "0",
        "closedDate": iso(closed),
        "activityDate": iso(changed),
        "dateStart": None,
        "deadline": iso(deadline),
        "startDatePlan": None,
        "endDatePlan": None,
        "guid": "{" + str(uuid.UUID(int=rng.getrandbits(128), version=4)) + "}",
        "xmlId": None,
        "commentsCount": str(rng.randint(0, 4)) if closed else None,
        "serviceCommentsCount": None,
        "allowChangeDeadline": "Y",
        "allowTimeTracking": "N",
        "taskControl": "N",
        "addInReport": "N",
        "forkedByTemplateId": None,
        "timeEstimate": "0",
        "timeSpentInLogs": None,
        "matchWorkTime": "N",
        "forumTopicId": None,
        "forumId": None,
        "siteId": "s1",
        "subordinate": "N",
        "exchangeModified": None,
        "exchangeId": None,
        "outlookVersion": "1",
        "viewedDate": iso(changed),
        "sorting": None,
        "durationFact": None,
        "isMuted": "N",
        "isPinned": "N",
        "isPinnedInGroup": "N",
        "flowId": None,
        "descriptionInBbcode": "Y",
        "status": status,
        "statusChangedDate": iso(changed),
        "durationPlan": None,
        "durationType": "days",
        "favorite": "N",
        "groupId": "0",
        "auditors": [],
        "accomplices": [],
        "checklist": [],
        "group": [],
        "creator": _person_ref(draft.creator),
        "responsible": _person_ref(draft.responsible),
        "accomplicesData": [],
        "auditorsData": [],
        "newCommentsCount": 0,
        # Bitrix marks an overdue open task with sub-status -1.
        "subStatus": "-1" if overdue else status,
        # An empty CRM binding comes back as false, not [], in real task items.
        "ufCrmTask": list(draft.crm) if draft.crm else False,
    }


@dataclass
class _EventDraft:
    name: str
    day: date
    start: time | None  # None: all-day
    minutes: int = 60
    days: int = 1
    description: str = ""
    location: str = ""
    attendees: tuple[Person, ...] = ()
    crm: tuple[str, ...] = ()
    accessibility: str = "busy"


def build_events(
    rng: random.Random,
    clock: DemoCalendar,
    org: Org,
    houses: Sequence[House],
    companies: Sequence[Company],
) -> list[Record]:
    """Company-calendar events from two weeks back to three weeks ahead, today included."""
    today = clock.today
    window = [today + timedelta(days=i) for i in range(-14, 22)]
    heads = tuple(org.heads[n] for n in sorted(org.heads))
    drafts = [
        _EventDraft("Планёрка бригадиров", day, time(8, 30), 45,
                    location="Офис, переговорная", attendees=(org.director, *heads))
        for day in window
        if day.weekday() == 0 and is_working_day(day)
    ]  # fmt: skip
    # Quality checks happen on working days, today and tomorrow included when they are.
    check_days = [d for d in (today, today + timedelta(days=1)) if is_working_day(d)]
    workdays = [d for d in window if is_working_day(d) and abs((d - today).days) <= 10]
    check_days += rng.sample([d for d in workdays if d not in check_days], 8 - len(check_days))
    for index, day in enumerate(check_days):
        house = rng.choice(houses)
        drafts.append(
            _EventDraft(f"Проверка качества: {house.title}", day,
                        time(10, 0) if index % 2 else time(14, 30), 60,
                        description=f"Обход с бригадиром бригады {house.brigade}.",
                        location=house.title, attendees=(org.heads[house.brigade],),
                        crm=(f"D_{house.id}",))
        )  # fmt: skip
    for company in rng.sample(list(companies[:12]), 3):
        day = rng.choice(workdays)
        drafts.append(
            _EventDraft(f"Собрание с {company.short}", day, time(13, 0), 90,
                        location="Офис УК", attendees=(org.director, *org.by_position("Менеджер")),
                        crm=(f"CO_{company.id}",))
        )  # fmt: skip
    dispatchers = org.by_position("Диспетчер")
    for offset in (0, 1):
        person = dispatchers[(today.toordinal() + offset) % len(dispatchers)]
        drafts.append(
            _EventDraft(f"Дежурный диспетчер: {person.full_name}", today + timedelta(days=offset),
                        None, accessibility="free", attendees=(person,))
        )  # fmt: skip
    month = YearMonth.of(today)
    drafts += [
        _EventDraft("Инвентаризация склада", today + timedelta(days=4), None, days=2),
        _EventDraft("Медосмотр сотрудников", today - timedelta(days=6), None),
        _EventDraft(f"Сдача табелей за {month.name_ru}", month.last_day, None),
        _EventDraft("Обучение новых сотрудников", today + timedelta(days=8), time(10, 0), 120,
                    location="Офис"),
        _EventDraft("Совещание у директора", today + timedelta(days=(4 - today.weekday()) % 7),
                    time(16, 0), 60, attendees=(org.director, *org.office)),
    ]  # fmt: skip
    created_order = sorted(drafts, key=lambda d: (d.day, d.start or time()))
    events = []
    event_id = 310
    for draft in created_order:
        event_id += rng.randint(1, 6)
        events.append(_event_record(rng, clock, org, draft, event_id))
    return events


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _formatted(moment: datetime, *, with_time: bool) -> str:
    # DATE_FROM_FORMATTED is JavaScript's Date.toDateString() in English whatever the portal
    # language ("Fri Oct 31 2025 18:00:00"); strftime would follow the process locale.
    text = (
        f"{_WEEKDAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:02d} {moment.year}"
    )
    return f"{text} {moment:%H:%M:%S}" if with_time else text


def _event_record(
    rng: random.Random, clock: DemoCalendar, org: Org, draft: _EventDraft, event_id: int
) -> Record:
    tz_name = clock.tz.key
    creator = org.director if rng.random() < 0.5 else org.office[0]
    if draft.start is None:
        # All-day events: local midnight in DATE_FROM/DATE_TO (DATE_TO = the last day), and
        # the *_TS_UTC fields hold that date at UTC midnight, as Bitrix stores them.
        start_local = datetime.combine(draft.day, time(), tzinfo=clock.tz)
        last_day = draft.day + timedelta(days=draft.days - 1)
        end_local = datetime.combine(last_day, time(), tzinfo=clock.tz)
        from_ts = int(datetime.combine(draft.day, time(), tzinfo=UTC).timestamp())
        to_ts = int(datetime.combine(last_day, time(), tzinfo=UTC).timestamp())
        length = 86400 * draft.days
        formatted_from = _formatted(start_local, with_time=False)
        formatted_to = _formatted(end_local, with_time=False)
    else:
        start_local = clock.at(draft.day, draft.start.hour, draft.start.minute)
        end_local = start_local + timedelta(minutes=draft.minutes)
        from_ts = int(start_local.timestamp())
        to_ts = int(end_local.timestamp())
        length = draft.minutes * 60
        formatted_from = _formatted(start_local, with_time=True)
        formatted_to = _formatted(end_local, with_time=True)
    created = clock.at(min(draft.day, clock.today) - timedelta(days=rng.randint(3, 20)), 11, 20)
    meeting = len(draft.attendees) > 1
    offset = str(clock.offset_seconds(draft.day))
    return {
        "ID": str(event_id),
        "PARENT_ID": str(event_id),
        "ACTIVE": "Y",
        "DELETED": "N",
        "CAL_TYPE": "company_calendar",
        "OWNER_ID": "0",
        "NAME": draft.name,
        "DATE_FROM": clock.site(start_local),
        "DATE_TO": clock.site(end_local),
        "ORIGINAL_DATE_FROM": None,
        "TZ_FROM": tz_name,
        "TZ_TO": tz_name,
        "TZ_OFFSET_FROM": offset,
        "TZ_OFFSET_TO": offset,
        "DATE_FROM_TS_UTC": str(from_ts),
        "DATE_TO_TS_UTC": str(to_ts),
        "DT_SKIP_TIME": "Y" if draft.start is None else "N",
        "DT_LENGTH": length,
        "EVENT_TYPE": None,
        "CREATED_BY": str(creator.id),
        "DATE_CREATE": clock.site(created),
        "TIMESTAMP_X": clock.site(created),
        "DESCRIPTION": draft.description,
        "DT_FROM": None,
        "DT_TO": None,
        "PRIVATE_EVENT": "",
        "ACCESSIBILITY": draft.accessibility,
        "IMPORTANCE": "normal",
        "IS_MEETING": meeting,
        "MEETING_STATUS": "H" if meeting else "",
        "MEETING_HOST": str(creator.id),
        "MEETING": {
            "NOTIFY": True,
            "MEETING_CREATOR": creator.id,
            "REINVITE": False,
            "ALLOW_INVITE": False,
            "HIDE_GUESTS": False,
            "HOST_NAME": creator.full_name,
        },
        "LOCATION": draft.location,
        "REMIND": [{"type": "min", "count": 15}] if draft.start is not None else [],
        "COLOR": "",
        "TEXT_COLOR": "",
        "RRULE": "",
        "EXDATE": "",
        "DAV_XML_ID": f"{start_local.astimezone(UTC):%Y%m%dT%H%M%SZ}-{event_id:x}@chisty-podezd",
        "G_EVENT_ID": "",
        "DAV_EXCH_LABEL": "",
        "CAL_DAV_LABEL": "",
        "VERSION": "1",
        "ATTENDEES_CODES": [f"U{p.id}" for p in draft.attendees] if meeting else None,
        "RECURRENCE_ID": None,
        "RELATIONS": "",
        "SECTION_ID": "7",
        "SYNC_STATUS": None,
        # Empty CRM binding is false here too.
        "UF_CRM_CAL_EVENT": list(draft.crm) if draft.crm else False,
        "UF_WEBDAV_CAL_EVENT": [],
        "SECTION_DAV_XML_ID": None,
        "DATE_FROM_FORMATTED": formatted_from,
        "DATE_TO_FORMATTED": formatted_to,
        "IS_DAYLIGHT_SAVING_TZ": "N",
        "SECT_ID": "7",
        "OPTIONS": None,
        "ATTENDEE_LIST": [
            {"id": p.id, "entryId": str(event_id + i), "status": "Y"}
            for i, p in enumerate(draft.attendees)
        ]
        if meeting
        else [],
        "COLLAB_ID": None,
    }
