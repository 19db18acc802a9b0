"""The whole company as one immutable snapshot, and the questions it answers.

`RawCompanyData` is exactly what was fetched from Bitrix24 (it is what the disk cache stores,
so a restart while Bitrix24 is down can rebuild the same snapshot); `CompanySnapshot` turns it
into typed models (`bitrix.models`) through the field mapping (`bitrix.mapping`) and answers the
questions the intents need — houses by brigade / company / street, a house's schedule, houses
cleaned on a day, people, departments, companies, statistics, tasks and events — from indexes
built once, so every query is a dictionary lookup or a short scan.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from bitrix.address import Address, normalize_number, parse_address
from bitrix.clock import Clock
from bitrix.mapping import FieldMapping, build_mapping, cleaning_kind
from bitrix.models import (
    Brigade,
    CleaningKind,
    Company,
    Coverage,
    Department,
    Employee,
    Event,
    House,
    Statistics,
    Task,
    Totals,
    Visit,
)
from bitrix.phones import normalize_phone, phone_numbers
from bitrix.values import (
    as_bool,
    as_date,
    as_datetime,
    as_id,
    as_int,
    as_list,
    as_str,
    from_timestamp,
)

_BRIGADE_NAME = re.compile(
    r"(?:бригада\s*(?:№|n|номер)?\s*(\d{1,2})\b|\b(\d{1,2})\s*(?:-?я\s*)?бригада)"
)
#: The largest value each count field may plausibly hold for one house (one deal). Anything
#: above it — '1e9', '99999999999999999999' — is a typo or junk, as are negative, fractional and
#: non-finite cells ('nan', 'inf'): such a cell is read as unknown (never summed) and counted in
#: `CompanySnapshot.implausible` and the statistics' coverage. Bounds are generous: the tallest
#: Russian residential towers have about 100 floors, the largest single buildings a few
#: thousand apartments.
PLAUSIBLE = {"apartments": 5_000, "entrances": 100, "floors": 150}
_COORDS = re.compile(r"\|\s*(-?\d+(?:\.\d+)?)\s*[;,]\s*(-?\d+(?:\.\d+)?)")


def brigade_number(name: str) -> int | None:
    """The brigade number in a name like "Бригада 3", "Бригада №3", "3 бригада"."""
    match = _BRIGADE_NAME.search(name.lower().replace("ё", "е"))
    if not match:
        return None
    return int(match.group(1) or match.group(2))


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def _first_value(value: Any) -> str | None:
    """The first ``VALUE`` of a multi-field (``PHONE``, ``EMAIL``: ``[{"VALUE": …}]``)."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return as_str(value[0].get("VALUE"))
    return None


def _event_people(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The user ids of an event's attendees and author."""
    ids = [
        str(as_id(a.get("id")))
        for a in as_list(item.get("ATTENDEE_LIST"))
        if isinstance(a, Mapping) and as_id(a.get("id"))
    ]
    ids.extend(
        str(c)[1:]
        for c in as_list(item.get("ATTENDEES_CODES"))
        if str(c).startswith("U") and str(c)[1:].isdigit()
    )
    author = as_id(item.get("CREATED_BY"))
    if author:
        ids.append(author)
    return tuple(dict.fromkeys(ids))


def natural_key(house: House) -> tuple[object, ...]:
    """Sort addresses naturally: town, street, then house number by its numeric parts."""
    number = house.address.number_key
    parts = tuple(int(p) if p.isdigit() else p for p in re.findall(r"\d+|\D+", number))
    return (not house.address.in_home_town, house.address.town, house.address.street_key, parts)


@dataclass(frozen=True)
class RawCompanyData:
    """The raw REST answers a snapshot is built from; JSON-serialisable for the disk cache."""

    deal_fields: dict[str, Any]
    userfields: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    companies: list[dict[str, Any]]
    users: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    events: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    fetched_at: datetime

    def to_json(self) -> dict[str, Any]:
        """A plain dict for `json.dump`."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["fetched_at"] = self.fetched_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RawCompanyData:
        """Inverse of :meth:`to_json`; raises KeyError/ValueError on a damaged file."""
        fetched = datetime.fromisoformat(str(data["fetched_at"]))
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        return cls(
            deal_fields=dict(data["deal_fields"]),
            userfields=list(data["userfields"]),
            categories=list(data["categories"]),
            statuses=list(data["statuses"]),
            companies=list(data["companies"]),
            users=list(data["users"]),
            departments=list(data["departments"]),
            tasks=list(data["tasks"]),
            events=list(data["events"]),
            deals=list(data["deals"]),
            fetched_at=fetched,
        )


@dataclass(frozen=True)
class MappingOptions:
    """Configuration that steers the field mapping (see `bot.config.Settings`)."""

    category_id: int | None = None
    pipeline_name: str | None = "Уборка подъездов"
    brigade_source: str = "auto"
    overrides: Mapping[str, str] = field(default_factory=dict)


class CompanySnapshot:
    """The company at one moment: typed models plus indexes for every question."""

    def __init__(
        self, raw: RawCompanyData, *, tz: tzinfo, options: MappingOptions, clock: Clock
    ) -> None:
        self.raw = raw
        self.tz = tz
        #: The product's one clock (`bitrix.clock`): "today" in questions comes from it.
        self.clock = clock
        self.fetched_at = raw.fetched_at
        today = raw.fetched_at.astimezone(tz).date()
        self.mapping: FieldMapping = build_mapping(
            raw.deal_fields,
            raw.userfields,
            raw.categories,
            raw.statuses,
            today=today,
            category_id=options.category_id,
            pipeline_name=options.pipeline_name,
            overrides=options.overrides,
            brigade_source=options.brigade_source,
        )
        self._build_people(raw)
        self._build_houses(raw)
        self._build_brigades()
        self._build_work(raw)
        self._statistics: tuple[date, Statistics] | None = None

    # ------------------------------------------------------------------ building
    def _build_people(self, raw: RawCompanyData) -> None:
        self.departments_raw = {as_str(d.get("ID")) or "": d for d in raw.departments}
        self.department_brigade: dict[str, int] = {}
        for dep_id, dep in self.departments_raw.items():
            number = brigade_number(str(dep.get("NAME", "")))
            if number is not None:
                self.department_brigade[dep_id] = number
        self.users_raw: dict[str, dict[str, Any]] = {}
        self.service_accounts: dict[str, int] = {}
        employees: dict[str, Employee] = {}
        for user in raw.users:
            user_id = as_str(user.get("ID"))
            if user_id is None:
                continue
            self.users_raw[user_id] = user
            name = " ".join(
                str(user.get(k) or "") for k in ("NAME", "LAST_NAME", "SECOND_NAME")
            ).strip()
            account_brigade = brigade_number(name)
            if account_brigade is not None:
                # A service account named like a brigade ("3 бригада"): how the real portal
                # links houses to brigades. It is not a person.
                self.service_accounts[user_id] = account_brigade
                continue
            departments = tuple(str(d) for d in as_list(user.get("UF_DEPARTMENT")))
            brigade = self._brigade_of_departments(departments)
            employees[user_id] = Employee(
                id=user_id,
                last_name=str(user.get("LAST_NAME") or "").strip(),
                first_name=str(user.get("NAME") or "").strip(),
                second_name=str(user.get("SECOND_NAME") or "").strip(),
                position=str(user.get("WORK_POSITION") or "").strip(),
                department_ids=departments,
                brigade=brigade,
                phone=as_str(user.get("PERSONAL_MOBILE"))
                or as_str(user.get("WORK_PHONE"))
                or as_str(user.get("PERSONAL_PHONE")),
                email=as_str(user.get("EMAIL")),
                active=as_bool(user.get("ACTIVE", True)),
                phones=phone_numbers(
                    user.get("PERSONAL_MOBILE"), user.get("WORK_PHONE"), user.get("PERSONAL_PHONE")
                ),
            )
        self.all_people = employees
        self.employees = {k: e for k, e in employees.items() if e.active}
        self.by_phone: dict[str, tuple[Employee, ...]] = {}
        for person in self.employees.values():
            for phone in person.phones:
                self.by_phone[phone] = (*self.by_phone.get(phone, ()), person)
        sizes: dict[str, int] = defaultdict(int)
        for person in self.employees.values():
            for dep_id in person.department_ids:
                sizes[dep_id] += 1
        self.departments: dict[str, Department] = {}
        for dep_id, dep in self.departments_raw.items():
            self.departments[dep_id] = Department(
                id=dep_id,
                name=str(dep.get("NAME", "")),
                parent_id=as_id(dep.get("PARENT")),
                head_id=as_id(dep.get("UF_HEAD")),
                brigade=self.department_brigade.get(dep_id),
                size=sizes.get(dep_id, 0),
            )

    def _brigade_of_departments(self, department_ids: Iterable[str]) -> int | None:
        for dep_id in department_ids:
            seen: set[str] = set()
            current: str | None = dep_id
            # A brigade may have sub-departments: walk up to the brigade department.
            while current and current not in seen:
                seen.add(current)
                if current in self.department_brigade:
                    return self.department_brigade[current]
                parent = self.departments_raw.get(current, {}).get("PARENT")
                current = as_id(parent)
        return None

    def _house_brigade(self, deal: Mapping[str, Any]) -> int | None:
        source = self.mapping.brigade_source
        brigade_ref = self.mapping.roles.get("brigade")
        responsible = as_id(deal.get("ASSIGNED_BY_ID"))

        def from_field() -> int | None:
            if brigade_ref is None:
                return None
            values = as_list(deal.get(brigade_ref.code))
            for value in values:
                label = self.mapping.option_label(brigade_ref.code, value) or str(value)
                number = brigade_number(label) if not label.strip().isdigit() else int(label)
                if number is not None:
                    return number
            return None

        def from_name() -> int | None:
            return self.service_accounts.get(responsible) if responsible else None

        def from_department() -> int | None:
            if not responsible:
                return None
            user = self.users_raw.get(responsible)
            if user is None:
                return None
            departments = [str(d) for d in as_list(user.get("UF_DEPARTMENT"))]
            return self._brigade_of_departments(departments)

        if source == "field":
            return from_field()
        if source == "responsible_name":
            return from_name()
        if source == "responsible_department":
            return from_department()
        return from_field() or from_name() or from_department()

    def _visits(self, deal: Mapping[str, Any]) -> tuple[Visit, ...]:
        visits: list[Visit] = []
        for slot in self.mapping.schedule:
            label, kind = "", CleaningKind.OTHER
            if slot.type_field is not None:
                option = next(iter(as_list(deal.get(slot.type_field.code))), None)
                if option is not None:
                    label = self.mapping.option_label(slot.type_field.code, option) or str(option)
                    kind = cleaning_kind(label)
            for value in as_list(deal.get(slot.date_field.code)):
                day = as_date(value, self.tz)
                if day is not None:
                    visits.append(Visit(day=day, kind=kind, label=label))
        visits.sort(key=lambda v: v.day)
        return tuple(visits)

    def _count(self, deal: Mapping[str, Any], role: str) -> int | None:
        """A count cell within its plausible bound, else None (and the cell is counted)."""
        field = self.mapping.roles.get(role)
        if field is None:
            return None
        cell = deal.get(field.code)
        value = as_int(cell, high=PLAUSIBLE[role])
        if value is None and as_str(cell) is not None:
            # Something was written there, but nothing a house can have.
            self.implausible[role] += 1
        return value

    def _build_houses(self, raw: RawCompanyData) -> None:
        #: Per count field, how many filled cells were implausible and read as unknown.
        self.implausible: dict[str, int] = dict.fromkeys(PLAUSIBLE, 0)
        mapping = self.mapping
        pipeline = str(mapping.pipeline.id)
        houses: list[House] = []
        closed_houses: list[House] = []
        self.skipped_deals: list[tuple[str, str]] = []
        roles = mapping.roles
        for deal in raw.deals:
            deal_id = as_str(deal.get("ID"))
            if deal_id is None or str(deal.get("CATEGORY_ID", "0") or "0") != pipeline:
                continue
            closed = str(deal.get("STAGE_ID", "")) in mapping.pipeline.lost_stages
            title = str(deal.get("TITLE") or "")
            address = parse_address(title)
            if address is None:
                self.skipped_deals.append((deal_id, title))
                continue
            full_address, coordinates = None, None
            if "address" in roles:
                text = as_str(deal.get(roles["address"].code))
                if text:
                    match = _COORDS.search(text)
                    if match:
                        coordinates = (float(match.group(1)), float(match.group(2)))
                    full_address = text.split("|", 1)[0].strip() or None
            (closed_houses if closed else houses).append(
                House(
                    id=deal_id,
                    address=address,
                    full_address=full_address,
                    coordinates=coordinates,
                    brigade=self._house_brigade(deal),
                    company_id=as_id(deal.get("COMPANY_ID")),
                    apartments=self._count(deal, "apartments"),
                    entrances=self._count(deal, "entrances"),
                    floors=self._count(deal, "floors"),
                    visits=self._visits(deal),
                    house_type=self._text_role(deal, "house_type"),
                    lifts=as_int(deal.get(roles["lifts"].code)) if "lifts" in roles else None,
                    intercom=self._text_role(deal, "intercom"),
                    note=self._text_role(deal, "note"),
                    closed=closed,
                )
            )
        houses.sort(key=natural_key)
        closed_houses.sort(key=natural_key)
        self.houses: tuple[House, ...] = tuple(houses)
        #: Lost-stage deals of the pipeline: houses whose contract has ended (not serviced).
        self.closed_houses: tuple[House, ...] = tuple(closed_houses)
        self.houses_by_id = {h.id: h for h in houses}
        self.companies: dict[str, Company] = {}
        for company in raw.companies:
            company_id = as_id(company.get("ID"))
            if company_id is None:
                continue
            phones = company.get("PHONE")
            phone = None
            if isinstance(phones, list) and phones and isinstance(phones[0], Mapping):
                phone = as_str(phones[0].get("VALUE"))
            self.companies[company_id] = Company(
                id=company_id,
                name=str(company.get("TITLE") or "").strip(),
                phone=phone,
                email=_first_value(company.get("EMAIL")),
                address=as_str(company.get("ADDRESS")),
                contact=as_str(company.get("COMMENTS")),
            )
        self.houses_by_street: dict[tuple[str, str], list[House]] = defaultdict(list)
        self.houses_by_company: dict[str, list[House]] = defaultdict(list)
        self.houses_by_brigade: dict[int, list[House]] = defaultdict(list)
        self.visits_by_day: dict[date, list[tuple[House, Visit]]] = defaultdict(list)
        for house in self.houses:
            key = (house.address.town, house.address.street_key)
            self.houses_by_street[key].append(house)
            if house.company_id:
                self.houses_by_company[house.company_id].append(house)
            if house.brigade is not None:
                self.houses_by_brigade[house.brigade].append(house)
            for visit in house.visits:
                self.visits_by_day[visit.day].append((house, visit))

    def _text_role(self, deal: Mapping[str, Any], role: str) -> str | None:
        """An optional text fact of a house (an enumeration is read as its option's label)."""
        ref = self.mapping.roles.get(role)
        if ref is None:
            return None
        value = next(iter(as_list(deal.get(ref.code))), None)
        if value is None or str(value).strip() == "":
            return None
        label = self.mapping.option_label(ref.code, value)
        return (label or str(value)).strip() or None

    def _build_brigades(self) -> None:
        numbers = set(self.department_brigade.values()) | set(self.houses_by_brigade)
        self.brigades: dict[int, Brigade] = {}
        for number in sorted(numbers):
            dep_id = next((d for d, n in self.department_brigade.items() if n == number), None)
            department = self.departments.get(dep_id) if dep_id else None
            members = tuple(
                sorted(
                    (p.id for p in self.employees.values() if p.brigade == number),
                    key=lambda pid: self.employees[pid].full_name,
                )
            )
            self.brigades[number] = Brigade(
                number=number,
                name=department.name if department else f"Бригада {number}",
                department_id=dep_id,
                head_id=department.head_id if department else None,
                member_ids=members,
                house_ids=tuple(h.id for h in self.houses_by_brigade.get(number, [])),
            )

    def _build_work(self, raw: RawCompanyData) -> None:
        tasks: list[Task] = []
        for item in raw.tasks:
            task_id = as_str(item.get("id") or item.get("ID"))
            if task_id is None:
                continue
            links = as_list(item.get("ufCrmTask") or item.get("UF_CRM_TASK"))
            house_ids = tuple(str(link)[2:] for link in links if str(link).startswith("D_"))
            tasks.append(
                Task(
                    id=task_id,
                    title=str(item.get("title") or item.get("TITLE") or "").strip(),
                    status=str(item.get("status") or item.get("STATUS") or ""),
                    deadline=as_datetime(item.get("deadline"), self.tz),
                    created=as_datetime(item.get("createdDate"), self.tz),
                    closed=as_datetime(item.get("closedDate"), self.tz),
                    responsible_id=as_id(item.get("responsibleId")),
                    house_ids=house_ids,
                )
            )
        tasks.sort(key=lambda t: (t.deadline is None, t.deadline or t.created, int(t.id)))
        self.tasks: tuple[Task, ...] = tuple(tasks)
        events: list[Event] = []
        for item in raw.events:
            start = from_timestamp(item.get("DATE_FROM_TS_UTC")) or as_datetime(
                item.get("DATE_FROM"), self.tz
            )
            end = from_timestamp(item.get("DATE_TO_TS_UTC")) or as_datetime(
                item.get("DATE_TO"), self.tz
            )
            if start is None:
                continue
            events.append(
                Event(
                    id=str(item.get("ID", "")),
                    name=str(item.get("NAME") or "").strip(),
                    start=start.astimezone(self.tz),
                    end=(end or start).astimezone(self.tz),
                    all_day=as_bool(item.get("DT_SKIP_TIME")),
                    location=str(item.get("LOCATION") or "").strip(),
                    description=str(item.get("DESCRIPTION") or "").strip(),
                    people=_event_people(item),
                )
            )
        events.sort(key=lambda e: (e.start, e.name))
        self.events: tuple[Event, ...] = tuple(events)

    # ------------------------------------------------------------------ questions
    @property
    def today(self) -> date:
        """Today in the business time zone, at the moment of the question."""
        return self.clock.now().astimezone(self.tz).date()

    def now(self) -> datetime:
        """The current moment in the business time zone (from the injected clock)."""
        return self.clock.now().astimezone(self.tz)

    def houses_where(
        self,
        *,
        brigade: int | None = None,
        company_id: str | None = None,
        no_company: bool = False,
        street: tuple[str, str] | None = None,
        town: str | None = None,
        house_type: str | None = None,
        bounds: Mapping[str, tuple[int | None, int | None]] | None = None,
    ) -> list[House]:
        """Houses matching every given filter, in natural address order.

        ``street`` is ``(town, street_key)``; ``house_type`` the CRM option's text;
        ``bounds`` maps a count (``floors``, ``apartments``, ``entrances``, ``lifts``) to an
        inclusive ``(min, max)``: a house whose count is unknown does not match.
        """
        bounds_ = list((bounds or {}).items())
        if street is not None:
            pool: Iterable[House] = self.houses_by_street.get(street, [])
        elif company_id is not None:
            pool = self.houses_by_company.get(company_id, [])
        elif brigade is not None:
            pool = self.houses_by_brigade.get(brigade, [])
        else:
            pool = self.houses
        return [
            h
            for h in pool
            if (brigade is None or h.brigade == brigade)
            and (company_id is None or h.company_id == company_id)
            and (street is None or (h.address.town, h.address.street_key) == street)
            and (town is None or h.address.town == town)
            and (not no_company or h.company_id is None)
            and (house_type is None or h.house_type == house_type)
            and all(_within(getattr(h, name), low, high) for name, (low, high) in bounds_)
        ]

    def house_at(self, street: tuple[str, str], number: str) -> House | None:
        """The house at a street and number (numbers compared canonically)."""
        wanted = normalize_number(number)
        return next(
            (h for h in self.houses_by_street.get(street, []) if h.address.number_key == wanted),
            None,
        )

    def streets(self) -> dict[tuple[str, str], Address]:
        """Every street with at least one house: ``(town, street_key)`` → a sample address."""
        return {key: houses[0].address for key, houses in self.houses_by_street.items()}

    def visits_between(
        self, start: date, end: date, *, brigade: int | None = None
    ) -> list[tuple[House, Visit]]:
        """Planned cleanings from ``start`` to ``end`` inclusive, by day then address."""
        out: list[tuple[House, Visit]] = []
        day = start
        while day <= end:
            # visits_by_day was filled from the houses in natural order: no sort needed.
            out.extend(
                (h, v)
                for h, v in self.visits_by_day.get(day, [])
                if brigade is None or h.brigade == brigade
            )
            day += timedelta(days=1)
        return out

    def people(self, *, brigade: int | None = None, position: str | None = None) -> list[Employee]:
        """Active people, optionally of a brigade and/or whose position starts with
        ``position``."""
        wanted = position.lower().replace("ё", "е") if position else None
        result = [
            p
            for p in self.employees.values()
            if (brigade is None or p.brigade == brigade)
            and (wanted is None or p.position.lower().replace("ё", "е").startswith(wanted))
        ]
        result.sort(key=lambda p: (p.full_name, p.id))
        return result

    def people_with_phone(self, phone: str) -> tuple[Employee, ...]:
        """Active people one of whose phone fields holds ``phone`` (any written form)."""
        number = normalize_phone(phone)
        return self.by_phone.get(number, ()) if number else ()

    def person(self, person_id: str | None) -> Employee | None:
        """A person by id, active or not (tasks may point at fired people)."""
        return self.all_people.get(person_id) if person_id else None

    def positions(self) -> dict[str, int]:
        """Every position held by active people, with head counts."""
        counts: dict[str, int] = defaultdict(int)
        for person in self.employees.values():
            if person.position:
                counts[person.position] += 1
        return dict(sorted(counts.items()))

    def department_tree(self) -> list[Department]:
        """Departments in tree order (parents before children, brigades by number)."""
        children: dict[str | None, list[Department]] = defaultdict(list)
        for dep in self.departments.values():
            parent = dep.parent_id if dep.parent_id in self.departments else None
            children[parent].append(dep)
        for items in children.values():
            items.sort(key=lambda d: (d.brigade is not None, d.brigade or 0, d.name))
        out: list[Department] = []

        def walk(parent: str | None) -> None:
            for dep in children.get(parent, []):
                out.append(dep)
                walk(dep.id)

        walk(None)
        return out

    def companies_with_counts(self) -> list[tuple[Company, int]]:
        """Management companies with how many serviced houses each has, most first."""
        rows = [(c, len(self.houses_by_company.get(c.id, []))) for c in self.companies.values()]
        rows.sort(key=lambda row: (-row[1], row[0].name))
        return rows

    def statistics(self) -> Statistics:
        """Totals, per-brigade totals and field coverage over the serviced houses.

        Computed once per day (the schedule coverage depends on today's month): the snapshot
        itself never changes.
        """
        today = self.today
        cached = self._statistics
        if cached is not None and cached[0] == today:
            return cached[1]
        stats = self._compute_statistics(today)
        self._statistics = (today, stats)
        return stats

    def _compute_statistics(self, today: date) -> Statistics:

        def totals(houses: list[House] | tuple[House, ...], people: int) -> Totals:
            return Totals(
                houses=len(houses),
                apartments=sum(h.apartments or 0 for h in houses),
                entrances=sum(h.entrances or 0 for h in houses),
                floors=sum(h.floors or 0 for h in houses),
                people=people,
            )

        per_brigade = {
            number: totals(self.houses_by_brigade.get(number, []), len(brigade.member_ids))
            for number, brigade in self.brigades.items()
        }
        total = len(self.houses)
        checks: dict[str, Callable[[House], bool]] = {
            "apartments": lambda h: h.apartments is not None,
            "entrances": lambda h: h.entrances is not None,
            "floors": lambda h: h.floors is not None,
            "company": lambda h: h.company_id is not None,
            "brigade": lambda h: h.brigade is not None,
            "full_address": lambda h: h.full_address is not None,
            "schedule": lambda h: bool(h.visits_in(today.year, today.month)),
        }
        coverage = tuple(
            Coverage(
                field=name,
                filled=sum(1 for h in self.houses if check(h)),
                total=total,
                invalid=self.implausible.get(name, 0),
            )
            for name, check in checks.items()
        )
        return Statistics(
            totals=totals(self.houses, len(self.employees)),
            per_brigade=per_brigade,
            coverage=coverage,
            houses_without_brigade=sum(1 for h in self.houses if h.brigade is None),
            houses_without_company=sum(1 for h in self.houses if h.company_id is None),
            brigades=len(self.brigades),
            companies=len(self.companies),
            employees=len(self.employees),
        )

    def tasks_where(
        self,
        *,
        start: date | None = None,
        end: date | None = None,
        overdue: bool = False,
        brigade: int | None = None,
        person_id: str | None = None,
        house_id: str | None = None,
        text: str | None = None,
        now: datetime | None = None,
        include_done: bool = False,
    ) -> list[Task]:
        """Tasks filtered by deadline range, overdue, brigade, responsible person or house.

        A brigade's tasks are those whose responsible person is in the brigade or that are
        linked to one of its houses. Done tasks are left out unless ``include_done``.
        """
        moment = now or self.now()
        brigade_people = (
            set(self.brigades[brigade].member_ids) if brigade in self.brigades else set()
        )
        brigade_houses = (
            set(self.brigades[brigade].house_ids) if brigade in self.brigades else set()
        )
        out = []
        for task in self.tasks:
            if task.done and not include_done:
                continue
            if overdue and not task.overdue(moment):
                continue
            if start is not None or end is not None:
                if task.deadline is None:
                    continue
                day = task.deadline.astimezone(self.tz).date()
                if (start and day < start) or (end and day > end):
                    continue
            if brigade is not None and not (
                task.responsible_id in brigade_people or brigade_houses & set(task.house_ids)
            ):
                continue
            if person_id is not None and task.responsible_id != person_id:
                continue
            if house_id is not None and house_id not in task.house_ids:
                continue
            if text is not None and text not in _fold(task.title):
                continue
            out.append(task)
        return out

    def events_between(
        self, start: date, end: date, *, person_id: str | None = None, text: str | None = None
    ) -> list[Event]:
        """Calendar events that overlap the days ``start``..``end`` inclusive, optionally of
        one person (attendee or author) and/or whose name contains ``text`` (a stem)."""
        return [
            e
            for e in self.events
            if e.start.astimezone(self.tz).date() <= end
            and e.end.astimezone(self.tz).date() >= start
            and (person_id is None or person_id in e.people)
            and (text is None or text in _fold(e.name))
        ]
