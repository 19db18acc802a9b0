"""Cleaning schedules: the portal's date/type field pairs, and the business's periodicity.

The real portal keeps, per month, two pairs of fields: «Дата уборки N (<месяц>)» (a multiple
``date`` field) and «Тип уборки N (<месяц>)» (an ``enumeration`` of the three cleaning types),
N = 1, 2. Pair 1 and pair 2 are two lines of the plan, not strictly two halves of the month:
a «2 раза + подметания» house has pair 1 = wet cleaning on two dates two weeks apart and pair
2 = sweeping on two dates in between, as on the real portal.

The business names a month's plan by its *periodicity* (`summarize`):

- «2 раза» — two wet-all-floors dates, nothing else;
- «4 раза» — four wet-all-floors dates, nothing else;
- «2 раза + подметания» — two wet dates plus sweeping dates;
- «2 раза + 1 этажи» — two wet dates plus first-floor wet dates;
- «индивидуальная» — any other plan;
- «не указана» — no dates at all.

Regular plans are spread over the working days of each half-month so that every working day
has visits for every brigade; houses on the same street are visited on the same day.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bitrix.demo.dates import YearMonth, working_days


class CleaningType(StrEnum):
    """The three cleaning types, valued by their option labels on the portal."""

    WET_ALL = "Влажная уборка лестничных площадок всех этажей"
    SWEEP_ALL = "Подметание лестничных площадок и маршей всех этажей"
    WET_FIRST = "Влажная уборка 1 этажа"


class Periodicity(StrEnum):
    """How the business summarises a house's month."""

    TWICE = "2 раза"
    FOUR_TIMES = "4 раза"
    TWICE_SWEEPING = "2 раза + подметания"
    TWICE_FIRST_FLOORS = "2 раза + 1 этажи"
    INDIVIDUAL = "индивидуальная"
    NOT_SET = "не указана"


#: One field pair: the type (None when empty) and the dates.
Period = tuple[CleaningType | None, tuple[date, ...]]
_EMPTY: Period = (None, ())

_REGULAR = (
    Periodicity.TWICE,
    Periodicity.FOUR_TIMES,
    Periodicity.TWICE_SWEEPING,
    Periodicity.TWICE_FIRST_FLOORS,
)
#: How often each periodicity is a house's usual plan.
_USUAL_WEIGHTS = {
    Periodicity.TWICE: 38,
    Periodicity.FOUR_TIMES: 14,
    Periodicity.TWICE_SWEEPING: 22,
    Periodicity.TWICE_FIRST_FLOORS: 12,
    Periodicity.INDIVIDUAL: 9,
    Periodicity.NOT_SET: 5,
}


@dataclass(frozen=True)
class MonthPlan:
    """A house's plan for one month: field pair 1 and field pair 2."""

    periods: tuple[Period, Period]

    @property
    def dates(self) -> list[date]:
        """Every planned date, in order."""
        return sorted(d for _, dates in self.periods for d in dates)


NO_PLAN = MonthPlan((_EMPTY, _EMPTY))


def summarize(plan: MonthPlan) -> Periodicity:
    """The business's name for a month's plan (the rule in the module docstring)."""
    if not plan.dates:
        return Periodicity.NOT_SET
    wet = sum(len(dates) for kind, dates in plan.periods if kind is CleaningType.WET_ALL)
    others = {kind for kind, dates in plan.periods if dates and kind is not CleaningType.WET_ALL}
    if not others and wet in (2, 4):
        return Periodicity.TWICE if wet == 2 else Periodicity.FOUR_TIMES
    if wet == 2 and others == {CleaningType.SWEEP_ALL}:
        return Periodicity.TWICE_SWEEPING
    if wet == 2 and others == {CleaningType.WET_FIRST}:
        return Periodicity.TWICE_FIRST_FLOORS
    return Periodicity.INDIVIDUAL


def usual_periodicity(rng: random.Random) -> Periodicity:
    """A house's usual plan, drawn with the business's proportions."""
    kinds = list(_USUAL_WEIGHTS)
    return rng.choices(kinds, weights=[_USUAL_WEIGHTS[k] for k in kinds])[0]


def month_periodicity(
    rng: random.Random, usual: Periodicity, *, planned_ahead: bool
) -> Periodicity:
    """This month's periodicity: mostly the usual one; next month is partly not planned yet."""
    if planned_ahead and rng.random() < 0.15:
        return Periodicity.NOT_SET
    if rng.random() < 0.88:
        return usual
    kinds = [k for k in _USUAL_WEIGHTS if k is not Periodicity.NOT_SET]
    return rng.choice(kinds)


@dataclass(frozen=True)
class _Halves:
    first: list[date]
    second: list[date]

    def day(self, half: int, slot: int) -> date:
        days = self.first if half == 1 else self.second
        return days[slot % len(days)]

    def opposite(self, half: int, slot: int) -> date:
        """A day half a fortnight away from `day`: the second visit of the same half."""
        days = self.first if half == 1 else self.second
        return days[(slot + len(days) // 2) % len(days)]


def _regular(kind: Periodicity, halves: _Halves, slot: int) -> MonthPlan:
    wet = CleaningType.WET_ALL
    first, second = halves.day(1, slot), halves.day(2, slot)
    mid_first, mid_second = halves.opposite(1, slot), halves.opposite(2, slot)
    if kind is Periodicity.TWICE:
        return MonthPlan(((wet, (first,)), (wet, (second,))))
    if kind is Periodicity.FOUR_TIMES:
        return MonthPlan(
            (
                (wet, tuple(sorted((first, mid_first)))),
                (wet, tuple(sorted((second, mid_second)))),
            )
        )
    extra = (
        CleaningType.SWEEP_ALL if kind is Periodicity.TWICE_SWEEPING else CleaningType.WET_FIRST
    )
    return MonthPlan(((wet, (first, second)), (extra, (mid_first, mid_second))))


def _individual(rng: random.Random, days: Sequence[date]) -> MonthPlan:
    wet, sweep, first = CleaningType.WET_ALL, CleaningType.SWEEP_ALL, CleaningType.WET_FIRST

    def pick(n: int) -> tuple[date, ...]:
        return tuple(sorted(rng.sample(list(days), n)))

    variant = rng.randrange(6)
    plan: tuple[Period, Period]
    if variant == 0:
        plan = ((wet, pick(3)), _EMPTY)
    elif variant == 1:
        plan = ((wet, pick(1)), _EMPTY)
    elif variant == 2:
        plan = ((sweep, pick(2)), (sweep, pick(2)))
    elif variant == 3:
        plan = ((wet, pick(1)), (first, pick(1)))
    elif variant == 4:
        plan = ((wet, pick(3)), (wet, pick(3)))
    else:
        plan = (_EMPTY, (wet, pick(1)))
    return MonthPlan(plan)


def plan_month(
    rng: random.Random,
    month: YearMonth,
    kinds: dict[int, Periodicity],
    routes: dict[int, list[int]],
) -> dict[int, MonthPlan]:
    """Plans for one month.

    ``kinds`` maps a house key to the periodicity wanted this month; ``routes`` maps a brigade
    to its house keys in route order (by street, then number). Regular houses are dealt to
    working days in runs of up to three neighbours, cycling through the days, so every working
    day of each half-month gets visits from every brigade.
    """
    all_days = working_days(month)
    halves = _Halves([d for d in all_days if d.day <= 15], [d for d in all_days if d.day > 15])
    span = max(len(halves.first), len(halves.second))
    plans: dict[int, MonthPlan] = {}
    for brigade, keys in sorted(routes.items()):
        regular = [k for k in keys if kinds.get(k) in _REGULAR]
        run = max(1, min(3, len(regular) // span))
        for index, key in enumerate(regular):
            slot = index // run + 2 * brigade
            plans[key] = _regular(kinds[key], halves, slot)
        for key in keys:
            kind = kinds.get(key)
            if kind is Periodicity.INDIVIDUAL:
                plans[key] = _individual(rng, all_days)
            elif kind is Periodicity.NOT_SET:
                plans[key] = NO_PLAN
    for key, plan in plans.items():
        if summarize(plan) is not kinds[key]:
            raise RuntimeError(f"plan for {key} is {summarize(plan)}, wanted {kinds[key]}")
    return plans
