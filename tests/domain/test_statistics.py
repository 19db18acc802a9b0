"""`CompanySnapshot.statistics()` equals counts the test computes from raw REST answers."""

from __future__ import annotations

from bitrix.client import BitrixClient
from bitrix.demo import YearMonth

from .conftest import load
from .raw import RawPortal, Record


def _sum(rest: RawPortal, deals: list[Record], role: str) -> int:
    return sum(rest.count(d, role) or 0 for d in deals)


async def test_statistics_equal_raw_counts(client: BitrixClient, rest: RawPortal) -> None:
    snapshot = (await load(client)).snapshot
    stats = snapshot.statistics()
    houses = rest.houses()
    people = rest.people()

    assert stats.totals.houses == len(houses) == 490
    for role in ("apartments", "entrances", "floors"):
        assert getattr(stats.totals, role) == _sum(rest, houses, role), role
    assert stats.totals.people == stats.employees == len(people) == 82
    assert stats.companies == len(rest.companies)
    assert stats.brigades == 6
    no_company = [d for d in houses if d.get("COMPANY_ID") in (None, "", "0")]
    assert stats.houses_without_company == len(no_company) >= 10
    assert stats.houses_without_brigade == 0

    for number in range(1, 7):
        mine = [d for d in houses if rest.brigade(d) == number]
        totals = stats.per_brigade[number]
        assert totals.houses == len(mine) > 0
        for role in ("apartments", "entrances", "floors"):
            assert getattr(totals, role) == _sum(rest, mine, role), (number, role)
        assert totals.people == sum(1 for u in people if rest.person_brigade(u) == number)
    assert sum(t.houses for t in stats.per_brigade.values()) == len(houses)

    month = YearMonth.of(snapshot.today)
    address = rest.code(rest.layout.address_label)
    filled = {
        "apartments": sum(1 for d in houses if rest.count(d, "apartments") is not None),
        "entrances": sum(1 for d in houses if rest.count(d, "entrances") is not None),
        "floors": sum(1 for d in houses if rest.count(d, "floors") is not None),
        "company": len(houses) - len(no_company),
        "brigade": len(houses),
        "full_address": sum(1 for d in houses if (d.get(address) or "").split("|")[0].strip()),
        "schedule": sum(1 for d in houses if rest.schedule(d, month)),
    }
    coverage = {c.field: c.filled for c in stats.coverage}
    assert coverage == filled
    assert all(c.total == len(houses) for c in stats.coverage)
    # The demo leaves some counts empty, so coverage is a real measurement, not 100 % by default.
    assert min(filled.values()) < len(houses)
