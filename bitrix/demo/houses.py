"""Houses (addresses, sizes, brigade, management company) and the management companies.

Houses cluster by street per brigade, as a real company plans its routes: each brigade serves a
few streets, and two long streets (Московская, Пролетарская) are split between two brigades by
house number, so a brigade cannot be guessed from the street alone. Deal titles are addresses
as people say them («Пролетарская 112/1», «Кондрово, Пушкина 78»); «Ленина 5» exists both in
Калуга and in Кондрово, and many house numbers occur on several streets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from bitrix.demo.dates import DemoCalendar
from bitrix.portal.store import Record

KONDROVO = "Кондрово"


@dataclass(frozen=True)
class Street:
    """A street as the deal titles write it, with its official spelling for «Адрес»."""

    name: str
    official: str
    max_number: int
    #: Building stock: "old" (low-rise centre), "mixed", "new" (high-rise), "town".
    kind: str
    town: str | None = None

    @property
    def key(self) -> str:
        """Unique key: the name, prefixed by the town outside Калуга."""
        return f"{self.town}/{self.name}" if self.town else self.name


_STREETS = (
    Street("Пролетарская", "ул. Пролетарская", 180, "mixed"),
    Street("Никитиной", "ул. Никитиной", 170, "mixed"),
    Street("Московская", "ул. Московская", 340, "old"),
    Street("Билибина", "ул. Билибина", 60, "mixed"),
    Street("Суворова", "ул. Суворова", 180, "mixed"),
    Street("Зеленая", "ул. Зеленая", 100, "mixed"),
    Street("Телевизионная", "ул. Телевизионная", 30, "new"),
    Street("Карачевская", "ул. Карачевская", 80, "old"),
    Street("Майская", "ул. Майская", 40, "mixed"),
    Street("Чижевского", "ул. Чижевского", 40, "mixed"),
    Street("Энгельса", "ул. Энгельса", 140, "old"),
    Street("Ст.Разина", "ул. Степана Разина", 90, "mixed"),
    Street("Малоярославецкая", "ул. Малоярославецкая", 30, "mixed"),
    Street("Жукова", "ул. Маршала Жукова", 60, "new"),
    Street("Хрустальная", "ул. Хрустальная", 90, "new"),
    Street("Гвардейская", "ул. Гвардейская", 40, "mixed"),
    Street("Грабцевское шоссе", "Грабцевское ш.", 180, "new"),
    Street("Кирова", "ул. Кирова", 80, "old"),
    Street("Ленина", "ул. Ленина", 130, "old"),
    Street("Пушкина", "ул. Пушкина", 90, "town", KONDROVO),
    Street("Ленина", "ул. Ленина", 40, "town", KONDROVO),
    Street("Кирова", "ул. Кирова", 40, "town", KONDROVO),
    Street("Центральная", "ул. Центральная", 30, "town", KONDROVO),
)
STREETS = {street.key: street for street in _STREETS}

#: (brigade, street key, active houses, lowest and highest house number). 490 in all,
#: per brigade: 88, 76, 92, 71, 80, 83.
_ROUTES = (
    (1, "Московская", 40, 1, 119),
    (1, "Билибина", 22, 1, 60),
    (1, "Суворова", 26, 1, 180),
    (2, "Пролетарская", 30, 1, 110),
    (2, "Никитиной", 24, 1, 170),
    (2, "Зеленая", 22, 1, 100),
    (3, "Московская", 20, 120, 340),
    (3, "Телевизионная", 18, 1, 30),
    (3, "Карачевская", 22, 1, 80),
    (3, "Майская", 16, 1, 40),
    (3, "Энгельса", 16, 1, 140),
    (4, "Пролетарская", 10, 111, 180),
    (4, "Чижевского", 25, 1, 40),
    (4, "Ст.Разина", 20, 1, 90),
    (4, "Малоярославецкая", 16, 1, 30),
    (5, "Жукова", 22, 1, 60),
    (5, "Хрустальная", 22, 1, 90),
    (5, "Гвардейская", 16, 1, 40),
    (5, "Грабцевское шоссе", 20, 1, 180),
    (6, "Кирова", 18, 1, 80),
    (6, "Ленина", 20, 1, 130),
    (6, "Кондрово/Пушкина", 17, 1, 90),
    (6, "Кондрово/Ленина", 10, 1, 40),
    (6, "Кондрово/Кирова", 8, 1, 40),
    (6, "Кондрово/Центральная", 10, 1, 30),
)
#: Addresses later tests and the docs rely on (the README's examples, the Ленина 5 ambiguity,
#: the houses run by their own ТСЖ/ТСН/ЖСК).
_PLANTED = (
    (1, "Московская", "12"),
    (1, "Билибина", "7"),
    (3, "Энгельса", "38"),
    (4, "Пролетарская", "112/1"),
    (4, "Чижевского", "18"),
    (5, "Грабцевское шоссе", "158"),
    (6, "Ленина", "5"),
    (6, "Кондрово/Ленина", "5"),
    (6, "Кондрово/Пушкина", "78"),
)
ACTIVE_HOUSES = 490
CLOSED_HOUSES = 12
HOUSES_WITHOUT_COMPANY = 14

_FLOORS = {
    "old": (2, 3, 4, 5, 5, 5, 5),
    "mixed": (5, 5, 5, 5, 9, 9, 9, 10, 12),
    "new": (9, 10, 10, 12, 14, 16, 16),
    "town": (2, 2, 3, 3, 4, 5, 5),
}


@dataclass(frozen=True)
class Company:
    """A management company («УК») as a CRM company."""

    title: str
    #: How people name it in speech and task titles («УК «Жилкомсервис»»).
    short: str
    phone: str
    id: int = 0


_COMPANIES = (
    ("ООО УК «Жилкомсервис»", "УК «Жилкомсервис»"),
    ("ООО «УК Домовой»", "УК «Домовой»"),
    ("МУП «Управление домами»", "МУП «Управление домами»"),
    ("ТСЖ «Московская 12»", "ТСЖ «Московская 12»"),
    ("ООО «УК Калуга-Дом»", "УК «Калуга-Дом»"),
    ("ООО УК «Правобережье»", "УК «Правобережье»"),
    ("ООО УК «Комфорт»", "УК «Комфорт»"),
    ("ООО «ЖЭУ-5»", "ООО «ЖЭУ-5»"),
    ("АО «Калужский жилищный трест»", "АО «Калужский жилищный трест»"),
    ("ООО УК «Новый город»", "УК «Новый город»"),
    ("ООО «УК Солнечный»", "УК «Солнечный»"),
    ("ООО УК «Уютный дом»", "УК «Уютный дом»"),
    ("ООО «Жилсервис Калуга»", "ООО «Жилсервис Калуга»"),
    ("ООО УК «Мой дом»", "УК «Мой дом»"),
    ("ООО «УК Грабцево»", "УК «Грабцево»"),
    ("ООО УК «Ока»", "УК «Ока»"),
    ("ООО «ДомСтрой-Сервис»", "ООО «ДомСтрой-Сервис»"),
    ("ООО УК «Гарант»", "УК «Гарант»"),
    ("ТСН «Билибина 7»", "ТСН «Билибина 7»"),
    ("ООО «УК Кондрово»", "УК «Кондрово»"),
    ("МУП «ЖКХ Кондрово»", "МУП «ЖКХ Кондрово»"),
    ("ООО УК «Надёжный дом»", "УК «Надёжный дом»"),
    ("ЖСК «Энергетик»", "ЖСК «Энергетик»"),
    ("ООО УК «Эталон»", "УК «Эталон»"),
)
#: Each street's usual management companies (primary, secondary), by index in `_COMPANIES`.
_STREET_COMPANIES = {
    "Пролетарская": (0, 1),
    "Никитиной": (0, 6),
    "Московская": (2, 4),
    "Билибина": (1, 11),
    "Суворова": (4, 7),
    "Зеленая": (5, 13),
    "Телевизионная": (9, 17),
    "Карачевская": (2, 12),
    "Майская": (7, 11),
    "Чижевского": (0, 21),
    "Энгельса": (8, 2),
    "Ст.Разина": (1, 15),
    "Малоярославецкая": (12, 13),
    "Жукова": (10, 9),
    "Хрустальная": (9, 10),
    "Гвардейская": (17, 6),
    "Грабцевское шоссе": (14, 16),
    "Кирова": (8, 15),
    "Ленина": (2, 0),
    "Кондрово/Пушкина": (19, 20),
    "Кондрово/Ленина": (20, 19),
    "Кондрово/Кирова": (19, 20),
    "Кондрово/Центральная": (20, 19),
}
#: Houses run by their own association.
_OWN_ASSOCIATION = {("Московская", "12"): 3, ("Билибина", "7"): 18, ("Энгельса", "38"): 22}
#: Companies that manage many houses and may turn up on any street.
_ROAMING = (0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 21)


@dataclass
class House:
    """One house (a deal in the houses pipeline) before it is rendered as a record."""

    street: Street
    number: str
    brigade: int
    active: bool
    floors: int
    entrances: int
    apartments: int
    #: Index into the company list, or None when the house has no УК.
    company: int | None = None
    #: Stage code without the ``C<cat>:`` prefix.
    stage: str = "EXECUTING"
    #: When the contract began and, for closed houses, ended.
    began: date = date.min
    closed: date | None = None
    latitude: float = 0.0
    longitude: float = 0.0
    id: int = 0

    @property
    def title(self) -> str:
        """The deal TITLE: «Пролетарская 112/1», «Кондрово, Пушкина 78»."""
        return house_title(self.street, self.number)

    @property
    def base_number(self) -> int:
        """The house number without building or letter suffix (112 for 112/1)."""
        digits = ""
        for ch in self.number:
            if not ch.isdigit():
                break
            digits += ch
        return int(digits)

    def full_address(self, variant: int) -> str:
        """The «Адрес» field: the postal form, written one of a few ways."""
        number = self.number
        for mark in ("к",):
            if mark in number:
                base, building = number.split(mark)
                number = f"{base}, корп. {building}"
        if self.street.town:
            town = f"Калужская обл., Дзержинский р-н, г. {self.street.town}"
        else:
            town = "Калужская обл., г. Калуга" if variant % 3 == 0 else "г. Калуга"
        return f"{town}, {self.street.official}, д. {number}"


def house_title(street: Street, number: str) -> str:
    """An address as people say it: «Пролетарская 112/1», «Кондрово, Пушкина 78»."""
    address = f"{street.name} {number}"
    return f"{street.town}, {address}" if street.town else address


def _number(rng: random.Random, low: int, high: int) -> str:
    base = rng.randint(low, high)
    roll = rng.random()
    if roll < 0.70:
        return str(base)
    if roll < 0.82:
        return f"{base}/{rng.randint(1, 3)}"
    if roll < 0.92:
        return f"{base}к{rng.randint(1, 3)}"
    return f"{base}{rng.choice('аб')}"


def _free_number(rng: random.Random, street: Street, low: int, high: int, titles: set[str]) -> str:
    for _attempt in range(1000):
        number = _number(rng, low, high)
        if house_title(street, number) not in titles:
            return number
    raise RuntimeError(f"no free house number on {street.key}")


def _size(rng: random.Random, kind: str) -> tuple[int, int, int]:
    floors = rng.choice(_FLOORS[kind])
    if floors <= 3:
        entrances = rng.randint(1, 3)
    elif floors <= 5:
        entrances = rng.choice((2, 3, 4, 4, 4, 6, 6, 8, 10))
    elif floors <= 10:
        entrances = rng.choice((1, 1, 2, 3, 4, 5, 6, 7))
    else:
        entrances = rng.choice((1, 1, 1, 2, 2, 3, 4))
    per_landing = rng.choice((3, 3, 4)) if floors <= 5 else 4
    apartments = entrances * floors * per_landing
    if floors >= 9 and rng.random() < 0.3:
        # Shops on the ground floor of a high-rise: no flats there.
        apartments -= entrances * per_landing
    return floors, entrances, apartments


def plan_houses(rng: random.Random, clock: DemoCalendar) -> list[House]:
    """490 active houses on the brigades' routes plus the closed ones, ids not yet assigned."""
    titles: set[str] = set()
    houses: list[House] = []

    def add(brigade: int, street: Street, number: str, active: bool) -> None:
        floors, entrances, apartments = _size(rng, street.kind)
        house = House(street, number, brigade, active, floors, entrances, apartments)
        if house.title in titles:
            raise ValueError(f"duplicate house {house.title}")
        titles.add(house.title)
        centre = (54.7975, 35.9300) if street.town else (54.5293, 36.2754)
        house.latitude = round(centre[0] + rng.uniform(-0.03, 0.03), 4)
        house.longitude = round(centre[1] + rng.uniform(-0.06, 0.06), 4)
        houses.append(house)

    for brigade, key, count, low, high in _ROUTES:
        street = STREETS[key]
        planted = [n for b, k, n in _PLANTED if b == brigade and k == key]
        for number in planted:
            add(brigade, street, number, True)
        for _ in range(count - len(planted)):
            add(brigade, street, _free_number(rng, street, low, high, titles), True)

    # Closed contracts: same streets, so a lost house can sit next to an active one.
    for _ in range(CLOSED_HOUSES):
        brigade, key, _count, low, high = rng.choice(_ROUTES)
        street = STREETS[key]
        add(brigade, street, _free_number(rng, street, low, high, titles), False)

    active = [h for h in houses if h.active]
    for house in houses:
        planted_company = _OWN_ASSOCIATION.get((house.street.key, house.number))
        if planted_company is not None:
            house.company = planted_company
            continue
        primary, secondary = _STREET_COMPANIES[house.street.key]
        roll = rng.random()
        if roll < 0.72:
            house.company = primary
        elif roll < 0.92:
            house.company = secondary
        else:
            house.company = rng.choice(_ROAMING)
    candidates = [h for h in active if (h.street.key, h.number) not in _OWN_ASSOCIATION]
    for house in rng.sample(candidates, HOUSES_WITHOUT_COMPANY):
        house.company = None

    # A few houses are still being taken on (contract in preparation, new).
    pending = rng.sample(active, 20)
    for house in pending[:8]:
        house.stage = "NEW"
    for house in pending[8:]:
        house.stage = "PREPARATION"
    for house in houses:
        house.began = clock.today - timedelta(days=rng.randint(60, 2200))
        if house.stage in ("NEW", "PREPARATION"):
            house.began = clock.today - timedelta(days=rng.randint(3, 40))
    closed = [h for h in houses if not h.active]
    for index, house in enumerate(closed):
        house.stage = "APOLOGY" if index % 3 == 2 else "LOSE"
        # Two contracts ended this month: their houses still have last month's schedule.
        ended = clock.today.day - 1 if index < 2 else rng.randint(40, 400)
        house.closed = clock.today - timedelta(days=max(ended, 0))
        house.began = min(house.began, house.closed - timedelta(days=200))
    return houses


def build_companies(rng: random.Random) -> list[Company]:
    """The management companies with ids, phones as ``crm.company.get`` would list them."""
    ids = sorted(rng.sample(range(4, 400), len(_COMPANIES)))
    companies = []
    for index, (title, short) in enumerate(_COMPANIES):
        if "Кондрово" in title:
            phone = f"+7 48434 {rng.randint(2, 4)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
        else:
            phone = f"+7 4842 {rng.randint(50, 79)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
        companies.append(Company(title, short, phone, ids[index]))
    return companies


def company_record(
    company: Company,
    rng: random.Random,
    clock: DemoCalendar,
    manager_ids: list[int],
    phone_id: int,
) -> Record:
    """A ``crm.company.get`` record for a management company."""
    created = clock.today - timedelta(days=rng.randint(400, 2400))
    modified = created + timedelta(days=rng.randint(0, 300))
    manager = str(rng.choice(manager_ids))
    phones: list[Record] = [
        {"ID": str(phone_id), "VALUE_TYPE": "WORK", "VALUE": company.phone, "TYPE_ID": "PHONE"}
    ]
    if rng.random() < 0.3:
        n = rng.randrange(10**7)
        phones.append(
            {
                "ID": str(phone_id + 1),
                "VALUE_TYPE": "MOBILE",
                "VALUE": f"+7 910 {n // 10**4:03d}-{n // 100 % 100:02d}-{n % 100:02d}",
                "TYPE_ID": "PHONE",
            }
        )
    return {
        "ID": str(company.id),
        "COMPANY_TYPE": "CUSTOMER",
        "TITLE": company.title,
        "LOGO": None,
        "LEAD_ID": None,
        "HAS_PHONE": "Y",
        "HAS_EMAIL": "N",
        "HAS_IMOL": "N",
        "ASSIGNED_BY_ID": manager,
        "CREATED_BY_ID": manager,
        "MODIFY_BY_ID": manager,
        "BANKING_DETAILS": None,
        "INDUSTRY": "OTHER",
        "REVENUE": "0",
        "CURRENCY_ID": "RUB",
        "EMPLOYEES": "EMPLOYEES_1",
        "COMMENTS": None,
        "DATE_CREATE": clock.iso(created, 10, 14, 2),
        "DATE_MODIFY": clock.iso(modified, 16, 3, 45),
        "OPENED": "Y",
        "IS_MY_COMPANY": "N",
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "ORIGIN_VERSION": None,
        "ADDRESS": None,
        "ADDRESS_2": None,
        "ADDRESS_CITY": None,
        "ADDRESS_POSTAL_CODE": None,
        "ADDRESS_REGION": None,
        "ADDRESS_PROVINCE": None,
        "ADDRESS_COUNTRY": None,
        "ADDRESS_LEGAL": None,
        "UTM_SOURCE": None,
        "UTM_MEDIUM": None,
        "UTM_CAMPAIGN": None,
        "UTM_CONTENT": None,
        "UTM_TERM": None,
        "LAST_ACTIVITY_BY": manager,
        "LAST_ACTIVITY_TIME": clock.iso(modified, 16, 3, 45),
        "PHONE": phones,
    }
