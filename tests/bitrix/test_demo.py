"""The demo company generator: determinism, counts, REST shapes, schedules, layouts, dates.

The checks read the generated store the way the domain layer will read the portal (pipelines
by name, fields by label, enumeration values through the field's own ``LIST``) and compare
with `DemoTruth` only where the ground truth is the point.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bitrix.demo import (
    BrigadeSource,
    DemoCompany,
    DemoLayout,
    Periodicity,
    build_demo,
    build_demo_store,
)
from bitrix.portal.store import PortalStore

TODAY = date(2026, 11, 5)
TZ = ZoneInfo("Europe/Moscow")
STREETS = {
    "Пролетарская", "Никитиной", "Московская", "Билибина", "Суворова", "Зеленая",
    "Телевизионная", "Карачевская", "Майская", "Чижевского", "Энгельса", "Ст.Разина",
    "Малоярославецкая", "Жукова", "Хрустальная", "Гвардейская", "Грабцевское шоссе", "Кирова",
    "Ленина",
}  # fmt: skip
KONDROVO_STREETS = {"Пушкина", "Ленина", "Кирова", "Центральная"}
MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
          "октябрь", "ноябрь", "декабрь")  # fmt: skip
WET = "Влажная уборка лестничных площадок всех этажей"
SWEEP = "Подметание лестничных площадок и маршей всех этажей"
FIRST = "Влажная уборка 1 этажа"
TITLE = re.compile(
    r"^(?:(?P<town>[А-ЯЁ][а-яё]+), )?(?P<street>\S.*?) (?P<number>\d+(?:/\d+|к\d+|[а-я])?)$"
)
#: Fixed public holidays (Labour Code art. 112): no cleaning.
HOLIDAYS = {(1, d) for d in range(1, 9)} | {(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)}
SCHEDULE_LABEL = re.compile(r"^(?P<kind>.+?) (?P<n>[12]) \((?P<month>[А-Яа-яё]+)\)$")


@pytest.fixture(scope="module")
def demo() -> DemoCompany:
    return build_demo(TODAY)


@pytest.fixture(scope="module")
def store(demo: DemoCompany) -> PortalStore:
    return demo.store


@pytest.fixture(scope="module")
def layouts() -> dict[str, DemoCompany]:
    return {layout.name: build_demo(TODAY, layout=layout) for layout in DemoLayout.all()}


# --- readers: how a client of the REST API would see the store ---------------------------


def label(field: dict[str, Any]) -> str:
    return str(field["LIST_COLUMN_LABEL"]["ru"])


def field_by_label(store: PortalStore, text: str) -> dict[str, Any]:
    matches = [f for f in store.deal_userfields if label(f) == text]
    assert len(matches) == 1, (text, [label(f) for f in store.deal_userfields])
    return matches[0]


def category_id(store: PortalStore, name: str) -> int:
    return next(int(c["id"]) for c in store.categories if c["name"] == name)


def stage_semantics(store: PortalStore) -> dict[str, str | None]:
    return {s["STATUS_ID"]: s["SEMANTICS"] for s in store.statuses}


def houses(store: PortalStore, category: int, *, active: bool) -> list[dict[str, Any]]:
    semantics = stage_semantics(store)
    return [
        d
        for d in store.deals.values()
        if d["CATEGORY_ID"] == str(category) and (semantics[d["STAGE_ID"]] is None) == active
    ]


def is_service_account(user: dict[str, Any]) -> bool:
    return "бригада" in f"{user['NAME']} {user['LAST_NAME']}".lower()


def people(store: PortalStore) -> list[dict[str, Any]]:
    return [u for u in store.users.values() if u["ACTIVE"] and not is_service_account(u)]


def brigade_departments(store: PortalStore) -> dict[int, dict[str, Any]]:
    found = {}
    for dept in store.departments.values():
        match = re.fullmatch(r"Бригада (\d)", dept["NAME"])
        if match:
            found[int(match.group(1))] = dept
    return found


def schedule_fields(store: PortalStore) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(kind word, period, month name, field) for every schedule-looking field."""
    for field in store.deal_userfields:
        match = SCHEDULE_LABEL.match(label(field))
        if match and match.group("month").lower() in MONTHS:
            yield match.group("kind"), int(match.group("n")), match.group("month").lower(), field


def option_labels(field: dict[str, Any]) -> dict[str, str]:
    return {o["ID"]: o["VALUE"] for o in field["LIST"]}


def month_of(name: str, today: date) -> tuple[int, int]:
    """The (year, month) of a label's month name: the one nearest to today."""
    month = MONTHS.index(name) + 1
    candidates = [(today.year + dy, month) for dy in (-1, 0, 1)]
    return min(
        candidates, key=lambda ym: abs((ym[0] * 12 + ym[1]) - (today.year * 12 + today.month))
    )


def periodicity(visits: list[tuple[str, int]]) -> str:
    """The business rule, written independently of the generator."""
    if not visits:
        return "не указана"
    wet = sum(count for kind, count in visits if kind == WET)
    others = {kind for kind, count in visits if kind != WET and count}
    if not others and wet == 2:
        return "2 раза"
    if not others and wet == 4:
        return "4 раза"
    if wet == 2 and others == {SWEEP}:
        return "2 раза + подметания"
    if wet == 2 and others == {FIRST}:
        return "2 раза + 1 этажи"
    return "индивидуальная"


def month_visits(
    store: PortalStore, deal: dict[str, Any], month: str, date_word: str, type_word: str
) -> list[tuple[str, int]]:
    visits = []
    for period in (1, 2):
        dates = field_by_label(store, f"{date_word} {period} ({month})")
        kinds = field_by_label(store, f"{type_word} {period} ({month})")
        values = deal[dates["FIELD_NAME"]]
        option = deal[kinds["FIELD_NAME"]]
        if values:
            visits.append((option_labels(kinds)[option], len(values)))
    return visits


# --- determinism ------------------------------------------------------------------------


def test_same_seed_and_date_give_an_identical_store(store: PortalStore) -> None:
    again = build_demo_store(TODAY)
    assert again == store
    assert json.dumps(again.deals, ensure_ascii=False) == json.dumps(
        store.deals, ensure_ascii=False
    )


def test_another_seed_gives_another_company(store: PortalStore) -> None:
    other = build_demo_store(TODAY, seed=8)
    names = {(u["NAME"], u["LAST_NAME"]) for u in people(store)}
    other_names = {(u["NAME"], u["LAST_NAME"]) for u in people(other)}
    assert len(names & other_names) < 20
    titles = {d["TITLE"] for d in store.deals.values()}
    assert titles != {d["TITLE"] for d in other.deals.values()}
    assert len(people(other)) == 82


# --- counts -----------------------------------------------------------------------------


def test_deal_counts(store: PortalStore) -> None:
    cat = category_id(store, "Уборка подъездов")
    assert cat == 34
    assert len(houses(store, cat, active=True)) == 490
    lost = houses(store, cat, active=False)
    assert len(lost) >= 10
    assert {d["STAGE_ID"] for d in lost} == {"C34:LOSE", "C34:APOLOGY"}
    sales = [d for d in store.deals.values() if d["CATEGORY_ID"] == "0"]
    assert len(sales) == 10
    assert all(not TITLE.match(d["TITLE"]) for d in sales)
    assert len(store.deals) == 490 + len(lost) + 10


def test_people_departments_and_heads(store: PortalStore) -> None:
    staff = people(store)
    assert len(staff) == 82
    assert len([u for u in store.users.values() if u["ACTIVE"] is False]) == 4
    positions = Counter(u["WORK_POSITION"] for u in staff)
    assert positions["Директор"] == 1
    assert positions["Бригадир"] == 6
    for position in ("Менеджер", "Диспетчер", "Бухгалтер", "Уборщица", "Уборщик"):
        assert positions[position] >= 1, position
    assert set(positions) == {"Директор", "Менеджер", "Диспетчер", "Бухгалтер", "Бригадир",
                              "Уборщица", "Уборщик"}  # fmt: skip

    root = [d for d in store.departments.values() if "PARENT" not in d]
    assert len(root) == 1
    assert "Чистый подъезд" in root[0]["NAME"]
    office = next(d for d in store.departments.values() if d["NAME"] == "Офис")
    brigades = brigade_departments(store)
    assert sorted(brigades) == [1, 2, 3, 4, 5, 6]
    for n, dept in brigades.items():
        members = [u for u in staff if u["UF_DEPARTMENT"] == [int(dept["ID"])]]
        assert 10 <= len(members) <= 15, (n, len(members))
        head = store.users[int(dept["UF_HEAD"])]
        assert head["WORK_POSITION"] == "Бригадир"
        assert head["UF_DEPARTMENT"] == [int(dept["ID"])]
        assert {u["WORK_POSITION"] for u in members} <= {"Бригадир", "Уборщица", "Уборщик"}
    office_staff = [u for u in staff if u["UF_DEPARTMENT"] == [int(office["ID"])]]
    assert {u["WORK_POSITION"] for u in office_staff} == {"Менеджер", "Диспетчер", "Бухгалтер"}
    assert all(u.get("EMAIL", "").endswith("@chisty-podezd.ru") for u in office_staff)
    # Gender agrees with the position's grammatical gender.
    assert all(u["PERSONAL_GENDER"] == "F" for u in staff if u["WORK_POSITION"] == "Уборщица")
    assert all(u["PERSONAL_GENDER"] == "M" for u in staff if u["WORK_POSITION"] == "Уборщик")


def test_planted_names(store: PortalStore, demo: DemoCompany) -> None:
    staff = people(store)
    ivanovas = [u for u in staff if u["LAST_NAME"] == "Иванова"]
    assert len(ivanovas) == 2
    assert ivanovas[0]["NAME"] != ivanovas[1]["NAME"]
    assert ivanovas[0]["UF_DEPARTMENT"] != ivanovas[1]["UF_DEPARTMENT"]
    assert {int(u["ID"]) for u in ivanovas} == set(demo.truth.namesake_ids)
    surnames = Counter(u["LAST_NAME"] for u in staff)
    for planted in ("Петров", "Сидоренко", "Шевчук"):
        assert surnames[planted] == 1, planted
    # No other shared surnames, and no surname that is also one of the streets.
    assert [name for name, count in surnames.items() if count > 1] == ["Иванова"]
    street_stems = {s.rstrip("аы") for s in STREETS | KONDROVO_STREETS}
    assert not {u["LAST_NAME"].rstrip("аы") for u in staff} & street_stems


def test_phones(store: PortalStore) -> None:
    staff = people(store)
    phones = [u["PERSONAL_MOBILE"] for u in staff if "PERSONAL_MOBILE" in u]
    assert 70 <= len(phones) < 82
    assert all(re.fullmatch(r"\+7 9\d\d \d{3}-\d\d-\d\d", p) for p in phones)
    assert len(set(phones)) == len(phones)


def test_service_accounts_are_not_people(store: PortalStore) -> None:
    accounts = [u for u in store.users.values() if is_service_account(u)]
    assert len(accounts) == 6
    spellings = {(u["LAST_NAME"] == "бригада", u["LAST_NAME"] == "") for u in accounts}
    assert spellings == {(True, False), (False, True)}, "both real-portal spellings occur"
    brigades = brigade_departments(store)
    for account in accounts:
        number = int(re.search(r"\d", account["NAME"]).group())  # type: ignore[union-attr]
        assert account["ACTIVE"] is True
        assert account["UF_DEPARTMENT"] == [int(brigades[number]["ID"])]
        assert account["WORK_POSITION"] == ""
        assert "PERSONAL_MOBILE" not in account


def test_houses_per_brigade_cluster_by_street(store: PortalStore) -> None:
    accounts = {u["ID"]: int(re.search(r"\d", u["NAME"]).group())  # type: ignore[union-attr]
                for u in store.users.values() if is_service_account(u)}  # fmt: skip
    active = houses(store, 34, active=True)
    assert all(d["ASSIGNED_BY_ID"] in accounts for d in active)
    per_brigade = Counter(accounts[d["ASSIGNED_BY_ID"]] for d in active)
    assert all(70 <= per_brigade[n] <= 95 for n in range(1, 7)), per_brigade
    brigades_on_street: dict[str, set[int]] = defaultdict(set)
    for deal in active:
        match = TITLE.match(deal["TITLE"])
        assert match
        brigades_on_street[f"{match['town']}/{match['street']}"].add(
            accounts[deal["ASSIGNED_BY_ID"]]
        )
    assert all(len(b) <= 2 for b in brigades_on_street.values()), brigades_on_street
    # Some streets are split, so the street alone does not tell the brigade.
    assert any(len(b) == 2 for b in brigades_on_street.values())


def test_management_companies(store: PortalStore) -> None:
    assert len(store.companies) >= 20
    titles = [c["TITLE"] for c in store.companies.values()]
    assert "ООО УК «Жилкомсервис»" in titles
    assert all(
        c["PHONE"] and c["PHONE"][0]["TYPE_ID"] == "PHONE" for c in store.companies.values()
    )
    active = houses(store, 34, active=True)
    linked = [d["COMPANY_ID"] for d in active if d["COMPANY_ID"] not in ("0", None)]
    assert all(int(c) in store.companies for c in linked)
    none = [d["COMPANY_ID"] for d in active if d["COMPANY_ID"] in ("0", None)]
    assert len(none) >= 10
    assert set(none) == {"0", None}


# --- shapes -----------------------------------------------------------------------------


def test_deal_shapes(store: PortalStore) -> None:
    multiple = {f["FIELD_NAME"] for f in store.deal_userfields if f["MULTIPLE"] == "Y"}
    codes = {f["FIELD_NAME"] for f in store.deal_userfields}
    for deal_id, deal in store.deals.items():
        assert deal["ID"] == str(deal_id)
        assert {k for k in deal if k.startswith("UF_")} == codes
        for key, value in deal.items():
            if key in multiple:
                assert isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                assert value is None or isinstance(value, str), (key, value)
        assert re.fullmatch(r"\d+", deal["ASSIGNED_BY_ID"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", deal["DATE_CREATE"])
    for code in codes:
        assert re.fullmatch(r"UF_CRM_\d{10,13}", code), code


def test_userfield_definitions(store: PortalStore) -> None:
    ids = [f["ID"] for f in store.deal_userfields]
    assert len(set(ids)) == len(ids)
    for field in store.deal_userfields:
        assert field["ENTITY_ID"] == "CRM_DEAL"
        assert field["MULTIPLE"] in ("Y", "N") and field["MANDATORY"] in ("Y", "N")
        assert isinstance(field["SORT"], str) and isinstance(field["SETTINGS"], dict)
        for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL"):
            assert set(field[key]) == {"ru", "en"}
        assert ("LIST" in field) == (field["USER_TYPE_ID"] == "enumeration")
    labels = {label(f) for f in store.deal_userfields}
    for wanted in ("Адрес", "Количество квартир", "Количество подъездов", "Количество этажей",
                   "Комментарий для бригады", "Код домофона"):  # fmt: skip
        assert wanted in labels


def test_enumeration_values_are_option_ids_of_their_own_field(store: PortalStore) -> None:
    enums = [f for f in store.deal_userfields if f["USER_TYPE_ID"] == "enumeration"]
    all_ids = [o["ID"] for f in enums for o in f["LIST"]]
    assert len(set(all_ids)) == len(all_ids), "option ids differ per field"
    assert all(re.fullmatch(r"\d+", i) for i in all_ids)
    seen = 0
    for field in enums:
        options = option_labels(field)
        for deal in store.deals.values():
            value = deal[field["FIELD_NAME"]]
            assert value in (None, "") or value in options, (field["FIELD_NAME"], value)
            seen += value in options
    assert seen > 1000


def test_user_department_and_category_shapes(store: PortalStore) -> None:
    for user in store.users.values():
        assert isinstance(user["ACTIVE"], bool)
        assert isinstance(user["ID"], str)
        assert isinstance(user["UF_DEPARTMENT"], list)
        assert all(type(d) is int and d in store.departments for d in user["UF_DEPARTMENT"])
        assert None not in user.values(), "NULL user fields are omitted"
    assert any("SECOND_NAME" not in u for u in store.users.values())
    for dept in store.departments.values():
        assert type(dept["SORT"]) is int
        assert None not in dept.values()
        assert all(isinstance(dept[k], str) for k in ("ID", "PARENT", "UF_HEAD") if k in dept)
    assert any("UF_HEAD" not in d for d in store.departments.values())
    for category in store.categories:
        assert all(type(category[k]) is int for k in ("id", "sort", "entityTypeId"))
    default = next(c for c in store.categories if c["id"] == 0)
    assert default["name"] == "Продажи" and "originId" not in default
    stages = {s["STATUS_ID"]: s for s in store.statuses if s["ENTITY_ID"] == "DEAL_STAGE_34"}
    assert set(stages) >= {"C34:NEW", "C34:PREPARATION", "C34:EXECUTING", "C34:WON", "C34:LOSE",
                           "C34:APOLOGY"}  # fmt: skip
    assert stages["C34:EXECUTING"]["NAME"] == "Обслуживается"
    assert [stages[s]["SEMANTICS"] for s in ("C34:EXECUTING", "C34:WON", "C34:LOSE")] == [
        None, "S", "F"
    ]  # fmt: skip
    assert all(isinstance(s["SORT"], str) for s in store.statuses)
    assert any(s["ENTITY_ID"] == "DEAL_STAGE" and s["STATUS_ID"] == "WON" for s in store.statuses)


# --- houses -----------------------------------------------------------------------------


def test_titles_are_unique_addresses(store: PortalStore) -> None:
    all_houses = houses(store, 34, active=True) + houses(store, 34, active=False)
    titles = [d["TITLE"] for d in all_houses]
    assert len(set(titles)) == len(titles)
    streets_by_number: dict[str, set[str]] = defaultdict(set)
    towns: Counter[str | None] = Counter()
    for title in titles:
        match = TITLE.match(title)
        assert match, title
        if match["town"]:
            assert match["town"] == "Кондрово" and match["street"] in KONDROVO_STREETS, title
        else:
            assert match["street"] in STREETS, title
        towns[match["town"]] += 1
        streets_by_number[match["number"]].add(f"{match['town']}/{match['street']}")
    assert towns["Кондрово"] >= 10
    assert {"Ленина 5", "Кондрово, Ленина 5", "Пролетарская 112/1"} <= set(titles)
    shared = [n for n, streets in streets_by_number.items() if len(streets) > 1]
    assert len(shared) >= 5
    suffixes = {re.sub(r"\d", "", TITLE.match(t)["number"])[:1] for t in titles}  # type: ignore[index]
    assert {"", "/", "к"} <= suffixes and suffixes & {"а", "б"}


def test_address_field(store: PortalStore) -> None:
    code = field_by_label(store, "Адрес")["FIELD_NAME"]
    values = [d[code] for d in houses(store, 34, active=True)]
    with_coordinates = [v for v in values if v and "|" in v]
    plain = [v for v in values if v and "|" not in v]
    empty = [v for v in values if not v]
    assert with_coordinates and plain and empty
    assert None in empty and "" in empty
    for value in with_coordinates:
        assert re.fullmatch(r".+, д\. .+\|\d\d\.\d+;\d\d\.\d+", value), value
    assert any(
        v.startswith("г. Калуга, ул. Пролетарская, д. 112/1") for v in plain + with_coordinates
    )


def test_counts_are_realistic_and_partly_missing(store: PortalStore) -> None:
    active = houses(store, 34, active=True)
    codes = {name: field_by_label(store, f"Количество {name}")["FIELD_NAME"]
             for name in ("квартир", "подъездов", "этажей")}  # fmt: skip
    coverages = []
    for code in codes.values():
        values = [d[code] for d in active]
        present = [v for v in values if v]
        assert all(re.fullmatch(r"\d+", v) for v in present)
        assert "" in values and None in values
        coverages.append(len(present) / len(values))
    assert all(0.88 <= c <= 0.98 for c in coverages), coverages
    assert len(set(coverages)) == 3
    for deal in active:
        flats, entrances, floors = (deal[c] for c in codes.values())
        if entrances:
            assert 1 <= int(entrances) <= 10
        if floors:
            assert 2 <= int(floors) <= 16
        if flats and entrances and floors:
            assert 2.5 <= int(flats) / (int(entrances) * int(floors)) <= 4


# --- schedule ---------------------------------------------------------------------------


def test_schedule_fields_cover_last_this_and_next_month(store: PortalStore) -> None:
    found = Counter((kind, month) for kind, _n, month, _f in schedule_fields(store))
    assert found == {(k, m): 2 for k in ("Дата уборки", "Тип уборки")
                     for m in ("октябрь", "ноябрь", "декабрь")}  # fmt: skip
    for kind, _period, _month, field in schedule_fields(store):
        if kind == "Дата уборки":
            assert field["USER_TYPE_ID"] == "date" and field["MULTIPLE"] == "Y"
        else:
            assert field["USER_TYPE_ID"] == "enumeration" and field["MULTIPLE"] == "N"
            assert set(option_labels(field).values()) == {WET, SWEEP, FIRST}


def check_dates_in_labelled_months(store: PortalStore, today: date) -> set[tuple[int, int]]:
    months = set()
    for kind, _period, month, field in schedule_fields(store):
        if kind != "Дата уборки":
            continue
        year_month = month_of(month, today)
        months.add(year_month)
        for deal in store.deals.values():
            for value in deal[field["FIELD_NAME"]]:
                moment = datetime.fromisoformat(value)
                assert (moment.year, moment.month) == year_month, (label(field), value)
                assert moment.time() == datetime.min.time() and moment.utcoffset()
                assert moment.weekday() < 5
    return months


def test_schedule_dates_are_inside_their_labelled_month(store: PortalStore) -> None:
    assert check_dates_in_labelled_months(store, TODAY) == {(2026, 10), (2026, 11), (2026, 12)}


def test_every_periodicity_occurs_and_matches_the_truth(
    store: PortalStore, demo: DemoCompany
) -> None:
    active = houses(store, 34, active=True)
    for month, key in (("октябрь", "2026-10"), ("ноябрь", "2026-11"), ("декабрь", "2026-12")):
        found: Counter[str] = Counter()
        for deal in active:
            kind = periodicity(month_visits(store, deal, month, "Дата уборки", "Тип уборки"))
            assert kind == demo.truth.periodicity[int(deal["ID"])][key]
            found[kind] += 1
        assert set(found) == {p.value for p in Periodicity}, (month, found)
        assert found["2 раза"] > found["индивидуальная"]
    # "Pair 1 wet, pair 2 sweeping" is how the real portal records "2 раза + подметания".
    deal_id = next(i for i, p in demo.truth.periodicity.items()
                   if p["2026-11"] is Periodicity.TWICE_SWEEPING)  # fmt: skip
    visits = month_visits(store, store.deals[deal_id], "ноябрь", "Дата уборки", "Тип уборки")
    assert visits == [(WET, 2), (SWEEP, 2)]


def test_every_working_day_has_visits_for_every_brigade(store: PortalStore) -> None:
    accounts = {
        u["ID"]: u["UF_DEPARTMENT"][0] for u in store.users.values() if is_service_account(u)
    }
    active = houses(store, 34, active=True)
    date_fields: dict[str, list[str]] = defaultdict(list)
    for kind, _period, month, field in schedule_fields(store):
        if kind == "Дата уборки":
            date_fields[month].append(field["FIELD_NAME"])
    for month, codes in date_fields.items():
        year, number = month_of(month, TODAY)
        days = [date(year, number, 1) + timedelta(days=i) for i in range(31)]
        workdays = {d for d in days if d.month == number and d.weekday() < 5
                    and (d.month, d.day) not in HOLIDAYS}  # fmt: skip
        visited: dict[int, set[date]] = defaultdict(set)
        for deal in active:
            for code in codes:
                for value in deal[code]:
                    visited[accounts[deal["ASSIGNED_BY_ID"]]].add(date.fromisoformat(value[:10]))
        assert len(visited) == 6
        for dept, days_visited in visited.items():
            assert days_visited == workdays, (month, dept, sorted(workdays - days_visited))


# --- dates relative to today --------------------------------------------------------------


def test_schedule_moves_with_today() -> None:
    spring = build_demo_store(date(2027, 3, 10))
    months = {month for _k, _n, month, _f in schedule_fields(spring)}
    assert months == {"февраль", "март", "апрель"}
    assert check_dates_in_labelled_months(spring, date(2027, 3, 10)) == {
        (2027, 2), (2027, 3), (2027, 4)
    }  # fmt: skip


def test_year_boundary_in_late_december() -> None:
    today = date(2026, 12, 29)
    company = build_demo(today)
    months = {month for _k, _n, month, _f in schedule_fields(company.store)}
    assert months == {"ноябрь", "декабрь", "январь"}
    assert check_dates_in_labelled_months(company.store, today) == {
        (2026, 11), (2026, 12), (2027, 1)
    }  # fmt: skip
    january = [date.fromisoformat(d[:10]) for deal in company.store.deals.values()
               for f in field_codes_for(company.store, "январь") for d in deal[f]]  # fmt: skip
    # The New Year holidays have no visits; the first working day after them has.
    assert january and min(january) == date(2027, 1, 11)
    assert len(company.store.tasks) >= 60 and len(company.store.events) >= 20


@pytest.mark.parametrize("today", [date(2027, m, 1 + (7 * m) % 28) for m in range(1, 13)])
def test_every_month_of_a_year(today: date) -> None:
    company = build_demo(today, seed=today.month)
    store = company.store
    assert len(houses(store, 34, active=True)) == 490
    assert len(people(store)) == 82
    assert check_dates_in_labelled_months(store, today) == {
        (m.year, m.month) for m in company.truth.months
    }
    assert (company.truth.months[1].year, company.truth.months[1].month) == (
        today.year,
        today.month,
    )
    for month in company.truth.months:
        workdays = {
            d for d in month.days() if d.weekday() < 5 and (d.month, d.day) not in HOLIDAYS
        }
        for brigade in range(1, 7):
            visited = {
                d
                for house, plans in company.truth.plans.items()
                if company.truth.house_brigade[house] == brigade
                for d in plans[month.key].dates
            }
            assert visited == workdays, (month, brigade, sorted(workdays ^ visited))
    event_days = {e["DATE_FROM"][:10] for e in store.events}
    assert f"{today:%d.%m.%Y}" in event_days
    assert len(store.tasks) >= 60 and len(store.events) >= 20


def field_codes_for(store: PortalStore, month: str) -> list[str]:
    return [f["FIELD_NAME"] for kind, _n, m, f in schedule_fields(store)
            if m == month and kind == "Дата уборки"]  # fmt: skip


def test_the_demo_is_dated_around_the_given_day_in_its_timezone() -> None:
    zone = "Asia/Kamchatka"
    company = build_demo(TODAY, timezone=zone)
    assert company.truth.today == TODAY
    assert company.store.timezone == zone
    assert any(
        e["TZ_FROM"] == zone and e["TZ_OFFSET_FROM"] == "43200" for e in company.store.events
    )


# --- tasks and calendar -------------------------------------------------------------------


def test_tasks(store: PortalStore) -> None:
    tasks = list(store.tasks.values())
    assert len(tasks) >= 60
    now = datetime.combine(TODAY, datetime.min.time(), tzinfo=TZ)
    house_ids = {d["ID"] for d in houses(store, 34, active=True)}
    kinds: Counter[str] = Counter()
    for task_id, task in store.tasks.items():
        assert task["id"] == str(task_id)
        for key in ("id", "status", "priority", "responsibleId", "createdBy", "groupId",
                    "createdDate", "changedDate", "title"):  # fmt: skip
            assert isinstance(task[key], str), key
        assert int(task["responsibleId"]) in store.users
        assert store.users[int(task["responsibleId"])]["ACTIVE"] is True
        deadline = datetime.fromisoformat(task["deadline"]) if task["deadline"] else None
        if task["status"] == "5":
            kinds["done"] += 1
            assert task["closedDate"] and datetime.fromisoformat(
                task["closedDate"]
            ) < now + timedelta(hours=10)
        else:
            assert task["closedDate"] is None
        if deadline and deadline < now and task["status"] in ("2", "3"):
            kinds["overdue"] += 1
            assert task["subStatus"] == "-1"
        if deadline and deadline.date() == TODAY:
            kinds["today"] += 1
        if deadline and deadline.date() == TODAY + timedelta(days=1):
            kinds["tomorrow"] += 1
        if deadline and (deadline.date() - TODAY).days in range(2, 14):
            kinds["this and next week"] += 1
        crm = task["ufCrmTask"]
        assert crm is False or (isinstance(crm, list) and crm)
        if crm and any(c.startswith("D_") for c in crm):
            kinds["house"] += 1
            assert all(c[2:] in house_ids for c in crm)
            assert any(c[2:] and store.deals[int(c[2:])]["TITLE"] in task["title"] for c in crm)
    assert all(kinds[k] >= 3 for k in ("done", "overdue", "today", "tomorrow", "house",
                                       "this and next week")), kinds  # fmt: skip
    titles = [t["title"] for t in tasks]
    assert any(t.startswith("Проверить качество уборки: ") for t in titles)
    assert any(re.fullmatch(r"Заменить инвентарь бригаде \d", t) for t in titles)
    assert any(t.startswith("Акт для ") for t in titles)
    positions = {store.users[int(t["responsibleId"])]["WORK_POSITION"] for t in tasks}
    assert {"Бригадир", "Менеджер"} <= positions


def test_calendar_events(store: PortalStore) -> None:
    events = store.events
    assert len(events) >= 20
    days: Counter[object] = Counter()
    for event in events:
        assert event["CAL_TYPE"] == "company_calendar" and event["OWNER_ID"] == "0"
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", event["DATE_FROM"])
        assert isinstance(event["DT_LENGTH"], int)
        assert re.fullmatch(r"\d{10}", event["DATE_FROM_TS_UTC"])
        # The site format carries no zone: compare it as wall-clock time.
        local = datetime.strptime(event["DATE_FROM"], "%d.%m.%Y %H:%M:%S")  # noqa: DTZ007
        stamp = int(event["DATE_FROM_TS_UTC"])
        if event["DT_SKIP_TIME"] == "N":
            assert datetime.fromtimestamp(stamp, TZ).replace(tzinfo=None) == local
            days["timed"] += 1
        else:
            assert event["DT_SKIP_TIME"] == "Y"
            assert datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None) == local
            days["all-day"] += 1
        days[local.date()] += 1
    assert days[TODAY] >= 2 and days[TODAY + timedelta(days=1)] >= 1
    assert days["all-day"] >= 3 and days["timed"] >= 15
    names = [e["NAME"] for e in events]
    assert "Планёрка бригадиров" in names
    assert any(n.startswith("Проверка качества: ") for n in names)
    assert any(n.startswith("Собрание с ") for n in names)


# --- layouts ------------------------------------------------------------------------------


def test_layouts_differ_in_codes_labels_and_pipeline(layouts: dict[str, DemoCompany]) -> None:
    default, alternative, enum = (
        layouts[n].store for n in ("default", "alternative", "enum_brigade")
    )
    code_sets = [
        {f["FIELD_NAME"] for f in s.deal_userfields} for s in (default, alternative, enum)
    ]
    assert not code_sets[0] & code_sets[1] and not code_sets[0] & code_sets[2]
    assert not code_sets[1] & code_sets[2]
    assert (
        category_id(alternative, "Обслуживание домов")
        == layouts["alternative"].truth.layout.category_id
    )
    assert category_id(alternative, "Обслуживание домов") != 34
    assert not any(c["name"] == "Уборка подъездов" for c in alternative.categories)
    labels = {label(f) for f in alternative.deal_userfields}
    assert {"Кол-во квартир", "Подъездов", "Этажность", "График 1 (ноябрь)",
            "Вид уборки 2 (декабрь)"} <= labels  # fmt: skip
    assert "Количество квартир" not in labels
    for name, company in layouts.items():
        store = company.store
        cat = company.truth.layout.category_id
        assert len(houses(store, cat, active=True)) == 490, name
        assert len(people(store)) == 82, name
        assert len(store.tasks) == len(default.tasks), name


def test_alternative_layout_links_brigades_through_departments(
    layouts: dict[str, DemoCompany],
) -> None:
    company = layouts["alternative"]
    store = company.store
    assert company.truth.layout.brigade_source is BrigadeSource.RESPONSIBLE_DEPARTMENT
    assert not any(is_service_account(u) for u in store.users.values())
    brigades = {int(d["ID"]): n for n, d in brigade_departments(store).items()}
    active = houses(store, company.truth.layout.category_id, active=True)
    for deal in active:
        responsible = store.users[int(deal["ASSIGNED_BY_ID"])]
        assert responsible["WORK_POSITION"] in ("Бригадир", "Уборщица", "Уборщик")
        brigade = brigades[responsible["UF_DEPARTMENT"][0]]
        assert brigade == company.truth.house_brigade[int(deal["ID"])]
    # Periodicities read through the alternative labels agree with the default layout.
    default = layouts["default"]
    by_title = {d["TITLE"]: d for d in houses(default.store, 34, active=True)}
    for deal in active[:60]:
        mine = periodicity(month_visits(store, deal, "ноябрь", "График", "Вид уборки"))
        theirs = periodicity(
            month_visits(
                default.store, by_title[deal["TITLE"]], "ноябрь", "Дата уборки", "Тип уборки"
            )
        )
        assert mine == theirs


def test_enum_layout_has_a_brigade_field(layouts: dict[str, DemoCompany]) -> None:
    company = layouts["enum_brigade"]
    store = company.store
    field = field_by_label(store, "Бригада")
    assert field["USER_TYPE_ID"] == "enumeration"
    options = option_labels(field)
    assert sorted(options.values()) == [f"Бригада {n}" for n in range(1, 7)]
    active = houses(store, company.truth.layout.category_id, active=True)
    counts = Counter(options[d[field["FIELD_NAME"]]] for d in active)
    assert sum(counts.values()) == 490 and len(counts) == 6
    responsible_positions = {
        store.users[int(d["ASSIGNED_BY_ID"])]["WORK_POSITION"] for d in active
    }
    assert responsible_positions == {"Менеджер"}
    # Month names are capitalised on this portal; the dates still sit in their months.
    assert {m for _k, _n, m, _f in schedule_fields(store)} == {"октябрь", "ноябрь", "декабрь"}
    assert any("(Ноябрь)" in label(f) for f in store.deal_userfields)
    check_dates_in_labelled_months(store, TODAY)


def test_truth_field_codes_match_the_labels(layouts: dict[str, DemoCompany]) -> None:
    for company in layouts.values():
        layout = company.truth.layout
        store = company.store
        assert field_by_label(store, layout.apartments_label)["FIELD_NAME"] == layout.field_code(
            "apartments"
        )
        codes = company.truth.field_codes
        november = field_by_label(store, layout.schedule_label("date", company.truth.months[1], 1))
        assert november["FIELD_NAME"] == codes[f"date:{TODAY:%Y-%m}:1"]
