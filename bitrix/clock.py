"""The one clock: the only place the product reads the wall clock.

Every "what is today" and "what time is it" — the snapshot's today, relative dates in
answers, the demo company's dates, the loader's fetch time, the CLI, health — comes from one
`Clock` built in the composition root (`Runtime.create`, the CLI) and passed down as a
constructor argument. Tests pass a `FixedClock`, so the suite gives the same results on any
day of the year (it once went red on 3 December because a test built the demo on the real date).

``DEMO_DATE`` (README: Configuration) makes the clock a `Clock` shifted by whole days: the date
is the demo day while the time of day keeps running, so `make demo` on any day shows the same
company and «сегодня» means the day the demo company was built around.

Intervals (timeouts, rate limits, TTLs, uptime) use `time.monotonic` where they are measured;
they are not "the time" and do not go through this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["Clock", "FixedClock", "system_clock"]


class Clock:
    """The wall clock in the business time zone, optionally shifted by whole days."""

    def __init__(self, tz: tzinfo, *, shift: timedelta = timedelta(0)) -> None:
        self.tz = tz
        self.shift = shift

    @classmethod
    def for_demo_date(cls, tz: tzinfo, demo_date: date | None) -> Clock:
        """The clock of a product whose ``DEMO_DATE`` is ``demo_date`` (unshifted if None)."""
        clock = cls(tz)
        if demo_date is None:
            return clock
        return cls(tz, shift=demo_date - clock.today())

    def now(self) -> datetime:
        """The current moment, aware, in the business time zone."""
        return datetime.now(self.tz) + self.shift

    def utcnow(self) -> datetime:
        """The current moment, aware, in UTC."""
        return self.now().astimezone(UTC)

    def today(self) -> date:
        """Today's date in the business time zone."""
        return self.now().date()

    def real_utcnow(self) -> datetime:
        """The machine's current moment in UTC, never shifted nor fixed.

        Only for measuring against other systems' real-time stamps: Telegram dates its
        messages with real time, so how long a message waited is measured against this, not
        against the ``DEMO_DATE``-shifted (or a test's fixed) `now`.
        """
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tz={self.tz}, shift={self.shift})"


class FixedClock(Clock):
    """A clock that stands still at one moment (tests); `advance` moves it explicitly."""

    def __init__(self, moment: datetime | date, tz: tzinfo | str = "Europe/Moscow") -> None:
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        super().__init__(zone)
        if not isinstance(moment, datetime):
            # A date alone means its mid-morning: a working hour, clear of midnight edges.
            moment = datetime.combine(moment, time(10, 0), tzinfo=zone)
        elif moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.moment = moment.astimezone(zone)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        self.moment += delta

    def __repr__(self) -> str:
        return f"FixedClock({self.moment.isoformat()})"


def system_clock(tz: tzinfo | str = "Europe/Moscow", demo_date: date | None = None) -> Clock:
    """The product's clock: the machine's time in ``tz``, shifted to ``demo_date`` if given."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return Clock.for_demo_date(zone, demo_date)
