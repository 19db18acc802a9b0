"""Departments, employees and brigade service accounts of the demo company.

82 active people: the director, seven office staff (Менеджер, Диспетчер, Бухгалтер) and six
brigades of 10–15 (one Бригадир each, the rest Уборщица/Уборщик), plus four fired users and,
under the service-account layout, one user per brigade named like the brigade. Records are
shaped as ``user.get`` and ``department.get`` return them on a real
portal: ``ACTIVE`` a JSON bool, ``UF_DEPARTMENT`` a list of ints, NULL fields omitted.

Surnames come from Faker's ``ru_RU`` provider on a seeded instance. First names and
patronymics are drawn (by the same instance) from the common modern names below, because
Faker's lists include archaic names (Синклитикия, Феофан) that neither a real staff list nor
a speech recogniser would have.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from bitrix.demo.dates import DemoCalendar
from bitrix.demo.layout import BrigadeSource, DemoLayout
from bitrix.portal.store import Record

COMPANY_NAME = "ООО «Чистый подъезд»"
EMAIL_DOMAIN = "chisty-podezd.ru"
BRIGADES = (1, 2, 3, 4, 5, 6)
#: People per brigade, Бригадир included (74 in all; with the office and director, 82).
BRIGADE_SIZES = {1: 13, 2: 12, 3: 14, 4: 11, 5: 12, 6: 12}
#: Department ids: brigade numbers deliberately differ from department ids.
ROOT_DEPT_ID = 1
OFFICE_DEPT_ID = 3
WAREHOUSE_DEPT_ID = 4
BRIGADE_DEPT_IDS = {1: 5, 2: 6, 3: 7, 4: 9, 5: 10, 6: 13}

_FEMALE_NAMES = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Екатерина",
    "Юлия", "Галина", "Людмила", "Надежда", "Валентина", "Марина", "Оксана", "Любовь", "Нина",
    "Лариса", "Вера", "Алла", "Тамара", "Зинаида", "Дарья", "Анастасия", "Ксения", "Виктория",
    "Евгения", "Валерия", "Жанна",
)  # fmt: skip
_MALE_NAMES = (
    "Александр", "Сергей", "Андрей", "Алексей", "Дмитрий", "Николай", "Иван", "Михаил",
    "Владимир", "Евгений", "Виктор", "Юрий", "Олег", "Павел", "Игорь", "Максим", "Роман",
    "Артём", "Денис", "Василий", "Геннадий", "Константин", "Анатолий", "Валерий", "Вячеслав",
    "Илья",
)  # fmt: skip
_PATRONYMICS = (
    ("Александрович", "Александровна"), ("Сергеевич", "Сергеевна"), ("Андреевич", "Андреевна"),
    ("Алексеевич", "Алексеевна"), ("Дмитриевич", "Дмитриевна"), ("Николаевич", "Николаевна"),
    ("Иванович", "Ивановна"), ("Михайлович", "Михайловна"), ("Владимирович", "Владимировна"),
    ("Викторович", "Викторовна"), ("Юрьевич", "Юрьевна"), ("Петрович", "Петровна"),
    ("Васильевич", "Васильевна"), ("Анатольевич", "Анатольевна"), ("Геннадьевич", "Геннадьевна"),
    ("Олегович", "Олеговна"), ("Евгеньевич", "Евгеньевна"), ("Борисович", "Борисовна"),
    ("Валерьевич", "Валерьевна"), ("Игоревич", "Игоревна"),
)  # fmt: skip
_MOBILE_CODES = ("910", "915", "920", "930", "953", "960", "962", "980", "906")

# Transliteration for e-mail logins; a dozen lines do not justify a dependency.
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),  # noqa: SIM905
        strict=True,
    )
)


def translit(text: str) -> str:
    """Latin spelling of a Russian word for an e-mail login (``Шевчук`` → ``shevchuk``)."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower()).replace("-", "")


def surname_stem(last_name: str) -> str:
    """One key for a family's male and female surname (Петров/Петрова, Шевчук/Шевчук)."""
    if last_name.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return last_name[:-1]
    if last_name.endswith(("ая", "ий", "ой", "ый")):
        return last_name[:-2]
    return last_name


@dataclass
class Person:
    """One portal user. ``middle_name=None`` means the key is absent (NULL in the database)."""

    id: int
    first_name: str
    last_name: str
    middle_name: str | None
    gender: str
    position: str
    department_id: int
    brigade: int | None
    active: bool = True
    mobile: str | None = None
    email: str | None = None
    work_phone: str | None = None
    birthday: date | None = None
    registered: date | None = None

    @property
    def full_name(self) -> str:
        """``Имя Фамилия`` as Bitrix shows a user (tasks' ``responsible.name``)."""
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Org:
    """The company's structure: departments, people and the brigade service accounts."""

    departments: dict[int, Record]
    users: dict[int, Record]
    director: Person
    office: list[Person]
    brigades: dict[int, list[Person]]
    heads: dict[int, Person]
    fired: list[Person]
    #: Brigade number → id of its service user (empty unless the layout uses them).
    service_accounts: dict[int, int]
    #: The two planted namesakes (same surname, different brigades).
    namesakes: tuple[Person, Person]

    @property
    def people(self) -> list[Person]:
        """The 82 active employees (service accounts are not people)."""
        members = [p for n in BRIGADES for p in self.brigades[n]]
        return [self.director, *self.office, *members]

    def by_position(self, position: str) -> list[Person]:
        """Active people holding ``position``."""
        return [p for p in self.people if p.position == position]


@dataclass(frozen=True)
class _Seat:
    """A position to fill before names are drawn."""

    position: str
    gender: str
    department_id: int
    brigade: int | None
    #: A planted surname/first name for later tests, or ``None`` for a Faker one.
    last_name: str | None = None
    first_name: str | None = None


def _seats(rng: random.Random) -> list[_Seat]:
    seats = [
        _Seat("Директор", "M", ROOT_DEPT_ID, None),
        _Seat("Менеджер", "F", OFFICE_DEPT_ID, None),
        _Seat("Менеджер", "M", OFFICE_DEPT_ID, None),
        _Seat("Менеджер", "F", OFFICE_DEPT_ID, None),
        _Seat("Диспетчер", "F", OFFICE_DEPT_ID, None),
        _Seat("Диспетчер", "F", OFFICE_DEPT_ID, None),
        # A feminine surname that does not decline (Шевчук, not *Шевчука).
        _Seat("Бухгалтер", "F", OFFICE_DEPT_ID, None, "Шевчук"),
        _Seat("Бухгалтер", "F", OFFICE_DEPT_ID, None),
    ]
    head_gender = {1: "M", 2: "F", 3: "M", 4: "M", 5: "F", 6: "M"}
    planted_members: dict[int, list[tuple[str, str, str | None]]] = {
        # Two namesakes (Ивановы) in different brigades; Сидоренко does not decline.
        2: [("F", "Иванова", "Мария"), ("F", "Сидоренко", None)],
        5: [("F", "Иванова", "Ольга")],
    }
    for n in BRIGADES:
        dept = BRIGADE_DEPT_IDS[n]
        # A surname that declines like most (Петров, Петрова, Петрову).
        head_last = "Петров" if n == 3 else None
        seats.append(_Seat("Бригадир", head_gender[n], dept, n, head_last))
        planted = planted_members.get(n, [])
        for gender, last, first in planted:
            seats.append(_Seat("Уборщица", gender, dept, n, last, first))
        for _ in range(BRIGADE_SIZES[n] - 1 - len(planted)):
            gender = "F" if rng.random() < 0.8 else "M"
            position = "Уборщица" if gender == "F" else "Уборщик"
            seats.append(_Seat(position, gender, dept, n))
    return seats


class _Names:
    """Draws unique people names: no two families share a surname unless planted."""

    def __init__(self, fake: Faker, reserved: set[str]) -> None:
        self._fake = fake
        self._used = set(reserved)

    def surname(self, gender: str) -> str:
        for _ in range(500):
            name = str(
                self._fake.last_name_male() if gender == "M" else self._fake.last_name_female()
            )
            stem = surname_stem(name)
            if stem not in self._used:
                self._used.add(stem)
                return name
        raise RuntimeError("ran out of distinct surnames")

    def first(self, gender: str) -> str:
        return str(self._fake.random_element(_MALE_NAMES if gender == "M" else _FEMALE_NAMES))

    def patronymic(self, gender: str) -> str:
        male, female = self._fake.random_element(_PATRONYMICS)
        return str(male if gender == "M" else female)


class _Phones:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def mobile(self) -> str:
        while True:
            code = self._rng.choice(_MOBILE_CODES)
            n = self._rng.randrange(10**7)
            phone = f"+7 {code} {n // 10**4:03d}-{n // 100 % 100:02d}-{n % 100:02d}"
            if phone not in self._used:
                self._used.add(phone)
                return phone


def build_org(
    rng: random.Random,
    fake: Faker,
    layout: DemoLayout,
    clock: DemoCalendar,
    avoid_surnames: Iterable[str] = (),
) -> Org:
    """Generate departments and users for ``layout`` (service accounts only where it uses them).

    ``avoid_surnames`` (street names, say) are kept out of the drawn surnames, so that a name
    in a request is ambiguous only where a test planted the ambiguity.
    """
    seats = _seats(rng)
    reserved = {surname_stem(s.last_name) for s in seats if s.last_name}
    reserved |= {surname_stem(name) for name in avoid_surnames}
    names = _Names(fake, reserved)
    phones = _Phones(rng)
    fired_seats = [
        _Seat("Уборщица", "F", BRIGADE_DEPT_IDS[1], 1),
        _Seat("Уборщик", "M", BRIGADE_DEPT_IDS[4], 4),
        _Seat("Уборщица", "F", BRIGADE_DEPT_IDS[6], 6),
        _Seat("Менеджер", "F", OFFICE_DEPT_ID, None),
    ]
    with_service = layout.brigade_source is BrigadeSource.SERVICE_ACCOUNT
    # Real portals number users in order of invitation with gaps left by deleted and
    # extranet users; ids do not follow brigades or positions.
    count = len(seats) + len(fired_seats) + (len(BRIGADES) if with_service else 0)
    ids = sorted(rng.sample(range(2, 260), count - 1))
    rng.shuffle(ids)
    ids = [1, *ids]  # the director created the portal (and the webhook)
    # Registration dates grow with the user id, from the portal's creation to last month.
    first_day = clock.today - timedelta(days=2400)
    registered_on = {
        uid: first_day + timedelta(days=(uid * 2300) // 260 + rng.randint(0, 5)) for uid in ids
    }

    people: list[Person] = []
    for index, seat in enumerate(seats + fired_seats):
        active = index < len(seats)
        last = seat.last_name or names.surname(seat.gender)
        first = seat.first_name or names.first(seat.gender)
        roll = rng.random()
        middle: str | None = names.patronymic(seat.gender) if roll < 0.86 else ""
        if roll > 0.95:
            middle = None
        person = Person(
            id=ids[index],
            first_name=first,
            last_name=last,
            middle_name=middle,
            gender=seat.gender,
            position=seat.position,
            department_id=seat.department_id,
            brigade=seat.brigade,
            active=active,
            birthday=date(rng.randint(1962, 2002), rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.7
            else None,
            registered=registered_on[ids[index]],
        )
        # A few people never gave a mobile number: the key is then absent.
        person.mobile = phones.mobile() if rng.random() > 0.06 else None
        if seat.brigade is None:
            person.email = f"{translit(last)}.{translit(first[0])}@{EMAIL_DOMAIN}"
            person.work_phone = f"+7 4842 {rng.randint(50, 79)}-{rng.randint(10, 99)}-{index:02d}"
        elif seat.position == "Бригадир" and rng.random() < 0.5:
            person.email = f"{translit(last)}{rng.randint(70, 99)}@mail.ru"
        people.append(person)

    director = people[0]
    staff = people[: len(seats)]
    fired = people[len(seats) :]
    office = [p for p in staff if p.department_id == OFFICE_DEPT_ID]
    brigades = {n: [p for p in staff if p.brigade == n] for n in BRIGADES}
    heads = {n: next(p for p in brigades[n] if p.position == "Бригадир") for n in BRIGADES}
    ivanovas = [p for p in staff if p.last_name == "Иванова"]
    namesakes = (ivanovas[0], ivanovas[1])

    users: dict[int, Record] = {}
    for person in people:
        users[person.id] = _user_record(person, clock, rng)
    service_accounts: dict[int, int] = {}
    if with_service:
        for offset, n in enumerate(BRIGADES):
            uid = ids[len(people) + offset]
            service_accounts[n] = uid
            users[uid] = _service_record(uid, n, clock, registered_on[uid])
    users = dict(sorted(users.items()))

    manager = next(p for p in office if p.position == "Менеджер")
    departments: dict[int, Record] = {
        ROOT_DEPT_ID: {"ID": str(ROOT_DEPT_ID), "NAME": COMPANY_NAME, "SORT": 500,
                       "UF_HEAD": str(director.id)},
        OFFICE_DEPT_ID: {"ID": str(OFFICE_DEPT_ID), "NAME": "Офис", "SORT": 100,
                         "PARENT": str(ROOT_DEPT_ID), "UF_HEAD": str(manager.id)},
        # A department with nobody at its head: department.get then omits UF_HEAD.
        WAREHOUSE_DEPT_ID: {"ID": str(WAREHOUSE_DEPT_ID), "NAME": "Склад", "SORT": 500,
                            "PARENT": str(OFFICE_DEPT_ID)},
    }  # fmt: skip
    for n in BRIGADES:
        dept = BRIGADE_DEPT_IDS[n]
        departments[dept] = {
            "ID": str(dept),
            "NAME": f"Бригада {n}",
            "SORT": 200 + 10 * n,
            "PARENT": str(ROOT_DEPT_ID),
            "UF_HEAD": str(heads[n].id),
        }
    return Org(
        departments=dict(sorted(departments.items())),
        users=users,
        director=director,
        office=office,
        brigades=brigades,
        heads=heads,
        fired=fired,
        service_accounts=service_accounts,
        namesakes=namesakes,
    )


def _user_record(person: Person, clock: DemoCalendar, rng: random.Random) -> Record:
    registered = person.registered or clock.today
    record: Record = {
        "ID": str(person.id),
        "ACTIVE": person.active,
        "NAME": person.first_name,
        "LAST_NAME": person.last_name,
    }
    if person.middle_name is not None:
        record["SECOND_NAME"] = person.middle_name
    if person.email is not None:
        record["EMAIL"] = person.email
    if person.active and (person.brigade is None or rng.random() < 0.6):
        seen = clock.today - timedelta(days=rng.randint(0, 20))
        record["LAST_LOGIN"] = clock.iso(seen, rng.randint(7, 20), rng.randint(0, 59), 0)
    elif not person.active:
        record["LAST_LOGIN"] = clock.iso(registered + timedelta(days=30), 9, 12, 41)
    record["DATE_REGISTER"] = clock.iso(registered)
    record["IS_ONLINE"] = "N"
    record["TIME_ZONE"] = ""
    record["PERSONAL_GENDER"] = person.gender
    record["PERSONAL_BIRTHDAY"] = clock.iso(person.birthday) if person.birthday else ""
    if person.mobile is not None:
        record["PERSONAL_MOBILE"] = person.mobile
    if person.work_phone is not None:
        record["WORK_PHONE"] = person.work_phone
    record["WORK_POSITION"] = person.position
    record["UF_DEPARTMENT"] = [person.department_id]
    record["USER_TYPE"] = "employee"
    return record


def _service_record(uid: int, brigade: int, clock: DemoCalendar, registered: date) -> Record:
    # The real portal spells brigade users both ways (NAME="1" LAST_NAME="бригада" and
    # NAME="4 бригада" LAST_NAME=""), so the domain layer must read both.
    if brigade % 2:
        name, last = str(brigade), "бригада"
    else:
        name, last = f"{brigade} бригада", ""
    return {
        "ID": str(uid),
        "ACTIVE": True,
        "NAME": name,
        "LAST_NAME": last,
        "SECOND_NAME": "",
        "EMAIL": f"brigada{brigade}@{EMAIL_DOMAIN}",
        "LAST_LOGIN": clock.iso(clock.today - timedelta(days=uid % 5), 7, 40, 12),
        "DATE_REGISTER": clock.iso(registered),
        "IS_ONLINE": "N",
        "TIME_ZONE": "",
        "PERSONAL_GENDER": "",
        "PERSONAL_BIRTHDAY": "",
        "WORK_POSITION": "",
        "UF_DEPARTMENT": [BRIGADE_DEPT_IDS[brigade]],
        "USER_TYPE": "employee",
    }
