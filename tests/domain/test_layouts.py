"""The same loader and snapshot on three portal layouts give the company's true houses.

Layouts differ in pipeline id and name, ``UF_CRM_*`` codes, labels, and where the brigade
lives (a service user, the responsible person's department, an enumeration field). Every
expectation is computed by the test from the portal's raw REST answers (`RawPortal`), and
cross-checked with the generator's `DemoTruth` where it has the fact.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from bitrix.client import BitrixClient
from bitrix.demo import YearMonth
from bitrix.demo.builder import DemoCompany
from bitrix.mapping import cleaning_kind
from bitrix.models import periodicity

from .conftest import LOAD_DAY, load
from .raw import RawPortal


async def test_houses_are_the_active_deals_of_the_houses_pipeline(
    client: BitrixClient, rest: RawPortal, demo: DemoCompany
) -> None:
    loaded = await load(client)
    snapshot, truth = loaded.snapshot, demo.truth
    assert snapshot.mapping.pipeline.id == truth.layout.category_id
    assert snapshot.mapping.pipeline.name == truth.layout.category_name
    expected = {d["ID"] for d in rest.houses()}
    assert set(snapshot.houses_by_id) == expected
    assert len(snapshot.houses) == 490 == len(expected)
    assert expected == {str(i) for i in truth.active_house_ids}
    # Lost (ended) houses of the pipeline and deals of other pipelines are not houses.
    category = str(truth.layout.category_id)
    lost = {d["ID"] for d in rest.deals if d["CATEGORY_ID"] == category} - expected
    others = {d["ID"] for d in rest.deals if d["CATEGORY_ID"] != category}
    assert len(lost) >= 10 and len(others) >= 10
    assert lost == {str(i) for i in truth.closed_house_ids}
    assert not (lost | others) & set(snapshot.houses_by_id)
    assert snapshot.skipped_deals == []


async def test_every_house_has_its_brigade(
    client: BitrixClient, rest: RawPortal, demo: DemoCompany
) -> None:
    snapshot = (await load(client)).snapshot
    expected = {d["ID"]: rest.brigade(d) for d in rest.houses()}
    assert None not in expected.values()
    assert {h.id: h.brigade for h in snapshot.houses} == expected
    assert expected == {str(k): v for k, v in demo.truth.house_brigade.items()}
    assert sorted(snapshot.brigades) == [1, 2, 3, 4, 5, 6]
    for number, brigade in snapshot.brigades.items():
        assert set(brigade.house_ids) == {i for i, b in expected.items() if b == number}
        assert {h.id for h in snapshot.houses_where(brigade=number)} == set(brigade.house_ids)


async def test_counts_addresses_and_companies(client: BitrixClient, rest: RawPortal) -> None:
    snapshot = (await load(client)).snapshot
    address_code = rest.code(rest.layout.address_label)
    for deal in rest.houses():
        house = snapshot.houses_by_id[deal["ID"]]
        for role in ("apartments", "entrances", "floors"):
            assert getattr(house, role) == rest.count(deal, role), (deal["ID"], role)
        full = deal.get(address_code) or ""
        assert house.full_address == (full.split("|")[0].strip() or None)
        assert (house.coordinates is not None) == ("|" in full)
        company = deal.get("COMPANY_ID")
        assert house.company_id == (company if company not in (None, "", "0") else None)
        assert house.title == deal["TITLE"].strip()


async def test_schedules_and_periodicities(
    client: BitrixClient, rest: RawPortal, demo: DemoCompany
) -> None:
    snapshot = (await load(client)).snapshot
    this_month = YearMonth.of(LOAD_DAY)
    assert {(s.year, s.month) for s in snapshot.mapping.schedule} == {
        (m.year, m.month) for m in demo.truth.months
    }
    kinds: Counter[str] = Counter()
    for deal in rest.houses():
        house = snapshot.houses_by_id[deal["ID"]]
        for month in demo.truth.months:
            expected = rest.schedule(deal, month)
            visits = house.visits_in(month.year, month.month)
            assert [(v.day, v.label) for v in visits] == expected, (deal["ID"], month.key)
            assert [v.kind for v in visits] == [cleaning_kind(label) for _, label in expected]
            summary = house.periodicity(month.year, month.month)
            assert summary == periodicity(visits)
            assert summary == demo.truth.periodicity[int(deal["ID"])][month.key].value
            if month == this_month:
                kinds[summary] += 1
    # A real mix of plans, not one value everywhere.
    assert len(kinds) >= 5, kinds


async def test_visits_on_a_day_and_in_a_week(
    client: BitrixClient, rest: RawPortal, demo: DemoCompany
) -> None:
    snapshot = (await load(client)).snapshot
    by_day: dict[date, list[str]] = {}
    for deal in rest.houses():
        for month in demo.truth.months:
            for day, _ in rest.schedule(deal, month):
                by_day.setdefault(day, []).append(deal["ID"])
    busiest = max(by_day, key=lambda d: len(by_day[d]))
    day_visits = snapshot.visits_between(busiest, busiest)
    assert sorted(h.id for h, _ in day_visits) == sorted(by_day[busiest])
    for number in (1, 4):
        mine = snapshot.visits_between(busiest, busiest, brigade=number)
        assert sorted(h.id for h, _ in mine) == sorted(
            i for i in by_day[busiest] if snapshot.houses_by_id[i].brigade == number
        )
    week = [busiest + timedelta(days=i) for i in range(7)]
    in_week = snapshot.visits_between(week[0], week[-1])
    assert Counter(v.day for _, v in in_week) == Counter(
        {d: len(by_day[d]) for d in week if d in by_day}
    )
    assert [v.day for _, v in in_week] == sorted(v.day for _, v in in_week)


async def test_people_departments_and_brigades(client: BitrixClient, rest: RawPortal) -> None:
    snapshot = (await load(client)).snapshot
    people = rest.people()
    assert set(snapshot.employees) == {str(u["ID"]) for u in people}
    assert len(snapshot.employees) == 82
    assert set(snapshot.departments) == set(rest.departments)
    for number, brigade in snapshot.brigades.items():
        department = rest.departments[str(brigade.department_id)]
        assert department["NAME"] == f"Бригада {number}"
        assert brigade.head_id == department["UF_HEAD"]
        assert set(brigade.member_ids) == {
            str(u["ID"]) for u in people if rest.person_brigade(u) == number
        }
    companies = {str(c["ID"]) for c in rest.companies}
    assert set(snapshot.companies) == companies
    with_counts = {c.id: n for c, n in snapshot.companies_with_counts()}
    houses_per_company = Counter(
        d["COMPANY_ID"] for d in rest.houses() if d.get("COMPANY_ID") not in (None, "", "0")
    )
    assert with_counts == {c: houses_per_company.get(c, 0) for c in companies}
