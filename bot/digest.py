"""The morning digest: each linked brigade member's day, sent once each morning.

At ``DIGEST_TIME`` in ``TIMEZONE`` on ``DIGEST_DAYS`` every Telegram user signed in as an
active employee who belongs to a brigade gets one message: today's houses of their brigade
with the cleaning type, and their own overdue tasks (`digest_for`). ``/digest off`` keeps one
person out (a preference in the state store).

**At most once per person per day, restarts included:** before a message goes out, a mark
``digest:<day>:<telegram id>`` is made in the state store (`StateStore.mark_once`); a second
run that day — after a restart, or a run that overlaps — finds the mark and skips the person.
A crash between the mark and the send loses that person's digest for the day rather than
risking two.

**A run missed while the bot was down is sent late the same day:** the scheduler checks on
start whether today is a digest day past ``DIGEST_TIME`` and runs then (the marks skip whoever
already got it); a missed day is not sent the next day.

**Pacing:** Telegram allows about 30 messages a second overall; the run sends at most
`SEND_RATE` a second, one person after another, so a backlog of 82 people takes a few seconds
and never meets a 429 (which the session's retry middleware would absorb anyway).

Why a small asyncio loop and not APScheduler or aiocron: one job at one time of day needs
"sleep until the next occurrence", which asyncio already does; a scheduler library would add a
dependency with its own clock and job store, while this loop reads the product's one clock
(`bitrix.clock`) and takes the sleep function as a parameter, so tests drive it with a
`FixedClock` and no real waiting, and the "once per day" memory lives in the same state store
as everything else.
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bitrix.cache import CompanyCache, SnapshotUnavailable
from bitrix.clock import Clock
from bitrix.models import Employee
from bot.answers import Answer, AnswerBuilder, day_label, stale_note
from bot.brain import Assistant, Reply
from bot.nlu.dates import DateRange
from bot.nlu.frame import Frame
from bot.state import StateStore

__all__ = ["DigestRun", "DigestScheduler", "digest_for", "next_run"]

log = logging.getLogger(__name__)

SEND_RATE = 25.0
"""Digest messages per second at most (Telegram's informal overall limit is about 30)."""
MAX_SLEEP_S = 600.0
"""Longest single wait: the clock is read again after it (a suspended laptop, a moved clock)."""
PREFERENCE = "digest"

Send = Callable[[int, Reply], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def next_run(now: datetime, at: time, days: frozenset[int]) -> datetime | None:
    """The first digest moment strictly after ``now`` (None when ``days`` is empty)."""
    if not days:
        return None
    candidate = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if candidate <= now:
        candidate += timedelta(days=1)
    while candidate.weekday() not in days:
        candidate += timedelta(days=1)
    return candidate


def is_due(now: datetime, at: time, days: frozenset[int]) -> bool:
    """Whether today's digest should have gone out by ``now``."""
    return now.weekday() in days and now.timetz().replace(tzinfo=None) >= at


@dataclass
class DigestRun:
    """What one run did."""

    day: date
    sent: int = 0
    already: int = 0  # had it today (the store's mark)
    opted_out: int = 0
    not_in_brigade: int = 0
    inactive: int = 0
    failed: int = 0
    seconds: float = 0.0


def digest_for(builder: AnswerBuilder, employee: Employee, day: date) -> Answer:
    """The digest for one brigade member: their brigade's houses of ``day``, their overdue tasks.

    Built by the same answer builder as «дома бригады 3 сегодня» and «мои просроченные
    задачи», so the digest and the answers to those questions never disagree.
    """
    assert employee.brigade is not None
    houses = builder.build(
        Frame("schedule.day", {"date": DateRange(day, day), "brigade": employee.brigade}), day
    )
    tasks = builder.build(Frame("tasks.list", {"person": employee, "overdue": True}), day)
    greeting = f"☀️ Доброе утро, {employee.first_name or employee.short_name}! {day_label(day)}."
    items = (*houses.items, "", tasks.header, *tasks.items)
    return Answer(f"{greeting}\n{houses.header}", items=items)


class DigestScheduler:
    """Runs the digest at its time every digest day (see the module docstring)."""

    def __init__(
        self,
        *,
        state: StateStore,
        cache: CompanyCache,
        assistant: Assistant,
        clock: Clock,
        at: time,
        days: frozenset[int],
        send: Send,
        stale_after_s: float,
        sleep: Sleep = asyncio.sleep,
        pace: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = _time.monotonic,
        rate: float = SEND_RATE,
    ) -> None:
        """``sleep`` waits for the next run (tests drive it); ``pace`` spaces the messages."""
        self.state = state
        self.cache = cache
        self.assistant = assistant
        self.clock = clock
        self.at = at
        self.days = days
        self.send = send
        self.stale_after_s = stale_after_s
        self.sleep = sleep
        self.pace = pace
        self.monotonic = monotonic
        self.rate = rate
        self.runs: list[DigestRun] = []
        self._done: date | None = None

    async def run_forever(self) -> None:
        """Run today's digest if it is due (late start), then every digest day at its time."""
        while True:
            now = self.clock.now()
            if is_due(now, self.at, self.days) and self._done != now.date():
                try:
                    await self.run_once(now.date())
                except Exception:  # the digest must never stop the bot
                    log.exception("the morning digest of %s failed", now.date())
                self._done = now.date()
                continue
            upcoming = next_run(now, self.at, self.days)
            if upcoming is None:
                log.info("morning digest is off (DIGEST_DAYS is empty)")
                return
            wait = (upcoming - now).total_seconds()
            await self.sleep(min(max(wait, 0.0), MAX_SLEEP_S))

    async def run_once(self, day: date) -> DigestRun:
        """Send ``day``'s digest to everyone who has not had it yet."""
        run = DigestRun(day)
        started = self.monotonic()
        try:
            view = await self.cache.get()
        except SnapshotUnavailable as exc:
            log.warning("morning digest of %s skipped: no company data (%s)", day, exc.cause)
            self.runs.append(run)
            return run
        _, builder = await self.assistant.engine(view.snapshot)
        note = ""
        if view.age_s > self.stale_after_s:
            reason = (
                view.error.user_message
                if view.error is not None
                else "Данные Bitrix24 давно не обновлялись."
            )
            note = stale_note(view.fetched_at, view.age_s, self.clock.tz, reason)
        interval = 1.0 / self.rate
        next_slot = self.monotonic()
        for link in await self.state.links():
            employee = view.snapshot.employees.get(link.employee_id)
            if employee is None:
                run.inactive += 1
                continue
            if employee.brigade is None:
                run.not_in_brigade += 1
                continue
            if await self.state.preference(link.telegram_id, PREFERENCE) == "off":
                run.opted_out += 1
                continue
            if not await self.state.mark_once(f"digest:{day.isoformat()}:{link.telegram_id}"):
                run.already += 1
                continue
            answer = digest_for(builder, employee, day)
            reply = Reply(frame=Frame("digest", text="digest", source="digest"), answer=answer)
            if note:
                reply = Reply(frame=reply.frame, answer=answer, stale_note=note)
            delay = next_slot - self.monotonic()
            if delay > 0:
                await self.pace(delay)
            next_slot = max(next_slot, self.monotonic()) + interval
            try:
                await self.send(link.telegram_id, reply)
            except Exception as error:  # blocked bot, deleted account, network: next person
                run.failed += 1
                log.warning(
                    "morning digest not delivered to Telegram user %s: %s",
                    link.telegram_id,
                    error,
                )
                continue
            run.sent += 1
        run.seconds = self.monotonic() - started
        log.info(
            "morning digest of %s: %d sent, %d had it already, %d opted out, %d failed (%.1f s)",
            day,
            run.sent,
            run.already,
            run.opted_out,
            run.failed,
            run.seconds,
        )
        self.runs.append(run)
        return run
