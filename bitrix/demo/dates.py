"""Calendar helpers for the demo company: months, working days and Bitrix24 date formats.

Bitrix24 writes dates in several shapes: ISO 8601 with the
portal's offset for CRM, tasks and users, UTC midnight shown in the portal zone for CRM
``date``-typed fields, and the site format ``DD.MM.YYYY HH:MI:SS`` for calendar events.
`DemoCalendar` renders all of them from one ``today`` and one time zone, so every date in the demo
store moves together when ``today`` changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Russian month names, nominative, lower case, as the portal's field labels spell them.
MONTH_NAMES_RU = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)

# Russian public holidays fixed by the Labour Code (art. 112). Government decrees move a few
# days off every year; the demo ignores those transfers, which only shifts a visit by a day.
_FIXED_HOLIDAYS = frozenset(
    [(1, day) for day in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> YearMonth:
        """The month containing ``day``."""
        return cls(day.year, day.month)

    def shift(self, months: int) -> YearMonth:
        """The month ``months`` later (negative: earlier), across year boundaries."""
        index = self.year * 12 + self.month - 1 + months
        return YearMonth(index // 12, index % 12 + 1)

    @property
    def key(self) -> str:
        """``"YYYY-MM"``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def name_ru(self) -> str:
        """Nominative lower-case Russian name, e.g. ``"ноябрь"``."""
        return MONTH_NAMES_RU[self.month - 1]

    @property
    def first_day(self) -> date:
        """The 1st of the month."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The last day of the month."""
        return self.shift(1).first_day - timedelta(days=1)

    def days(self) -> list[date]:
        """Every day of the month."""
        first = self.first_day
        return [first + timedelta(days=i) for i in range(self.last_day.day)]


def is_working_day(day: date) -> bool:
    """Monday to Friday, except fixed public holidays."""
    return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS


def working_days(month: YearMonth) -> list[date]:
    """The month's working days in order."""
    return [day for day in month.days() if is_working_day(day)]


@dataclass(frozen=True)
class DemoCalendar:
    """``today`` in the portal's zone, and renderers for every date shape the store needs."""

    today: date
    tz: ZoneInfo

    def at(self, day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
        """An aware local datetime."""
        return datetime.combine(day, time(hour, minute, second), tzinfo=self.tz)

    def iso(self, day: date, hour: int = 0, minute: int = 0, second: int = 0) -> str:
        """ISO 8601 with the zone's offset on that day, e.g. ``2026-11-05T09:30:00+03:00``."""
        return self.at(day, hour, minute, second).isoformat()

    def crm_date(self, day: date) -> str:
        """A CRM ``date``-typed standard field (``BEGINDATE``, ``CLOSEDATE``).

        Bitrix keeps these at midnight UTC and renders them in the portal zone, so a Moscow
        portal sends ``2024-08-30T03:00:00+03:00`` (reference §7.2).
        """
        return datetime.combine(day, time(), tzinfo=UTC).astimezone(self.tz).isoformat()

    def uf_date(self, day: date) -> str:
        """A ``date`` user field value: local midnight, ``2026-11-05T00:00:00+03:00``."""
        return self.iso(day)

    def site(self, moment: datetime) -> str:
        """The Russian site format used by the calendar: ``DD.MM.YYYY HH:MI:SS``."""
        return moment.strftime("%d.%m.%Y %H:%M:%S")

    def offset_seconds(self, day: date) -> int:
        """The zone's UTC offset on ``day`` in seconds."""
        offset = self.at(day, 12).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0
