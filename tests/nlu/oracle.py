"""The answer oracle: what a correct answer must state, computed from raw REST.

Independent of the code under test: it reads the portal with plain httpx (`tests.domain.raw`),
with the demo portal's *known* labels, and never imports `bitrix.company`, `bitrix.mapping` or
the engine. Each corpus item (`tests/nlu/answers/*.yaml`) says what its question means as a
query — ``subject``, ``shape``, ``filters``, ``field``, ``by`` — written by someone who never saw
the engine; `Oracle.facts` turns that query into `Facts`: the numbers and names the answer must
contain, and the names it may list. `score` then compares a real answer with them.

Scoring (per item):
- **correct**: the expected kind of answer with every required fact;
- **wrong facts**: the answer gives data (numbers or a list) that is not what was asked: a
  required number is missing, or it lists something outside the asked-for set — the worst
  outcome, because a person cannot tell;
- **declined correctly**: a not-found, clarify, out-of-domain or write request that got no data;
- **wrongly declined**: an answerable question answered without data (not understood, asked
  back, or said not found);
- **unscorable**: a query this oracle does not model (reported, never counted as correct).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bitrix.demo import DemoLayout, YearMonth
from tests.domain.raw import RawPortal, fetch_all

Record = dict[str, Any]
TZ = ZoneInfo("Europe/Moscow")
MONTHS_GENITIVE = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
#: A number as answers write it («44 802» grouped); digits glued to letters («Bitrix24») are not.
_NUMBER = re.compile(r"(?<![^\W_])(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+)")
#: Ways an answer says an existing set is empty.
NOTHING = ["нет", "ни одного", "не найдено", "ничего не"]
#: How an answer says a house has no cleaning planned (before or after today).
_NONE_PLANNED = ["нет", "не запланирован", "ничего"]
_NOT_FOUND = re.compile(
    r"не нашёл|не нашел|не найден|нет в базе|нет в bitrix|нет такого|нет такой|не знаю так"
    r"|закрыт|не обслуживаем|уточните|не понял|больше не работает|нет среди"
    # «Бригады 8 нет — бригад всего 6.»
    r"|^\w+ \d+ нет\b",
    re.IGNORECASE | re.MULTILINE,
)


#: Ways an answer refuses to answer (no data, whatever digits its examples contain: «Не могу
#: применить «петров» … например: «дома бригады 3»»).
_DECLINE = re.compile(r"не могу применить|не смог применить|не понял", re.IGNORECASE)


class Unscorable(Exception):
    """The oracle does not model this query."""


@dataclass
class Facts:
    """What a correct answer to one item must (and may) state."""

    expect: str
    #: Every one of these integers must appear in the answer.
    numbers: list[int] = field(default_factory=list)
    #: Each group: at least one of its strings must appear (case-insensitive).
    texts: list[list[str]] = field(default_factory=list)
    #: Names the answer may list as bullet items; anything else listed is a wrong fact.
    allowed: set[str] | None = None


@dataclass
class Score:
    """The verdict on one answer."""

    outcome: str  # correct | wrong_fact | declined_ok | wrong_decline | other
    reason: str = ""


def numbers_in(text: str) -> set[int]:
    """Every integer the text states, with digit groups («44 802») joined."""
    return {int(re.sub(r"\D", "", m.group(0))) for m in _NUMBER.finditer(text)}


def bullets(text: str) -> list[str]:
    """The bullet lines of a list answer, without the bullet."""
    return [line.strip()[1:].strip() for line in text.splitlines() if line.strip().startswith("•")]


def names_in_line(line: str, allowed: set[str]) -> bool:
    """Whether a bullet line names one of ``allowed`` (a whole name: «Кирова 3» ≠ «Кирова 38»)."""
    for name in allowed:
        start = line.find(name)
        while start >= 0:
            end = start + len(name)
            if end == len(line) or not line[end].isalnum():
                return True
            start = line.find(name, start + 1)
    return False


def gives_data(text: str) -> bool:
    """Whether an answer states numbers or lists things (not a refusal or a question)."""
    return bool(bullets(text)) or bool(numbers_in(text))


def brigade_forms(number: int | None) -> list[str]:
    """Ways an answer names brigade ``number`` («бригада 4», «Бригада: 4», «в бригаде 4»)."""
    return [f"re:бригад\\w*:? {number}(?!\\d)", f"re:(?<!\\d){number}\\W{{1,3}}бригад"]


def _digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[-10:]


def _day_forms(day: date) -> list[str]:
    return [f"{day.day} {MONTHS_GENITIVE[day.month - 1]}", f"{day:%d.%m}"]


# ---------------------------------------------------------------------------------- the oracle
@dataclass
class Oracle:
    """Facts of the demo portal read through raw REST (see the module docstring)."""

    rest: RawPortal
    today: date
    months: list[YearMonth]
    companies: dict[str, Record]
    tasks: list[Record]
    events: list[Record]

    @classmethod
    async def fetch(
        cls, webhook_url: str, layout: DemoLayout, today: date, months: Iterable[YearMonth]
    ) -> Oracle:
        """Read everything the oracle needs from the portal."""
        rest = await RawPortal.fetch(webhook_url, layout)
        async with httpx.AsyncClient(base_url=webhook_url, timeout=30) as http:
            companies = await fetch_all(
                http, "crm.company.list", {"select": ["*", "PHONE", "EMAIL"]}
            )
            tasks: list[Record] = []
            start: int | None = 0
            for _ in range(50):
                if start is None:
                    break
                answer = (
                    await http.post(
                        "tasks.task.list", json={"select": ["*", "UF_CRM_TASK"], "start": start}
                    )
                ).json()
                tasks.extend(answer["result"]["tasks"])
                start = answer.get("next")
            window = {"from": f"{today.year - 1}-01-01", "to": f"{today.year + 1}-12-31"}
            events: list[Record] = []
            for kind in ("company_calendar", "user"):
                answer = (
                    await http.post(
                        "calendar.event.get", json={"type": kind, "ownerId": 0, **window}
                    )
                ).json()
                events.extend(answer.get("result") or [])
        return cls(
            rest=rest,
            today=today,
            months=list(months),
            companies={str(c["ID"]): c for c in companies},
            tasks=tasks,
            events=events,
        )

    # ------------------------------------------------------------------ lookups
    def user_named(self, full_name: str) -> Record:
        """A user by «Фамилия Имя Отчество» (or a prefix of it)."""
        wanted = full_name.lower().replace("ё", "е").split()
        for user in self.rest.users.values():
            name = (
                f"{user.get('LAST_NAME', '')} {user.get('NAME', '')} {user.get('SECOND_NAME', '')}"
            )
            parts = name.lower().replace("ё", "е").split()
            if parts[: len(wanted)] == wanted:
                return user
        raise Unscorable(f"no user {full_name!r}")

    def house_titled(self, title: str) -> Record:
        """An active house by its deal title."""
        for deal in self.rest.houses():
            if deal["TITLE"].strip().lower() == title.strip().lower():
                return deal
        raise Unscorable(f"no active house {title!r}")

    def company_named(self, name: str) -> Record:
        wanted = _core(name)
        for company in self.companies.values():
            if _core(company["TITLE"]) == wanted:
                return company
        raise Unscorable(f"no company {name!r}")

    def value(self, deal: Record, label: str) -> Any:
        code = self.rest.code(label)
        value = deal.get(code)
        return None if value in (None, "", []) else value

    def number(self, deal: Record, role: str) -> int | None:
        if role == "lifts":
            value = self.value(deal, "Количество лифтов")
            return None if value is None else int(value)
        return self.rest.count(deal, role)

    def town(self, deal: Record) -> str:
        title = deal["TITLE"].strip()
        return title.split(",", 1)[0].strip() if "," in title else "Калуга"

    def street(self, deal: Record) -> str:
        title = deal["TITLE"].strip().split(",", 1)[-1].strip()
        words = title.split()
        while words and re.match(r"\d", words[-1]):
            words.pop()
        return " ".join(words)

    def town_street(self, deal: Record) -> str:
        """A street named with its town outside Калуга («Кондрово, Ленина»): one street each."""
        town = self.town(deal)
        return self.street(deal) if town == "Калуга" else f"{town}, {self.street(deal)}"

    def house_type(self, deal: Record) -> str | None:
        code = self.rest.code("Тип дома")
        return self.rest.options(code).get(str(deal.get(code))) if deal.get(code) else None

    def brigade_head(self, number: int) -> Record | None:
        for department in self.rest.departments.values():
            if department["NAME"] == f"Бригада {number}" and department.get("UF_HEAD"):
                return self.rest.users.get(str(department["UF_HEAD"]))
        return None

    def brigade_people(self, number: int) -> list[Record]:
        return [u for u in self.rest.people() if self.rest.person_brigade(u) == number]

    def visits(self, deal: Record) -> list[date]:
        return sorted(day for m in self.months for day, _label in self.rest.schedule(deal, m))

    # ------------------------------------------------------------------ house filters
    def houses(self, filters: dict[str, Any]) -> list[Record]:
        """Active houses matching the house filters of a query."""
        out = []
        person_brigade = None
        if "person" in filters:
            person_brigade = self.rest.person_brigade(self.user_named(str(filters["person"])))
        company_id = None
        if "company" in filters:
            company_id = str(self.company_named(str(filters["company"]))["ID"])
        days = self.date_range(filters["date"]) if "date" in filters else None
        for deal in self.rest.houses():
            if "brigade" in filters and self.rest.brigade(deal) != int(filters["brigade"]):
                continue
            if days is not None and not any(days[0] <= d <= days[1] for d in self.visits(deal)):
                continue  # «сколько домов убираем завтра»: houses with a visit on those days
            if person_brigade is not None and self.rest.brigade(deal) != person_brigade:
                continue
            if company_id is not None and str(deal.get("COMPANY_ID") or "") != company_id:
                continue
            if filters.get("no_company") and deal.get("COMPANY_ID") not in (None, "", "0"):
                continue
            if "town" in filters and self.town(deal).lower() != str(filters["town"]).lower():
                continue
            if "street" in filters and self.street(deal).lower() != str(filters["street"]).lower():
                continue
            if "house" in filters and deal["TITLE"].strip() != str(filters["house"]).strip():
                continue
            if (
                "house_type" in filters
                and (self.house_type(deal) or "").lower() != str(filters["house_type"]).lower()
            ):
                continue
            if not all(
                self._in_range(self.number(deal, role), filters[role])
                for role in ("floors", "entrances", "apartments", "lifts")
                if role in filters
            ):
                continue
            out.append(deal)
        return out

    @staticmethod
    def _in_range(value: int | None, bounds: Any) -> bool:
        if value is None:
            return False
        if not isinstance(bounds, dict):
            return value == int(bounds)
        low, high = bounds.get("min"), bounds.get("max")
        return (low is None or value >= int(low)) and (high is None or value <= int(high))

    def date_range(self, value: Any) -> tuple[date, date]:
        if isinstance(value, dict):
            return date.fromisoformat(str(value["from"])), date.fromisoformat(str(value["to"]))
        day = date.fromisoformat(str(value))
        return day, day

    # ------------------------------------------------------------------ facts
    def facts(self, item: dict[str, Any]) -> Facts:
        """What the answer to ``item`` must state (raises `Unscorable`)."""
        expect = str(item["expect"])
        if expect != "answer":
            return Facts(expect)
        query = item.get("query") or {}
        subject, shape = str(query.get("subject")), str(query.get("shape"))
        filters: dict[str, Any] = dict(query.get("filters") or {})
        handler = getattr(self, f"_{subject}_{shape}", None)
        if handler is None:
            raise Unscorable(f"{subject}/{shape}")
        facts: Facts = handler(filters, query)
        return facts

    def _titles(self, deals: Iterable[Record]) -> set[str]:
        return {d["TITLE"].strip() for d in deals}

    def _houses_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        houses = self.houses(filters)
        return Facts("answer", numbers=[len(houses)])

    def _houses_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        houses = self.houses(filters)
        if not houses:
            return Facts("answer", texts=[NOTHING], allowed=set())
        return Facts("answer", numbers=[len(houses)], allowed=self._titles(houses))

    def _sum(self, role: str, filters: dict[str, Any]) -> Facts:
        houses = self.houses(filters)
        total = sum(self.number(d, role) or 0 for d in houses)
        return Facts("answer", numbers=[total])

    def _apartments_sum(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._sum("apartments", filters)

    def _entrances_sum(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._sum("entrances", filters)

    def _floors_sum(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._sum("floors", filters)

    def _lifts_sum(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._sum("lifts", filters)

    def _top(self, role: str | None, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        by = str(query.get("by", "brigade"))
        totals: Counter[str] = Counter()
        keys: dict[str, Callable[[Record], str]] = {
            "brigade": lambda d: str(self.rest.brigade(d)),
            "street": self.town_street,
            "town": self.town,
            "house": lambda d: str(d["TITLE"]).strip(),
            "company": lambda d: str(d.get("COMPANY_ID") or ""),
        }
        for deal in self.houses(filters):
            key = keys[by](deal)
            if by == "company" and not key:
                continue
            totals[key] += 1 if role is None else (self.number(deal, role) or 0)
        ranked = totals.most_common()
        if query.get("order") == "min":
            ranked = sorted(totals.items(), key=lambda kv: kv[1])
        winner, value = ranked[0]
        if by == "brigade":
            names = [f"бригада {winner}", f"бригады {winner}", f"{winner} бригад"]
        elif by == "company":
            names = [_core(self.companies[winner]["TITLE"])]
        else:
            names = [winner]
        return Facts("answer", numbers=[value], texts=[names])

    def _houses_top(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._top(None, filters, query)

    def _apartments_top(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._top("apartments", filters, query)

    def _entrances_top(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._top("entrances", filters, query)

    def _floors_top(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._top("floors", filters, query)

    def _lifts_top(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._top("lifts", filters, query)

    # ------------------------------------------------------------------ one house
    def _house_field(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        deal = self.house_titled(str(filters.get("house")))
        name = str(query.get("field"))
        empty = ["не указан", "не заполнен", "нет данных", "пуст", "не знаю"]
        if name in ("apartments", "entrances", "floors", "lifts"):
            value = self.number(deal, name)
            return (
                Facts("answer", numbers=[value])
                if value is not None
                else Facts("answer", texts=[empty])
            )
        if name in ("intercom", "note"):
            label = "Код домофона" if name == "intercom" else "Комментарий для бригады"
            text = self.value(deal, label)
            return Facts("answer", texts=[[str(text)] if text else empty])
        if name == "house_type":
            kind = self.house_type(deal)
            return Facts("answer", texts=[[kind[:6]] if kind else empty])
        if name == "company":
            company = self.companies.get(str(deal.get("COMPANY_ID") or ""))
            return Facts(
                "answer",
                texts=[[_core(company["TITLE"])] if company else ["без ук", "нет ук", *empty]],
            )
        if name in ("company_phone", "company_email", "company_address"):
            # «телефон УК на Жукова 7»: the house's УК by COMPANY_ID, then that company's field
            # as `_company_field` reads it; the УК must be named too.
            company = self.companies.get(str(deal.get("COMPANY_ID") or ""))
            if company is None:
                return Facts("answer", texts=[["без ук", "нет ук", "не указана"]])
            field = self._company_field({"company": company["TITLE"]}, {"field": name})
            return Facts("answer", texts=[[_core(company["TITLE"])], *field.texts])
        if name in ("brigade", "head"):
            number = self.rest.brigade(deal)
            assert number is not None
            head = self.brigade_head(number)
            texts = [brigade_forms(number)]
            if name == "head" and head is not None:
                texts = [[str(head["LAST_NAME"])]]
            return Facts("answer", texts=texts)
        if name == "address":
            return Facts("answer", texts=[[deal["TITLE"].strip()]])
        if name == "periodicity":
            this_month = YearMonth.of(self.today)
            count = len(self.rest.schedule(deal, this_month))
            # How the count of visits is phrased varies («2 раза + подметания»): the house and
            # its schedule are what must be there.
            title = [deal["TITLE"].strip()]
            return Facts("answer", texts=[title, ["раз", "уборк"]] if count else [title])
        raise Unscorable(f"house field {name}")

    def _house_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        if "house" in filters:
            # «что за дом ленина 62»: the card of that one house, which names it.
            return Facts("answer", texts=[[self.house_titled(str(filters["house"]))["TITLE"]]])
        return self._houses_list(filters, query)

    def _schedule_when(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        deal = self.house_titled(str(filters.get("house")))
        visits = self.visits(deal)
        if filters.get("last"):
            past = [d for d in visits if d < self.today]
            if not past:
                # Nothing planned before today: the answer must say so, and name no day.
                return Facts("answer", texts=[_NONE_PLANNED], allowed=set())
            return Facts("answer", texts=[_day_forms(past[-1])])
        if filters.get("next"):
            future = [d for d in visits if d >= self.today]
            if not future:
                return Facts("answer", texts=[_NONE_PLANNED], allowed=set())
            return Facts("answer", texts=[_day_forms(future[0])])
        if "month" in filters:
            year, month = (int(p) for p in str(filters["month"]).split("-"))
            days = [d for d in visits if (d.year, d.month) == (year, month)]
        elif "date" in filters:
            start, end = self.date_range(filters["date"])
            days = [d for d in visits if start <= d <= end]
        else:
            this_month = (self.today.year, self.today.month)
            days = [d for d in visits if (d.year, d.month) == this_month]
        if not days:
            return Facts("answer", texts=[["нет", "не запланирован", "ничего"]])
        return Facts("answer", texts=[_day_forms(d) for d in days])

    def _schedule_day(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        if "date" not in filters:
            raise Unscorable("schedule/day without a date")
        start, end = self.date_range(filters["date"])
        rest = {k: v for k, v in filters.items() if k != "date"}
        houses = [
            d for d in self.houses(rest) if any(start <= day <= end for day in self.visits(d))
        ]
        if not houses:
            return Facts(
                "answer", texts=[["ничего не запланировано", "нет уборок", "нет"]], allowed=set()
            )
        return Facts("answer", numbers=[len(houses)], allowed=self._titles(houses))

    # ------------------------------------------------------------------ people
    def _people(self, filters: dict[str, Any]) -> list[Record]:
        people = self.rest.people()
        if "brigade" in filters:
            people = [u for u in people if self.rest.person_brigade(u) == int(filters["brigade"])]
        if "person" in filters:
            number = self.rest.person_brigade(self.user_named(str(filters["person"])))
            people = [u for u in people if self.rest.person_brigade(u) == number]
        if "position" in filters:
            people = [u for u in people if _same_position(u, filters["position"])]
        if "department" in filters:
            names = {
                str(d["ID"])
                for d in self.rest.departments.values()
                if str(d["NAME"]).lower() == str(filters["department"]).lower()
            }
            people = [u for u in people if {str(x) for x in u.get("UF_DEPARTMENT") or []} & names]
        return people

    def _people_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return Facts("answer", numbers=[len(self._people(filters))])

    def _people_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        people = self._people(filters)
        return Facts(
            "answer",
            numbers=[len(people)] if len(people) > 1 else [],
            texts=[[str(u["LAST_NAME"])] for u in people[:3]],
        )

    def _person_field(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        user = self.user_named(str(filters.get("person")))
        name = str(query.get("field"))
        if name == "phone":
            phones = [
                _digits(str(user[k]))
                for k in ("PERSONAL_MOBILE", "WORK_PHONE", "PERSONAL_PHONE")
                if user.get(k)
            ]
            if not phones:
                return Facts("answer", texts=[["не указан", "нет телефона"]])
            return Facts("answer", texts=[[f"phone:{p}" for p in phones]])
        if name == "position":
            return Facts("answer", texts=[[str(user.get("WORK_POSITION", ""))[:6]]])
        if name == "brigade":
            number = self.rest.person_brigade(user)
            return Facts("answer", texts=[brigade_forms(number)])
        if name == "department":
            names = [
                str(self.rest.departments[str(d)]["NAME"])
                for d in user.get("UF_DEPARTMENT") or []
                if str(d) in self.rest.departments
            ]
            return Facts("answer", texts=[names])
        if name == "email":
            email = user.get("EMAIL")
            return Facts("answer", texts=[[str(email)] if email else ["не указан"]])
        if query.get("field") is None:
            # «кто такая боброва»: the card names her position and her brigade (or department).
            number = self.rest.person_brigade(user)
            where = brigade_forms(number) if number is not None else ["отдел", "подразделени"]
            return Facts("answer", texts=[[str(user.get("WORK_POSITION", ""))[:6]], where])
        raise Unscorable(f"person field {name}")

    def _brigade_field(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        if "brigade" in filters:
            number = int(filters["brigade"])
        elif "person" in filters:
            found = self.rest.person_brigade(self.user_named(str(filters["person"])))
            if found is None:
                raise Unscorable("person without a brigade")
            number = found
        else:
            raise Unscorable("brigade field without a brigade")
        name = str(query.get("field"))
        if name == "head":
            head = self.brigade_head(number)
            if head is None:
                raise Unscorable("brigade without a head")
            return Facts("answer", texts=[[str(head["LAST_NAME"])]])
        if name == "size":
            # «сколько человек в четвёртой»: how many people, whoever they are.
            return Facts("answer", numbers=[len(self.brigade_people(number))])
        if name == "members":
            people = self.brigade_people(number)
            return Facts(
                "answer", numbers=[len(people)], texts=[[str(u["LAST_NAME"])] for u in people[:3]]
            )
        raise Unscorable(f"brigade field {name}")

    def _brigade_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._brigade_field(filters, {**query, "field": "members"})

    def _brigades_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        numbers = {
            self.rest.brigade_department(str(d["ID"])) for d in self.rest.departments.values()
        }
        return Facts("answer", numbers=[len({n for n in numbers if n is not None})])

    def _departments_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        # «сколько всего бригад в компании»: the writers count brigades (facts «6 бригад»),
        # the departments that are a brigade by name; the office is not one.
        return self._brigades_count(filters, query)

    def _departments_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return Facts("answer", texts=[[f"Бригада {n}"] for n in range(1, 7)])

    # ------------------------------------------------------------------ companies
    def _houses_of_company(self, company: Record) -> list[Record]:
        return [
            d for d in self.rest.houses() if str(d.get("COMPANY_ID") or "") == str(company["ID"])
        ]

    def _companies_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return Facts("answer", numbers=[len(self.companies)])

    def _companies_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        if filters:
            # «какие УК работают в Кондрово»: the companies of the matching houses, the
            # three with most of them named.
            counts = Counter(
                str(d.get("COMPANY_ID"))
                for d in self.houses(filters)
                if d.get("COMPANY_ID") not in (None, "", "0")
            )
            top = [cid for cid, _n in counts.most_common(3)]
            return Facts(
                "answer",
                numbers=[len(counts)],
                texts=[[_core(self.companies[cid]["TITLE"])] for cid in top],
            )
        return Facts(
            "answer", texts=[[_core(c["TITLE"])] for c in list(self.companies.values())[:5]]
        )

    def _company_field(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        company = self.company_named(str(filters.get("company")))
        name = str(query.get("field"))
        if name in ("company_phone", "phone"):
            phones = [_digits(p["VALUE"]) for p in company.get("PHONE") or []]
            return Facts("answer", texts=[[f"phone:{p}" for p in phones] or ["не указан"]])
        if name in ("company_email", "email"):
            emails = [p["VALUE"] for p in company.get("EMAIL") or []]
            return Facts("answer", texts=[emails or ["не указан", "нет"]])
        if name in ("company_address", "address"):
            return Facts(
                "answer",
                texts=[
                    [str(company["ADDRESS"])] if company.get("ADDRESS") else ["не указан", "нет"]
                ],
            )
        if name == "contact":
            return Facts("answer", texts=[["не указан", "нет контакт", "телефон"]])
        raise Unscorable(f"company field {name}")

    def _company_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        company = self.company_named(str(filters.get("company")))
        houses = self._houses_of_company(company)
        if not houses:
            return Facts("answer", texts=[NOTHING], allowed=set())
        return Facts("answer", numbers=[len(houses)], allowed=self._titles(houses))

    # ------------------------------------------------------------------ tasks and events
    def _tasks(self, filters: dict[str, Any]) -> list[list[Record]]:
        """The matching open tasks, under each reading of «просрочена» (date or moment)."""
        now = datetime.combine(self.today, datetime.min.time(), tzinfo=TZ) + timedelta(hours=10)
        tasks = [t for t in self.tasks if str(t.get("status")) != "5"]
        if "person" in filters:
            user = self.user_named(str(filters["person"]))
            tasks = [t for t in tasks if str(t.get("responsibleId")) == str(user["ID"])]
        if "brigade" in filters:
            number = int(filters["brigade"])
            members = {str(u["ID"]) for u in self.brigade_people(number)}
            houses = {f"D_{d['ID']}" for d in self.rest.houses() if self.rest.brigade(d) == number}
            tasks = [
                t
                for t in tasks
                if str(t.get("responsibleId")) in members or set(t.get("ufCrmTask") or []) & houses
            ]
        if "house" in filters:
            deal = self.house_titled(str(filters["house"]))
            tasks = [t for t in tasks if f"D_{deal['ID']}" in (t.get("ufCrmTask") or [])]
        if "position" in filters:
            holders = {
                str(u["ID"]) for u in self.rest.people() if _same_position(u, filters["position"])
            }
            tasks = [t for t in tasks if str(t.get("responsibleId")) in holders]
        if "text" in filters:
            stem = str(filters["text"]).lower()[:5]
            tasks = [t for t in tasks if stem in str(t.get("title", "")).lower()]
        if "date" in filters:
            start, end = self.date_range(filters["date"])
            tasks = [
                t
                for t in tasks
                if t.get("deadline")
                and start <= datetime.fromisoformat(t["deadline"]).astimezone(TZ).date() <= end
            ]
        if not filters.get("overdue"):
            return [tasks]

        def deadline(t: Record) -> datetime | None:
            return datetime.fromisoformat(t["deadline"]) if t.get("deadline") else None

        by_day = [t for t in tasks if (d := deadline(t)) and d.astimezone(TZ).date() < self.today]
        by_moment = [t for t in tasks if (d := deadline(t)) and d < now]
        return [by_day, by_moment]

    def _tasks_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        readings = self._tasks(filters)
        counts = sorted({len(r) for r in readings})
        titles = {str(t["title"]).strip() for r in readings for t in r}
        if counts == [0]:
            return Facts("answer", texts=[NOTHING], allowed=set())
        return Facts("answer", texts=[[f"count:{n}" for n in counts]], allowed=titles)

    def _tasks_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return self._tasks_list(filters, query)

    def _events(self, filters: dict[str, Any]) -> list[Record]:
        events = list(self.events)
        if "person" in filters:
            user_id = str(self.user_named(str(filters["person"]))["ID"])
            events = [
                e
                for e in events
                if f"U{user_id}" in (e.get("ATTENDEES_CODES") or [])
                or str(e.get("MEETING_HOST")) == user_id
                or (e.get("CAL_TYPE") == "user" and str(e.get("OWNER_ID")) == user_id)
            ]
        if "text" in filters:
            stem = str(filters["text"]).lower().replace("ё", "е")[:5]
            events = [e for e in events if stem in str(e["NAME"]).lower().replace("ё", "е")]
        if "date" in filters:
            start, end = self.date_range(filters["date"])
            # An event of several days belongs to every day it lasts (29–30.11 is on Monday 30).
            events = [
                e for e in events if _event_day(e) <= end and _event_day(e, "DATE_TO") >= start
            ]
        return events

    def _events_list(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        events = self._events(filters)
        if not events:
            return Facts("answer", texts=[NOTHING], allowed=set())
        names = {str(e["NAME"]).strip() for e in events}
        return Facts("answer", texts=[[n] for n in sorted(names)[:3]], allowed=names)

    def _events_count(self, filters: dict[str, Any], query: dict[str, Any]) -> Facts:
        return Facts("answer", numbers=[len(self._events(filters))])


def _event_day(event: Record, key: str = "DATE_FROM") -> date:
    day, month, year = (int(p) for p in str(event.get(key) or event["DATE_FROM"])[:10].split("."))
    return date(year, month, day)


def _core(title: str) -> str:
    """A company's distinctive name: the words inside «…», lowercased."""
    match = re.search(r"«([^»]+)»", title)
    return (match.group(1) if match else title).strip().lower()


# ---------------------------------------------------------------------------------- scoring
def score(facts: Facts, answer: str, *, intent: str, clarify: bool) -> Score:
    """Compare one real answer with its facts (see the module docstring)."""
    text = answer.lower().replace("ё", "е")
    declined = bool(_DECLINE.search(answer)) and not bullets(answer)
    data = gives_data(answer) and intent not in ("unknown", "help", "greeting") and not declined
    if facts.expect in ("ood", "write"):
        if data:
            return Score("wrong_fact", "answered an out-of-domain or write request with data")
        return Score("declined_ok")
    if facts.expect in ("greeting", "help"):
        return Score("correct" if intent in ("greeting", "help") else "other", intent)
    if facts.expect == "clarify":
        if clarify:
            return Score("declined_ok")
        return Score("wrong_fact" if data else "other", "did not ask which one")
    if facts.expect == "not_found":
        if clarify or _NOT_FOUND.search(answer) or intent == "unknown":
            return Score("declined_ok")
        return Score("wrong_fact" if data else "other", "not said as not found")
    # expect == "answer"
    if clarify:
        return Score("wrong_decline", "asked back")
    if intent == "unknown" or declined or (_NOT_FOUND.search(answer) and not facts.texts):
        return Score("wrong_decline", "declined")
    missing = [n for n in facts.numbers if n not in numbers_in(answer)]
    missing_texts = [group for group in facts.texts if not any(_has(text, g) for g in group)]
    listed = bullets(answer)
    outside = (
        [line for line in listed if not names_in_line(line, facts.allowed)]
        if facts.allowed is not None
        else []
    )
    if outside:
        return Score("wrong_fact", f"listed outside the set: {outside[:3]}")
    if missing or missing_texts:
        reason = f"missing {missing or ''} {[g[0] for g in missing_texts] or ''}".strip()
        if not data:
            return Score("wrong_decline", reason)
        return Score("wrong_fact", reason)
    return Score("correct")


def _has(text: str, wanted: str) -> bool:
    wanted_l = wanted.lower().replace("ё", "е")
    if wanted_l.startswith("phone:"):
        digits = re.sub(r"\D", "", text)
        return wanted_l[6:] in digits
    if wanted_l.startswith("re:"):
        return re.search(wanted_l[3:], text) is not None
    if wanted_l.startswith("count:"):
        return int(wanted_l[6:]) in numbers_in(text)
    return wanted_l in text


def tally(scores: Iterable[Score]) -> dict[str, int]:
    """Counts of outcomes."""
    counts: dict[str, int] = defaultdict(int)
    for s in scores:
        counts[s.outcome] += 1
    return dict(counts)


def _same_position(user: Record, position: Any) -> bool:
    """The user holds exactly the position asked. The CRM keeps «Уборщица» and «Уборщик» apart,
    and a question naming one («сколько уборщиц в третьей бригаде», t3-211) asks for that
    position — counting the men under «уборщиц» by a shared six-letter prefix gave 13 for the
    11 the writer and the bot both count."""
    return str(user.get("WORK_POSITION", "")).strip().lower() == str(position).strip().lower()
