"""Trustworthy answers (issue 11): SPEC §5's four rules on the questions that broke them.

Every question goes through `Assistant.ask` (the one path from text to answer) on the demo
company pinned to 2026-11-25. Expected numbers are computed here from the raw REST answers
(`tests/domain/raw.py` reads them independently of `bitrix/company.py`), never copied from
the bot's own output.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions, RawCompanyData
from bitrix.demo import DemoLayout, YearMonth, build_demo_store
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions
from bot.brain import Assistant, Reply
from tests.domain.raw import RawPortal, fetch_all
from tests.nlu.evaluation import TODAY, TZ

Record = dict[str, Any]
MOMENT = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, tzinfo=TZ)
MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
          "сентября", "октября", "ноября", "декабря")  # fmt: skip


@dataclass
class Raw:
    """The raw REST answers of the demo portal, and what the bot loaded from it."""

    rest: RawPortal
    data: RawCompanyData
    companies: list[Record]
    tasks: list[Record]
    events: list[Record]

    # ------------------------------------------------------------------ lookups
    def extra(self, deal: Record, label: str) -> str | None:
        """A deal's value of the user field labelled ``label`` (option text for a list)."""
        code = self.rest.code(label)
        value = deal.get(code)
        if isinstance(value, list):
            value = value[0] if value else None
        if value in (None, ""):
            return None
        options = self.rest.options(code)
        return options.get(str(value), str(value))

    def house(self, title: str) -> Record:
        return next(d for d in self.rest.houses() if d["TITLE"] == title)

    def person(self, last_name: str) -> Record:
        found = [u for u in self.rest.people() if u.get("LAST_NAME") == last_name]
        assert len(found) == 1, last_name
        return found[0]

    def brigade_houses(self, brigade: int) -> list[Record]:
        return [d for d in self.rest.houses() if self.rest.brigade(d) == brigade]


async def _load() -> Raw:
    options = MappingOptions()
    layout = DemoLayout()
    async with EmulatedPortal(build_demo_store(today=TODAY), PortalOptions()) as portal:
        async with BitrixClient(portal.webhook_url) as client:
            loader = CompanyLoader(client, tz=TZ, options=options, clock=FixedClock(MOMENT))
            data = await loader.fetch()
        rest = await RawPortal.fetch(portal.webhook_url, layout)
        async with httpx.AsyncClient(base_url=portal.webhook_url, timeout=30) as http:
            companies = await fetch_all(
                http, "crm.company.list", {"select": ["ID", "TITLE", "PHONE", "ADDRESS"]}
            )
            tasks: list[Record] = []
            start: int | None = 0
            while start is not None:
                answer = (
                    await http.post(
                        "tasks.task.list",
                        json={
                            "select": ["ID", "TITLE", "STATUS", "RESPONSIBLE_ID"],
                            "start": start,
                        },
                    )
                ).json()
                tasks += answer["result"]["tasks"]
                start = answer.get("next")
            events = (
                await http.post(
                    "calendar.event.get",
                    json={
                        "type": "company_calendar",
                        "ownerId": 0,
                        "from": (TODAY - timedelta(days=40)).isoformat(),
                        "to": (TODAY + timedelta(days=70)).isoformat(),
                    },
                )
            ).json()["result"]
    return Raw(rest, data, companies, tasks, events)


@pytest.fixture(scope="module")
def raw() -> Raw:
    return asyncio.run(_load())


def _assistant(raw: Raw) -> Assistant:
    async def fetch() -> RawCompanyData:
        return raw.data

    options = MappingOptions()
    cache = CompanyCache(fetch, tz=TZ, options=options, clock=FixedClock(MOMENT))
    return Assistant(cache, tz=TZ)


def ask(raw: Raw, *texts: str) -> Reply:
    """Ask one conversation's questions in turn; the reply to the last one."""

    async def run() -> Reply:
        assistant = _assistant(raw)
        reply = None
        for text in texts:
            reply = await assistant.ask(text, conversation="test")
        assert reply is not None
        return reply

    return asyncio.run(run())


def n(value: int) -> str:
    """A number as the bot writes it (thousands grouped by a no-break space)."""
    return f"{value:,}".replace(",", "\u00a0")


def day_text(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def total_houses(raw: Raw) -> int:
    return len(raw.rest.houses())


# ---------------------------------------------------------------------- rule 1 and 2: counts
def test_houses_of_a_person_are_their_brigades(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Коновалов"))
    assert brigade is not None
    expected = len(raw.brigade_houses(brigade))
    reply = ask(raw, "сколько домов у коновалова")
    assert reply.frame.intent == "count"
    assert reply.to_json()["slots"]["person"]["name"].startswith("Коновалов")
    assert reply.text.startswith(f"Бригада {brigade} (бригадир Коновалов): {n(expected)} дом")
    assert f"{n(total_houses(raw))}" not in reply.text


def test_apartments_of_a_person_are_their_brigades(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Ершова"))
    assert brigade is not None
    houses = raw.brigade_houses(brigade)
    apartments = sum(raw.rest.count(d, "apartments") or 0 for d in houses)
    reply = ask(raw, "сколько квартир у ершовой")
    assert f"Бригада {brigade}" in reply.text
    assert f"квартир — {n(apartments)}" in reply.text


@pytest.mark.parametrize(("text", "metric"), [
    ("сколько домов в кондрово", None),
    ("сколько подъездов в кондрово", "entrances"),
])  # fmt: skip
def test_a_town_filters_houses(raw: Raw, text: str, metric: str | None) -> None:
    houses = [d for d in raw.rest.houses() if str(d["TITLE"]).startswith("Кондрово,")]
    reply = ask(raw, text)
    assert reply.to_json()["slots"]["town"] == "Кондрово"
    assert reply.text.startswith(f"Кондрово: {n(len(houses))} дом")
    if metric:
        total = sum(raw.rest.count(d, metric) or 0 for d in houses)
        assert f"подъездов — {n(total)}" in reply.text


def test_a_kind_of_house_filters_houses(raw: Raw) -> None:
    expected = sum(1 for d in raw.rest.houses() if raw.extra(d, "Тип дома") == "Панельный")
    reply = ask(raw, "сколько домов панельных")
    assert reply.to_json()["slots"]["house_type"] == "Панельный"
    assert f"«Панельный»: {n(expected)} дом" in reply.text


@pytest.mark.parametrize(("text", "low", "high"), [
    ("сколько домов по 9 этажей", 9, 9),
    ("сколько девятиэтажек", 9, 9),
    ("сколько домов больше 100 квартир", 101, None),
    # Both ends of a range: «до 200» alone would count a different set.
    ("сколько домов от 100 до 200 квартир", 100, 200),
    ("сколько домов с количеством квартир от ста до двухсот", 100, 200),
    ("сколько домов с 5 по 9 этаж", 5, 9),
])  # fmt: skip
def test_bounded_counts_filter_houses(raw: Raw, text: str, low: int, high: int | None) -> None:
    metric = "floors" if "этаж" in text else "apartments"
    expected = sum(
        1
        for d in raw.rest.houses()
        if (v := raw.rest.count(d, metric)) is not None
        and v >= low
        and (high is None or v <= high)
    )
    reply = ask(raw, text)
    assert reply.to_json()["slots"][metric] == {"min": low, "max": high}
    assert f": {n(expected)} дом" in reply.text


def test_a_thing_is_not_heard_as_a_name(raw: Raw) -> None:
    # «машине» is one letter from «Марине», but it is a car: no person is guessed or offered.
    reply = ask(raw, "сколько ехать до москвы на машине")
    assert reply.frame.intent == "unknown"
    assert not reply.frame.choices
    assert "Марин" not in reply.text


@pytest.mark.parametrize(("text", "said"), [
    ("сколько домов не в кондрово", "не в кондрово"),
    ("дома кроме третьей бригады", "кроме третьей бригады"),
    ("сколько домов у всех бригад кроме первой", "кроме первой"),
])  # fmt: skip
def test_an_exclusion_is_said_never_applied_as_the_filter(raw: Raw, text: str, said: str) -> None:
    # Applying «кондрово» of «не в кондрово» would count the opposite set; the whole company
    # would be a broader one. Neither is given.
    reply = ask(raw, text)
    assert f"«{said}»" in reply.text
    assert not reply.answer.items
    assert not re.search(r"\d", reply.text.split("например")[0].replace("3»", ""))


def test_an_exclusion_beside_the_asked_town_only_contrasts(raw: Raw) -> None:
    houses = [
        d
        for d in raw.brigade_houses(6)
        if "," not in str(d["TITLE"])  # Калуга: no town prefix
    ]
    reply = ask(raw, "у шестой бригады в калуге сколько домов не в кондрово а именно в калуге")
    slots = reply.to_json()["slots"]
    assert slots["town"] == "Калуга" and slots["brigade"] == 6
    assert f": {n(len(houses))} дом" in reply.text


def test_a_number_no_filter_took_is_said(raw: Raw) -> None:
    # «1960 года» conditions the houses on something the CRM does not hold: the company's 490
    # would answer a broader question.
    reply = ask(raw, "сколько домов 1960 года")
    assert "«1960 года»" in reply.text
    assert n(total_houses(raw)) not in reply.text


def test_a_second_house_is_not_dropped(raw: Raw) -> None:
    # «майской 8 и 12»: one house's card would answer half the question as if whole.
    apartments = raw.rest.count(raw.house("Майская 8"), "apartments")
    reply = ask(raw, "сколько квартир на майской 8 и 12")
    assert "«12»" in reply.text
    assert str(apartments) not in reply.text
    # A part of one house is not a second house: its intercom code is still answered.
    code = raw.extra(raw.house("Майская 8"), "Код домофона")
    assert code and code in ask(raw, "код домофона майская 8 подъезд 2").text


@pytest.mark.parametrize("text", [
    "сколько домов по бригадам",
    "сколько домов обслуживает каждая бригада",
    "сколько квартир в каждой бригаде",
])  # fmt: skip
def test_per_group_counts_give_every_group(raw: Raw, text: str) -> None:
    # The company's total alone would answer another question than «по бригадам».
    metric = "apartments" if "квартир" in text else None
    reply = ask(raw, text)
    assert reply.to_json()["slots"]["each"] is True
    for number in range(1, 7):
        houses = raw.brigade_houses(number)
        value = (
            len(houses) if metric is None else sum(raw.rest.count(d, metric) or 0 for d in houses)
        )
        assert any(
            item.startswith(f"• Бригада {number} ") and f"— {n(value)} " in item
            for item in reply.answer.items
        ), (number, value)


def test_brigades_ranked_by_their_people(raw: Raw) -> None:
    sizes = Counter(raw.rest.person_brigade(u) for u in raw.rest.people())
    most = max(v for k, v in sizes.items() if k is not None)
    reply = ask(raw, "в какой бригаде больше всего людей")
    first = reply.text.split("\n")[0]
    assert f"— {most} человек" in first
    assert "employees" not in reply.text


@pytest.mark.parametrize(("text", "said"), [
    ("какой год постройки майской 8", "год постройки"),
    ("сколько лет петрову", "лет"),
    ("какая машина у коновалова", "машина"),
])  # fmt: skip
def test_a_fact_the_crm_lacks_is_said_not_the_whole_card(raw: Raw, text: str, said: str) -> None:
    # The card would pass for an answer to a question about something it does not hold.
    reply = ask(raw, text)
    assert f"«{said}»" in reply.text and "не хранится" in reply.text
    assert "Телефон:" not in reply.text and "квартир 128" not in reply.text
    # Asked for the card itself, the card is given.
    assert "Телефон:" in ask(raw, "кто такой петров").text


def test_an_estate_name_is_not_found_not_the_company_total(raw: Raw) -> None:
    # «ЖК «Молодёжный»» is no house of ours: the company's entrances would answer another set.
    entrances = sum(raw.rest.count(d, "entrances") or 0 for d in raw.rest.houses())
    for text in ("Сколько подъездов в ЖК «Молодёжный»?", "сколько подъездов в жк молодежный"):
        reply = ask(raw, text)
        assert "не нашёл" in reply.text
        assert n(entrances) not in reply.text


def test_a_house_fact_of_a_street_asks_which_house(raw: Raw) -> None:
    houses = sorted(
        (d for d in raw.rest.houses() if str(d["TITLE"]).startswith("Зеленая ")),
        key=lambda d: str(d["TITLE"]),
    )
    reply = ask(raw, "код домофона Зеленая")
    assert reply.frame.clarify and "•" not in reply.text
    assert f"всего {len(houses)}" in reply.text
    # A number beyond the buttons shown is a house of that street.
    last = max(houses, key=lambda d: int(re.sub(r"\D.*", "", str(d["TITLE"]).split()[-1])))
    number = str(last["TITLE"]).split()[-1]
    reply = ask(raw, "код домофона Зеленая", number)
    assert reply.to_json()["slots"]["house"]["address"] == last["TITLE"]
    assert reply.to_json()["slots"]["field"] == "intercom"


@pytest.mark.parametrize(("text", "intent"), [
    ("Для расчёта инвентаря: сколько подъездов в панельных домах по всей компании?", "count"),
    ("Здравствуйте! Я новенькая, приятно познакомиться.", "greeting"),
])  # fmt: skip
def test_why_and_pleasantries_around_a_question(raw: Raw, text: str, intent: str) -> None:
    reply = ask(raw, text)
    assert reply.frame.intent == intent
    assert not reply.frame.problems


def test_an_unknown_company_is_said_and_no_total_given(raw: Raw) -> None:
    assert not any("рога" in str(c["TITLE"]).lower() for c in raw.companies)
    reply = ask(raw, "сколько домов у ук рога и копыта")
    assert "«рога и копыта» не нашёл" in reply.text
    assert n(total_houses(raw)) not in reply.text


@pytest.mark.parametrize(("text", "said"), [
    ("задачи сидорова", "сидорова"),
    ("задачи по дому гагарина 5", "гагарина 5"),
])  # fmt: skip
def test_an_unknown_name_gives_no_task_list(raw: Raw, text: str, said: str) -> None:
    assert not any(u.get("LAST_NAME") == "Сидоров" for u in raw.rest.users.values())
    assert not any("Гагарина" in str(d["TITLE"]) for d in raw.rest.deals)
    reply = ask(raw, text)
    assert f"«{said}»" in reply.text
    assert "Открытые задачи" not in reply.text
    assert "•" not in reply.text


def test_events_of_a_person(raw: Raw) -> None:
    petrov = str(raw.person("Петров")["ID"])
    end = TODAY + timedelta(days=6)
    expected = [
        e
        for e in raw.events
        if TODAY.isoformat() <= str(e["DATE_FROM"])[:10] <= end.isoformat()
        or (_event_day(e) is not None and TODAY <= _event_day(e) <= end)  # type: ignore[operator]
    ]
    mine = [
        e
        for e in expected
        if petrov in {str(a["id"]) for a in e.get("ATTENDEE_LIST") or []}
        or str(e.get("CREATED_BY")) == petrov
    ]
    reply = ask(raw, "события у петрова")
    assert reply.to_json()["slots"]["person"]["id"] == petrov
    assert f": {n(len(mine))}." in reply.text.split("\n")[0]
    assert len(mine) < len(expected)


def _event_day(event: Record) -> date | None:
    text = str(event.get("DATE_FROM") or "")
    match = re.match(r"(\d{2})\.(\d{2})\.(\d{4})", text)
    if match:
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    return None


# ---------------------------------------------------------------------- people and houses
@pytest.mark.parametrize(("text", "surname"), [
    ("какие дома у петрова", "Петров"),
    ("какие дома убирает ершова", "Ершова"),
])  # fmt: skip
def test_houses_of_a_person_are_listed(raw: Raw, text: str, surname: str) -> None:
    brigade = raw.rest.person_brigade(raw.person(surname))
    assert brigade is not None
    houses = raw.brigade_houses(brigade)
    reply = ask(raw, text)
    assert reply.frame.intent == "houses.list"
    assert reply.text.startswith(f"Бригада {brigade}")
    assert f": {n(len(houses))} дом" in reply.text.split("\n")[0]
    assert len(reply.answer.items) == len(houses)


def test_who_is_in_a_persons_brigade(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Ершова"))
    members = [u for u in raw.rest.people() if raw.rest.person_brigade(u) == brigade]
    reply = ask(raw, "кто в бригаде у ершовой")
    assert reply.frame.intent == "employees.list"
    assert reply.text.startswith(f"Бригада {brigade}")
    assert len(reply.answer.items) == len(members)


def test_department_of_a_person(raw: Raw) -> None:
    person = raw.person("Бурова")
    department = raw.rest.departments[str(person["UF_DEPARTMENT"][0])]["NAME"]
    reply = ask(raw, "в каком отделе бурова")
    assert reply.to_json()["slots"]["field"] == "department"
    assert str(department) in reply.text
    assert "Структура компании" not in reply.text


# ---------------------------------------------------------------------- the crew's fields
@pytest.mark.parametrize(("text", "title", "label", "empty"), [
    ("код домофона майская 8", "Майская 8", "Код домофона", "код домофона не указан"),
    ("где ключи от майской 12", "Майская 12", "Комментарий для бригады", "комментария"),
    ("лифты есть на майской 8", "Майская 8", "Количество лифтов", "число лифтов не указано"),
    ("какой тип дома майская 8", "Майская 8", "Тип дома", "тип дома не указан"),
])  # fmt: skip
def test_a_house_field_comes_first(
    raw: Raw, text: str, title: str, label: str, empty: str
) -> None:
    value = raw.extra(raw.house(title), label)
    reply = ask(raw, text)
    first = reply.text.split("\n")[0]
    assert first.startswith(f"🏠 {title}:")
    assert (value in first) if value else (empty in first)


def test_the_crew_note_is_shown(raw: Raw) -> None:
    note = raw.extra(raw.house("Майская 12"), "Комментарий для бригады")
    assert note == "Ключи у старшей по дому, кв. 12"
    assert note in ask(raw, "где ключи от майской 12").text


@pytest.mark.parametrize(("text", "name"), [
    ("телефон ук гарант", "Гарант"),
    ("контакты ук жилкомсервис", "Жилкомсервис"),
])  # fmt: skip
def test_a_companys_phone(raw: Raw, text: str, name: str) -> None:
    company = next(c for c in raw.companies if name in str(c["TITLE"]))
    phone = str(company["PHONE"][0]["VALUE"])
    reply = ask(raw, text)
    assert reply.frame.intent == "company.info"
    assert phone in reply.text.split("\n")[1]
    assert "•" not in reply.text  # not a list of houses


# ---------------------------------------------------------------------- dates
def test_last_time_looks_back(raw: Raw) -> None:
    deal = raw.house("Карачевская 55")
    days = [
        day
        for month in (YearMonth.of(TODAY.replace(day=1) - timedelta(days=1)), YearMonth.of(TODAY))
        for day, _ in raw.rest.schedule(deal, month)
        if day < TODAY
    ]
    reply = ask(raw, "когда последний раз убирали карачевскую 55")
    assert reply.to_json()["slots"]["last"] is True
    assert day_text(max(days)) in reply.text
    future = [d for d, _ in raw.rest.schedule(deal, YearMonth.of(TODAY)) if d >= TODAY]
    assert all(day_text(d) not in reply.text for d in future)


def test_a_house_schedule_keeps_the_asked_days(raw: Raw) -> None:
    # «была ли уборка на майской 8 на этой неделе»: the week's visits, never the whole month's
    # schedule instead (rule 1); none that week is said, with the neighbours.
    deal = raw.house("Майская 8")
    visits = sorted(
        day
        for month in (YearMonth.of(TODAY), YearMonth.of(TODAY.replace(day=28) + timedelta(days=7)))
        for day, _ in raw.rest.schedule(deal, month)
    )
    monday = TODAY - timedelta(days=TODAY.weekday())
    for said, start in (
        ("на этой неделе", monday),
        ("на следующей неделе", monday + timedelta(7)),
    ):
        end = start + timedelta(days=6)
        reply = ask(raw, f"была ли уборка на майской 8 {said}")
        assert reply.to_json()["slots"]["date"] == {
            "from": start.isoformat(),
            "to": end.isoformat(),
        }
        inside = [d for d in visits if start <= d <= end]
        outside = [d for d in visits if not start <= d <= end]
        if inside:
            assert all(day_text(d) in reply.text for d in inside)
            assert all(f"• {day_text(d)}" not in reply.text for d in outside)
        else:
            assert "не запланирована" in reply.text
            assert "•" not in reply.text
            before = max(d for d in visits if d < start)
            assert day_text(before) in reply.text
    # A follow-up's month replaces the week, and a day replaces the month.
    reply = ask(raw, "график майской 8 на следующей неделе", "а в декабре?")
    assert reply.to_json()["slots"].get("date") is None
    assert reply.to_json()["slots"]["month"] == f"{TODAY.year}-12"


def test_the_next_visit_looks_ahead(raw: Raw) -> None:
    months = (YearMonth.of(TODAY), YearMonth.of(TODAY.replace(day=28) + timedelta(days=7)))
    for title in ("Майская 8", "Билибина 34/2"):
        deal = raw.house(title)
        visits = sorted(d for m in months for d, _ in raw.rest.schedule(deal, m))
        ahead = [d for d in visits if d >= TODAY]
        reply = ask(raw, f"когда ближайшая уборка на {title.lower()}")
        assert reply.to_json()["slots"]["next"] is True
        if ahead:
            assert day_text(ahead[0]) in reply.text
        else:
            assert "уборок в графике нет" in reply.text
        # No past visit is offered as the next one.
        assert all(day_text(d) not in reply.text for d in visits if d < TODAY)


def test_a_followup_keeps_the_kind_of_the_slot(raw: Raw) -> None:
    # On 25 November «14 числа» is the coming 14 December, and «21го» the 21st of that month.
    reply = ask(raw, "что у третьей 14 числа", "а 21го?")
    slots = reply.to_json()["slots"]
    assert slots["date"] == {"from": "2026-12-21", "to": "2026-12-21"}
    assert slots["brigade"] == 3
    assert "21 декабря" in reply.text


def test_an_event_name_filters_the_calendar(raw: Raw) -> None:
    dated = [(d, str(e["NAME"])) for e in raw.events if (d := _event_day(e)) is not None]
    coming = sorted((d, x) for d, x in dated if d >= TODAY and "планёрк" in x.lower())
    reply = ask(raw, "когда планерка")
    assert reply.to_json()["slots"]["text"]
    assert reply.answer.items
    assert all("Планёрка" in item for item in reply.answer.items)
    assert day_text(coming[0][0]) in reply.answer.footer


def test_a_title_word_filters_tasks(raw: Raw) -> None:
    open_complaints = [
        t
        for t in raw.tasks
        if "жалоб" in str(t["title"]).lower() and str(t["status"]) not in ("5", "7")
    ]
    reply = ask(raw, "чё по жалобам")
    assert reply.frame.intent == "tasks.list"
    assert f": {n(len(open_complaints))}." in reply.text.split("\n")[0]


def test_finished_tasks_are_the_finished_ones(raw: Raw) -> None:
    # «сколько выполненных задач» answered with the open ones would be the opposite set.
    finished = [t for t in raw.tasks if str(t["status"]) == "5"]
    still_open = [t for t in raw.tasks if str(t["status"]) not in ("5", "7")]
    reply = ask(raw, "сколько выполненных задач")
    assert reply.to_json()["slots"]["done"] is True
    assert reply.text.split("\n")[0].endswith(f": {n(len(finished))}.")
    assert f"Ещё не завершены: {n(len(still_open))}." in reply.text
    for text in ("какие задачи не выполнены", "выполнена ли задача по коврикам"):
        assert "done" not in ask(raw, text).to_json()["slots"], text


# ---------------------------------------------------------------------- answerable questions
def test_houses_in_a_town(raw: Raw) -> None:
    houses = [d for d in raw.rest.houses() if str(d["TITLE"]).startswith("Кондрово,")]
    reply = ask(raw, "дома в кондрово")
    assert reply.frame.intent == "houses.list"
    assert len(reply.answer.items) == len(houses)


def test_who_has_the_most_houses(raw: Raw) -> None:
    counts = Counter(raw.rest.brigade(d) for d in raw.rest.houses())
    brigade, most = max(((b, c) for b, c in counts.items() if b is not None), key=lambda x: x[1])
    reply = ask(raw, "у кого больше всего домов")
    assert reply.frame.intent == "rank"
    first = reply.text.split("\n")[0]
    assert f"Бригада {brigade}" in first
    assert f"{n(most)} дом" in first


def test_where_most_apartments_are(raw: Raw) -> None:
    most = max(raw.rest.count(d, "apartments") or 0 for d in raw.rest.houses())
    top = [d["TITLE"] for d in raw.rest.houses() if raw.rest.count(d, "apartments") == most]
    reply = ask(raw, "где больше всего квартир")
    first = reply.text.split("\n")[0]
    assert f"{n(most)} квартир" in first
    assert all(title in first for title in top)


def test_who_is_responsible_for_a_house(raw: Raw) -> None:
    brigade = raw.rest.brigade(raw.house("Кондрово, Пушкина 56"))
    reply = ask(raw, "кто ответственный за кондрово пушкина 56")
    assert reply.frame.intent == "house.info"
    assert f"Бригада: {brigade}" in reply.text


def test_a_closed_house_is_said_closed(raw: Raw) -> None:
    category = str(raw.rest.layout.category_id)
    closed = [
        d
        for d in raw.rest.deals
        if d["TITLE"] == "Пролетарская 40"
        and d["CATEGORY_ID"] == category
        and d["STAGE_ID"] not in {d2["STAGE_ID"] for d2 in raw.rest.houses()}
    ]
    assert closed, "the demo has Пролетарская 40 as a closed contract"
    assert any(d["TITLE"] == "Пролетарская 40б" for d in raw.rest.houses())
    reply = ask(raw, "пролетарская 40")
    assert "закрыт" in reply.text
    assert "Пролетарская 40б" in reply.text


def test_a_days_houses_of_a_person(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Коновалов"))
    month = YearMonth.of(TODAY)
    expected = [
        d
        for d in raw.brigade_houses(brigade or 0)
        if any(day == TODAY for day, _ in raw.rest.schedule(d, month))
    ]
    reply = ask(raw, "какие дома сегодня у коновалова")
    assert reply.frame.intent == "schedule.day"
    first = reply.text.split("\n")[0]
    assert f"Бригада {brigade}" in first
    assert f": {n(len(expected))} дом" in first


def test_a_count_compared_after_its_noun(raw: Raw) -> None:
    expected = sum(1 for d in raw.rest.houses() if (raw.rest.count(d, "entrances") or 0) > 6)
    reply = ask(raw, "Какое количество домов с числом подъездов больше шести?")
    assert reply.to_json()["slots"]["entrances"] == {"min": 7, "max": None}
    assert f": {n(expected)} дом" in reply.text


def test_houses_without_a_company_in_a_brigade(raw: Raw) -> None:
    expected = [d for d in raw.brigade_houses(1) if str(d.get("COMPANY_ID") or "0") in ("", "0")]
    reply = ask(raw, "Список домов без указанной управляющей компании в Бригаде 1.")
    assert reply.to_json()["slots"]["no_company"] is True
    assert len(reply.answer.items) == len(expected)


# ---------------------------------------------------------------------- issue 11: what is asked
def test_houses_and_a_sum_in_one_question_are_both_answered(raw: Raw) -> None:
    reply = ask(raw, "Сколько домов обслуживает УК «Гарант» и сколько в них квартир?")
    assert reply.to_json()["slots"]["metric"] == "apartments"
    assert "18 домов" in reply.text and "квартир" in reply.text


def test_two_sums_in_one_question_are_not_half_answered(raw: Raw) -> None:
    reply = ask(raw, "сколько квартир и подъездов у третьей")
    assert "подъездов" in reply.text
    assert not any(ch.isdigit() for ch in reply.text)


@pytest.mark.parametrize(
    "text", ["дома ук чистый город", "Извините, какие дома у УК «Центральная»?"]
)
def test_a_company_that_does_not_exist_is_not_found(raw: Raw, text: str) -> None:
    reply = ask(raw, text)
    assert "не нашёл" in reply.text
    assert not reply.answer.items  # not the houses of a street of that name, nor all УК


def test_an_order_to_someone_gets_no_data(raw: Raw) -> None:
    reply = ask(raw, "напомни коновалову сделать фотоотчёт по малоярославецкой девять завтра")
    assert reply.frame.source == "write"
    assert not reply.answer.items


def test_holders_of_a_position_in_a_persons_brigade(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Коновалов"))
    expected = [
        u
        for u in raw.rest.people()
        if raw.rest.person_brigade(u) == brigade and u.get("WORK_POSITION") == "Уборщица"
    ]
    reply = ask(raw, "кто из уборщиц у коновалова")
    assert reply.frame.intent == "employees.list"
    assert len(reply.answer.items) == len(expected)


def test_companies_of_a_town(raw: Raw) -> None:
    town = [d for d in raw.rest.houses() if str(d["TITLE"]).startswith("Кондрово,")]
    companies = {
        str(d.get("COMPANY_ID")) for d in town if d.get("COMPANY_ID") not in (None, "", "0")
    }
    reply = ask(raw, "Какие управляющие компании работают в Кондрово?")
    assert reply.to_json()["slots"]["town"] == "Кондрово"
    assert len(reply.answer.items) == len(companies)


def test_a_mans_surname_that_only_a_woman_has_is_asked_back(raw: Raw) -> None:
    reply = ask(raw, "Сколько квартир в панельных домах бригады Смирнова?")
    assert reply.frame.clarify
    assert [c.label for c in reply.frame.choices] == ["Смирнова Лариса (Уборщица, бригада 6)"]
    assert ask(raw, "В какой бригаде Смирнова?").frame.clarify is False


def test_a_first_name_alone_asks_which_one(raw: Raw) -> None:
    reply = ask(raw, "тел дмитрия")
    assert reply.frame.clarify and len(reply.frame.choices) > 1
    assert ask(raw, "Здравствуйте, это Мария из офиса").frame.clarify is False


def test_a_companys_phone_as_a_followup(raw: Raw) -> None:
    reply = ask(raw, "какие дома у ук гарант", "а телефон у них какой")
    assert reply.frame.intent == "company.info"
    assert reply.to_json()["slots"]["field"] == "phone"


def test_a_feature_the_crm_does_not_hold_is_not_dropped(raw: Raw) -> None:
    reply = ask(raw, "сколько домов с мусоропроводом")
    assert "мусоропровод" in reply.text
    assert f"{n(total_houses(raw))}" not in reply.text and not reply.answer.items


def test_a_year_is_not_dropped_from_a_count(raw: Raw) -> None:
    reply = ask(raw, "сколько домов сдали в этом году")
    assert f"{n(total_houses(raw))}" not in reply.text


def test_tasks_of_holders_of_a_position(raw: Raw) -> None:
    heads = {
        str(u["LAST_NAME"]) for u in raw.rest.people() if u.get("WORK_POSITION") == "Бригадир"
    }
    reply = ask(raw, "задачи на сегодня у бригадиров")
    assert reply.to_json()["slots"]["position"] == "Бригадир"
    assert reply.answer.items
    assert all(any(name in line for name in heads) for line in reply.answer.items)


def test_a_company_in_a_task_question_is_looked_for_in_the_titles(raw: Raw) -> None:
    titles = [
        str(t["title"])
        for t in raw.tasks
        if "домовой" in str(t["title"]).lower() and str(t["status"]) != "5"
    ]
    reply = ask(raw, "какие задачи по ук домовой")
    assert titles and len(reply.answer.items) == len(titles)
    assert all(any(title in line for title in titles) for line in reply.answer.items)


@pytest.mark.parametrize("text", ["когда встреча с жэу 5", "собрание с жеу пять когда"])
def test_a_company_in_an_event_question_is_looked_for_in_the_names(raw: Raw, text: str) -> None:
    names = [str(e["NAME"]) for e in raw.events if "ЖЭУ-5" in str(e["NAME"])]
    reply = ask(raw, text)
    assert names and reply.frame.intent == "calendar.list" and not reply.frame.problems
    assert all(any(name in line for name in names) for line in reply.answer.items)


def test_a_house_in_an_event_question_is_looked_for_in_the_names(raw: Raw) -> None:
    named = [e for e in raw.events if "Жукова 6к1" in str(e["NAME"])]
    reply = ask(raw, "когда проверка на жукова 6 корпус 1")
    assert named and len(reply.answer.items) == len(named)


def test_e_typed_for_e_reversed_names_the_company(raw: Raw) -> None:
    phone = next(
        p["VALUE"] for c in raw.companies if "ЖЭУ-5" in str(c["TITLE"]) for p in c["PHONE"]
    )
    reply = ask(raw, "телефон жеу 5")
    assert reply.frame.intent == "company.info"
    assert re.sub(r"\D", "", phone)[-7:] in re.sub(r"\D", "", reply.text)


def test_tasks_that_stand_on_a_day_are_no_price_question(raw: Raw) -> None:
    reply = ask(raw, "какие задачи стоят на завтра")
    assert reply.frame.intent == "tasks.list"
    assert reply.to_json()["slots"]["date"]["from"] == str(TODAY + timedelta(days=1))


def test_a_persons_day_is_their_brigades_day(raw: Raw) -> None:
    titles = {d["TITLE"] for d in raw.brigade_houses(4)}
    reply = ask(raw, "что у коновалова на некст неделе")
    assert reply.frame.intent == "schedule.day"
    assert reply.to_json()["slots"]["date"]["from"] == "2026-11-30"
    listed = [line for line in reply.answer.items if line.startswith("•")]
    assert listed and all(any(t in line for t in titles) for line in listed)


def test_a_field_after_a_brigade_is_its_heads(raw: Raw) -> None:
    head = raw.person("Петров")
    reply = ask(raw, "кто бригадир третьей бригады", "а почта")
    assert reply.frame.intent == "employee.info"
    assert str(head["EMAIL"]) in reply.text


def test_the_last_cleaning_as_a_followup_looks_back(raw: Raw) -> None:
    reply = ask(raw, "когда уборка на майской 8", "а последняя когда была")
    assert reply.frame.intent == "house.schedule" and reply.frame.slots.get("last")


def test_two_fields_of_a_person_are_both_answered(raw: Raw) -> None:
    person = raw.person("Петров")
    reply = ask(raw, "телефон и должность петрова")
    assert str(person["WORK_POSITION"]) in reply.text
    assert str(person["EMAIL"]) in reply.text


def test_a_part_of_the_list_asked_beside_it_keeps_the_whole_list(raw: Raw) -> None:
    person = raw.person("Коновалов")
    mine = [
        t
        for t in raw.tasks
        if str(t.get("responsibleId")) == str(person["ID"]) and str(t["status"]) != "5"
    ]
    reply = ask(raw, "какие задачи у коновалова и какие из них на завтра")
    assert mine and len(reply.answer.items) == len(mine)
    assert "Из них на завтра" in reply.text


def test_a_comparison_of_two_named_towns(raw: Raw) -> None:
    by_town = Counter(
        "Кондрово" if str(d["TITLE"]).startswith("Кондрово,") else "Калуга"
        for d in raw.rest.houses()
    )
    reply = ask(raw, "где меньше домов в калуге или в кондрово")
    assert reply.frame.intent == "rank"
    assert f"Кондрово — {n(by_town['Кондрово'])}" in reply.text
    assert f"Калуга — {n(by_town['Калуга'])}" in reply.text


def test_a_comparison_of_two_people_is_of_their_brigades(raw: Raw) -> None:
    reply = ask(raw, "у кого больше домов у петрова или у коновалова")
    assert reply.frame.intent == "rank"
    assert [line.split(".")[0] for line in reply.answer.items] == ["1", "2"]
    assert f"{n(len(raw.brigade_houses(3)))} дом" in reply.text
    assert f"{n(len(raw.brigade_houses(4)))} дом" in reply.text


def test_a_second_filter_of_one_kind_is_not_dropped(raw: Raw) -> None:
    reply = ask(raw, "сколько домов у коновалова и у ершовой")
    assert f"{n(len(raw.brigade_houses(4)))} дом" not in reply.text
    assert "ершов" in reply.text.lower()


def test_an_entrance_called_paradnaya_is_counted(raw: Raw) -> None:
    total = sum(raw.rest.count(d, "entrances") or 0 for d in raw.brigade_houses(5))
    reply = ask(raw, "сколько парадных у пятой бригады")
    assert reply.frame.intent == "count" and reply.to_json()["slots"]["metric"] == "entrances"
    assert n(total) in reply.text


def test_a_persons_area_is_their_brigades_houses(raw: Raw) -> None:
    reply = ask(raw, "какие адреса на участке ершовой")
    assert reply.frame.intent == "houses.list"
    assert len(reply.answer.items) == len(raw.brigade_houses(2))


@pytest.mark.parametrize(
    "text", ["к кому обратиться по вопросам зарплаты", "кому звонить насчёт зп"]
)
def test_who_handles_a_topic(raw: Raw, text: str) -> None:
    accountants = [u for u in raw.rest.people() if u.get("WORK_POSITION") == "Бухгалтер"]
    reply = ask(raw, text)
    assert reply.to_json()["slots"]["position"] == "Бухгалтер"
    assert accountants and len(reply.answer.items) == len(accountants)


def test_houses_with_an_empty_bounded_field_are_said_not_counted(raw: Raw) -> None:
    empty = sum(1 for d in raw.rest.houses() if raw.extra(d, "Количество лифтов") is None)
    reply = ask(raw, "сколько домов без лифта")
    assert empty and f"не указано у {n(empty)} дом" in reply.text


def test_people_on_a_street_are_of_the_brigades_serving_it(raw: Raw) -> None:
    brigades = {
        raw.rest.brigade(d)
        for d in raw.rest.houses()
        if " Московская " in f" {d['TITLE']} " and not str(d["TITLE"]).startswith("Кондрово,")
    }
    heads = [
        u
        for u in raw.rest.people()
        if u.get("WORK_POSITION") == "Бригадир" and raw.rest.person_brigade(u) in brigades
    ]
    reply = ask(raw, "кто бригадир на московской")
    assert len(brigades) > 1 and len(reply.answer.items) == len(heads)
    assert all(any(str(u["LAST_NAME"]) in line for u in heads) for line in reply.answer.items)


def test_a_colloquial_company_word_picks_the_houses_company(raw: Raw) -> None:
    reply = ask(raw, "номер управляйки на жукова 7")
    assert reply.frame.intent == "company.info"
    assert reply.to_json()["slots"]["field"] == "phone"


def test_who_is_responsible_for_a_town(raw: Raw) -> None:
    houses = [d for d in raw.rest.houses() if str(d["TITLE"]).startswith("Кондрово,")]
    reply = ask(raw, "не подскажете, кто у нас отвечает за кондрово")
    assert reply.frame.intent == "houses.list" and len(reply.answer.items) == len(houses)


def _office_people(raw: Raw) -> list[Record]:
    """Active people of the office department or a department under it, from raw REST."""
    deps = raw.data.departments  # department.get as the portal answered it
    office = {str(d["ID"]) for d in deps if d.get("NAME") == "Офис"}
    grew = True
    while grew:
        more = {str(d["ID"]) for d in deps if str(d.get("PARENT")) in office}
        grew = not more <= office
        office |= more
    return [
        u for u in raw.rest.people() if {str(x) for x in u.get("UF_DEPARTMENT") or []} & office
    ]


def test_a_department_narrows_people(raw: Raw) -> None:
    office = _office_people(raw)
    reply = ask(raw, "сколько человек работает в офисе")
    assert office and f"{n(len(office))}." in reply.text
    assert f"{n(len(raw.rest.people()))}" not in reply.text


def test_the_head_of_a_department(raw: Raw) -> None:
    deps = raw.data.departments
    head = next(str(d["UF_HEAD"]) for d in deps if d.get("NAME") == "Офис")
    reply = ask(raw, "кто руководит офисом")
    assert reply.frame.intent == "employee.info"
    assert reply.frame.slots["person"].id == head


@pytest.mark.parametrize("text", ["дома трет бригада", "дома бригада трет"])
def test_a_clipped_ordinal_names_the_brigade(raw: Raw, text: str) -> None:
    reply = ask(raw, text)
    assert reply.to_json()["slots"].get("brigade") == 3
    assert len(reply.answer.items) == len(raw.brigade_houses(3))


def test_a_title_word_is_not_dropped_from_a_set_of_houses(raw: Raw) -> None:
    reply = ask(raw, "есть жалобы по майской")
    assert not reply.answer.items and "жалобы" in reply.text


@pytest.mark.parametrize(
    "text", ["сколько домов с домофоном", "сколько домов с периодичностью 2 раза"]
)
def test_a_known_word_no_filter_takes_is_not_dropped(raw: Raw, text: str) -> None:
    reply = ask(raw, text)
    assert f"{n(total_houses(raw))}" not in reply.text and not reply.answer.items


def test_the_head_for_a_town_is_of_the_brigades_serving_it(raw: Raw) -> None:
    brigades = {
        raw.rest.brigade(d) for d in raw.rest.houses() if str(d["TITLE"]).startswith("Кондрово,")
    }
    heads = [
        str(u["LAST_NAME"])
        for u in raw.rest.people()
        if u.get("WORK_POSITION") == "Бригадир" and raw.rest.person_brigade(u) in brigades
    ]
    reply = ask(raw, "не подскажете, кто старший по кондрово")
    assert heads and len(reply.answer.items) == len(heads)
    assert all(any(h in line for h in heads) for line in reply.answer.items)


def test_who_looks_after_a_street(raw: Raw) -> None:
    reply = ask(raw, "кто курирует майскую")
    assert reply.frame.intent == "houses.list"
    titles = [d["TITLE"] for d in raw.rest.houses() if str(d["TITLE"]).startswith("Майская ")]
    assert len(reply.answer.items) == len(titles)


def test_the_biggest_object_is_a_house(raw: Raw) -> None:
    reply = ask(raw, "какой объект самый большой")
    assert reply.frame.intent == "rank" and reply.to_json()["slots"]["by"] == "house"


def test_tasks_that_burn_are_overdue(raw: Raw) -> None:
    assert ask(raw, "задачи которые горят").to_json()["slots"].get("overdue") is True


def test_a_house_field_as_a_followup(raw: Raw) -> None:
    code = raw.extra(raw.house("Майская 8"), "Код домофона")
    reply = ask(raw, "майская 8", "а код домофона")
    assert code and reply.frame.slots.get("field") == "intercom" and code in reply.text


def test_overdue_as_a_followup_is_every_overdue_task(raw: Raw) -> None:
    reply = ask(raw, "задачи на завтра", "а просроченные")
    slots = reply.to_json()["slots"]
    assert slots.get("overdue") is True and "date" not in slots


def test_who_cleans_it_as_a_followup_is_the_houses_card(raw: Raw) -> None:
    reply = ask(raw, "майская 8", "а кто там убирает")
    assert reply.frame.intent == "house.info"
    assert f"Бригада: {raw.rest.brigade(raw.house('Майская 8'))}" in reply.text


def test_the_head_of_our_company_is_no_list_of_management_companies(raw: Raw) -> None:
    deps = raw.data.departments
    root = next(str(d["UF_HEAD"]) for d in deps if not d.get("PARENT"))
    reply = ask(raw, "кто руководитель компании")
    assert reply.frame.intent == "employee.info" and reply.frame.slots["person"].id == root


def test_who_leads_a_management_company_is_its_contact(raw: Raw) -> None:
    reply = ask(raw, "кто руководит ук гарант")
    assert reply.frame.intent == "company.info"
    assert reply.to_json()["slots"]["field"] == "contact"


def test_a_number_of_cleanings_on_a_day_is_that_days_schedule(raw: Raw) -> None:
    reply = ask(raw, "сколько уборок завтра")
    assert reply.frame.intent == "schedule.day"


# ---------------------------------------------------------------------- tune5: the fifth writer
def test_me_in_a_statement_beside_a_question_needs_no_sign_in(raw: Raw) -> None:
    company = next(c for c in raw.companies if "Надёжный дом" in str(c["TITLE"]))
    houses = [d for d in raw.rest.houses() if str(d.get("COMPANY_ID")) == str(company["ID"])]
    reply = ask(raw, "Мне дали участок, говорят, это дома УК «Надёжный дом». Какие это адреса?")
    assert reply.frame.intent == "houses.list"
    assert houses and len(reply.answer.items) == len(houses)
    # «мне» in the question itself still needs the asker.
    mine = ask(raw, "Мне дали участок. Какие у меня дома?")
    assert "Не знаю, кто вы" in mine.text


def test_a_remark_after_the_question_narrows_nothing(raw: Raw) -> None:
    friday = date(2026, 11, 27)
    names = [str(e["NAME"]) for e in raw.events if _event_day(e) == friday]
    reply = ask(
        raw, "Скажите, пожалуйста, что у нас в календаре в пятницу? Не хочу пропустить собрание."
    )
    assert "text" not in reply.to_json()["slots"]
    assert len(names) > 1 and len(reply.answer.items) == len(names)


def test_the_people_of_a_persons_brigade(raw: Raw) -> None:
    brigade = raw.rest.person_brigade(raw.person("Коновалов"))
    people = [u for u in raw.rest.people() if raw.rest.person_brigade(u) == brigade]
    reply = ask(raw, "Перечислите, пожалуйста, сотрудников бригады Коновалова.")
    assert reply.frame.intent == "employees.list"
    assert len(reply.answer.items) == len(people)


def test_the_word_tasks_sets_the_subject(raw: Raw) -> None:
    quality = [
        t
        for t in raw.tasks
        if "качеств" in str(t["title"]).lower() and str(t["status"]) not in ("5", "7")
    ]
    reply = ask(raw, "задачи по проверке качества уборки")
    assert reply.frame.intent == "tasks.list"
    assert quality and len(reply.answer.items) == len(quality)


def test_a_street_names_a_calendar_event(raw: Raw) -> None:
    names = [str(e["NAME"]) for e in raw.events if "Жукова" in str(e["NAME"])]
    reply = ask(raw, "когда проверка качества на жукова")
    assert reply.frame.intent == "calendar.list" and not reply.frame.problems
    assert names and len(reply.answer.items) == len(names)


def test_the_crew_note_by_its_keys(raw: Raw) -> None:
    note = raw.extra(raw.house("Карачевская 50"), "Комментарий для бригады")
    reply = ask(raw, "карачевская 50 чё там по ключам комментарий есть")
    assert note and note in reply.text


# ---------------------------------------------------------------------- tune6: the sixth writer
def test_the_address_of_a_named_management_company_is_its_field(raw: Raw) -> None:
    company = next(c for c in raw.companies if "Управление домами" in str(c["TITLE"]))
    reply = ask(raw, "адрес мупа управление домами")
    assert reply.frame.intent == "company.info"
    assert reply.to_json()["slots"]["field"] == "address"
    address = str(company.get("ADDRESS") or "").strip()
    assert (address or "Адрес: не указан") in reply.text
    # «адреса домов» of a УК are still its houses.
    houses = [d for d in raw.rest.houses() if str(d.get("COMPANY_ID")) == str(company["ID"])]
    listed = ask(raw, "адреса мупа управление домами")
    assert listed.frame.intent == "houses.list" and len(listed.answer.items) == len(houses)


def test_all_of_there_after_a_street_is_that_streets_total(raw: Raw) -> None:
    houses = [d for d in raw.rest.houses() if re.fullmatch(r"Майская \S+", str(d["TITLE"]))]
    entrances = sum(raw.rest.count(d, "entrances") or 0 for d in houses)
    reply = ask(raw, "какие дома на майской", "а подъездов там сколько всего")
    assert reply.to_json()["slots"].get("street") == "Майская"
    assert f"подъездов — {n(entrances)}" in reply.text


def test_a_story_after_the_question_is_no_condition(raw: Raw) -> None:
    person = raw.person("Филиппов")
    reply = ask(raw, "Кто такой Филиппов? Он мне сегодня звонил, а я не знаю, кто это.")
    assert reply.frame.intent == "employee.info"
    assert reply.frame.slots["person"].id == str(person["ID"])
    assert str(person["WORK_POSITION"]) in reply.text


def test_a_first_name_asked_about_in_the_nominative_is_asked_back(raw: Raw) -> None:
    named = [u for u in raw.rest.people() if u.get("NAME") == "Оксана"]
    reply = ask(raw, "Подскажите, в какой бригаде Оксана? Она мне вчера помогала.")
    assert reply.frame.clarify and len(reply.frame.choices) == len(named) > 1


@pytest.mark.parametrize("text", [
    "алло алло слышишь меня",
    "вы меня слышите",
])  # fmt: skip
def test_checking_the_line_is_a_greeting(raw: Raw, text: str) -> None:
    assert ask(raw, text).frame.intent == "greeting"


@pytest.mark.parametrize("text", [
    "Подскажите, какие команды поддерживает бот?",
    "Что я могу у вас узнать? Я только первую неделю работаю.",
])  # fmt: skip
def test_what_the_bot_can_do_is_help(raw: Raw, text: str) -> None:
    assert ask(raw, text).frame.intent == "help"


def test_an_apology_before_the_question_narrows_nothing(raw: Raw) -> None:
    directors = [u for u in raw.rest.people() if u.get("WORK_POSITION") == "Директор"]
    reply = ask(raw, "Простите за глупый вопрос, а кто у нас директор?")
    assert reply.frame.intent == "employees.list"
    assert directors and len(reply.answer.items) == len(directors)
    assert str(directors[0]["LAST_NAME"]) in reply.text


def test_who_asked_for_the_figure_is_no_filter(raw: Raw) -> None:
    lifts = sum(int(raw.extra(d, "Количество лифтов") or 0) for d in raw.rest.houses())
    reply = ask(raw, "Директор попросил прикинуть: сколько лифтов во всех наших домах в сумме?")
    assert reply.frame.intent == "count" and not reply.frame.problems
    assert f"Лифтов: {n(lifts)}" in reply.text


def test_a_house_number_answers_which_house(raw: Raw) -> None:
    reply = ask(raw, "майская 23 когда уборка", "23/2")
    assert reply.frame.intent == "house.schedule"
    assert reply.frame.slots["house"].id == str(raw.house("Майская 23/2")["ID"])


def test_a_town_picks_the_street_among_namesakes(raw: Raw) -> None:
    houses = [d for d in raw.rest.houses() if re.fullmatch(r"Кирова \S+", str(d["TITLE"]))]
    reply = ask(raw, "Какие дома в Калуге на улице Кирова?")
    assert not reply.frame.clarify and reply.to_json()["slots"]["street"] == "Кирова"
    assert houses and len(reply.answer.items) == len(houses)


def test_what_stands_in_the_calendar_is_no_price(raw: Raw) -> None:
    names = [
        e
        for e in raw.events
        if "Планёрка" in str(e["NAME"]) and (_event_day(e) or TODAY).month == 11
    ]
    reply = ask(raw, "Сколько планёрок бригадиров стоит в календаре на ноябрь?")
    assert reply.frame.intent == "calendar.list"
    assert names and len(reply.answer.items) == len(names)


def test_a_verb_after_uk_is_no_company_name(raw: Raw) -> None:
    per_company = Counter(
        str(d.get("COMPANY_ID")) for d in raw.rest.houses() if d.get("COMPANY_ID")
    )
    reply = ask(raw, "Какая управляющая компания даёт нам больше всего домов?")
    assert reply.frame.intent == "rank" and not reply.frame.problems
    assert f"— {n(per_company.most_common(1)[0][1])} дом" in reply.text


def test_a_bound_said_inclusive_is_kept(raw: Raw) -> None:
    small = [d for d in raw.rest.houses() if (raw.rest.count(d, "apartments") or 99) <= 10]
    reply = ask(raw, "какие у нас самые маленькие дома, ну где до десяти квартир включительно")
    assert reply.frame.intent == "houses.list"
    assert small and len(reply.answer.items) == len(small)


def test_the_other_end_of_a_ranking_as_a_followup(raw: Raw) -> None:
    per_brigade = Counter(raw.rest.brigade(d) for d in raw.rest.houses())
    least = min(per_brigade.values())
    reply = ask(raw, "у какой бригады больше всего домов", "а меньше всего")
    assert reply.frame.intent == "rank" and reply.frame.slots.get("order") == "least"
    assert f"— {n(least)} дом" in reply.text.splitlines()[0]
