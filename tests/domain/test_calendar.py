"""A deliberate sweep over the calendar's hard days.

The suite once went red on 3 December: the demo company was built around the real date, and in
some months a house gets two cleanings of different types on one day. Here every hard day is
pinned on purpose — every month end of 2027, 31 December → 1 January, 28/29 February and
1 March of the leap year 2028, a Sunday, the first and last day of a month that has schedule
fields — and for each the demo company is built for that day and checked two ways:

- the domain layer: every house's visits in every schedule month equal the raw REST answer
  (`RawPortal`, which knows nothing of `bitrix.mapping`);
- the answers: «сегодня», «завтра», «на следующей неделе» and «в январе» are resolved against
  that day (the clock is a `FixedClock`), and the number of houses the answer states equals the
  number of houses that raw REST has visits for in that range — or, for a month without schedule
  fields, the answer says there is no schedule instead of a number.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest

from bitrix.cache import CompanyCache
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions
from bitrix.demo import YearMonth, build_demo
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions
from bot.brain import Assistant

from .conftest import MSK, make_client
from .raw import RawPortal

#: Every month end of 2027, the turn of the year, the leap day, a Sunday, month starts.
HARD_DAYS = [
    date(2026, 12, 31),  # 31 December → 1 January
    date(2027, 1, 1),
    *[
        (date(2027, month + 1, 1) if month < 12 else date(2028, 1, 1)) - timedelta(days=1)
        for month in range(1, 13)
    ],
    date(2028, 2, 28),  # leap year: tomorrow is 29 February
    date(2028, 2, 29),
    date(2028, 3, 1),
    date(2027, 3, 7),  # a Sunday: «на следующей неделе» starts tomorrow
    date(2027, 6, 1),  # the first day of a month with schedule fields (this month's)
]
_HOUSES = re.compile(r"(\d[\d  ]*) дом")


@dataclass
class Day:
    """One pinned day: the raw REST view and the assistant answering on that day."""

    today: date
    rest: RawPortal
    #: The months the demo portal has schedule fields for.
    months: list[YearMonth]
    assistant: Assistant

    def houses_with_visits(self, start: date, end: date) -> int | None:
        """Houses with a planned cleaning in [start, end]; None if a month has no fields."""
        months = {YearMonth.of(start + timedelta(days=i)) for i in range((end - start).days + 1)}
        with_fields = set(self.months)
        if not months <= with_fields:
            return None
        return sum(
            1
            for deal in self.rest.houses()
            if any(
                start <= day <= end
                for month in months
                for day, _label in self.rest.schedule(deal, month)
            )
        )


@pytest.fixture(params=HARD_DAYS, ids=lambda day: day.isoformat())
async def day(request: pytest.FixtureRequest) -> AsyncIterator[Day]:
    today: date = request.param
    demo = build_demo(today)
    clock = FixedClock(datetime.combine(today, time(9, 30), tzinfo=MSK))
    async with (
        EmulatedPortal(demo.store, PortalOptions()) as portal,
        make_client(portal.webhook_url) as client,
    ):
        rest = await RawPortal.fetch(portal.webhook_url, demo.truth.layout)
        options = MappingOptions()
        loader = CompanyLoader(client, tz=MSK, options=options, clock=clock)
        cache = CompanyCache(loader.fetch, tz=MSK, options=options, clock=clock)
        yield Day(today, rest, list(demo.truth.months), Assistant(cache, tz=MSK))


async def test_the_domain_layer_reads_every_schedule_month_as_raw_rest(day: Day) -> None:
    assistant = day.assistant
    snapshot = (await assistant.cache.get()).snapshot
    assert snapshot.today == day.today
    for deal in day.rest.houses():
        house = snapshot.houses_by_id[deal["ID"]]
        for month in day.months:
            expected = day.rest.schedule(deal, month)
            visits = house.visits_in(month.year, month.month)
            assert [(v.day, v.label) for v in visits] == expected, (deal["ID"], month.key)


def _next_week(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return monday, monday + timedelta(days=6)


def _january(today: date) -> tuple[date, date]:
    """The January a person means: the one in the twelve months that start two months before
    today's month (so at the end of February «в январе» is the January just gone)."""
    index = today.year * 12 + today.month - 1 - 2  # the first month of the window
    first = date(index // 12, index % 12 + 1, 1)
    year = first.year if first.month == 1 else first.year + 1
    return date(year, 1, 1), date(year, 1, 31)


PERIODS = {
    "сегодня": lambda d: (d, d),
    "завтра": lambda d: (d + timedelta(days=1), d + timedelta(days=1)),
    "на следующей неделе": _next_week,
    "в январе": _january,
}


async def test_date_answers_count_the_houses_of_that_period(day: Day) -> None:
    for phrase, period in PERIODS.items():
        start, end = period(day.today)
        reply = await day.assistant.ask(f"какие дома убирают {phrase}")
        assert reply.frame.intent == "schedule.day", reply.text
        slot = reply.frame.slots["date"]
        assert (slot.start, slot.end) == (start, end), (phrase, slot)
        expected = day.houses_with_visits(start, end)
        text = reply.text
        if expected is None:
            # No schedule fields for that month in the CRM: said so, no invented number.
            assert "нет" in text and not _HOUSES.search(text), (phrase, text)
        elif expected == 0:
            assert "ничего не запланировано" in text, (phrase, text)
        else:
            match = _HOUSES.search(text)
            assert match is not None, (phrase, text)
            assert int(re.sub(r"\D", "", match.group(1))) == expected, (phrase, text)
