"""Sign-in and the morning digest through the fake Bot API: a transcript and a timing (no
assertions).

Everything is real except Telegram itself: aiogram long polling against `tests.fakes.telegram`
on loopback, the brain answering from the demo company on the emulated Bitrix24 portal, the
state store a SQLite file in a temporary directory, the product's clock pinned (`FixedClock`)
to the demo day.

1. A session: a stranger writes /start, shares their own number with the button, asks «мои
   задачи», gets the morning digest at 07:30, and signs out with /forget (then /start offers
   sign-in again).
2. The digest to every active employee signed in (82 people): the ones in a brigade get a
   message, paced at `bot.digest.SEND_RATE` a second under Telegram's ~30/s overall limit;
   the wall time of the run is printed, and the same run again (a restart the same morning),
   which sends nothing.

Run: `.venv/bin/python bench/digest.py`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time as _time
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bitrix.clock import FixedClock
from bitrix.demo import build_demo_store
from bot.digest import SEND_RATE, DigestScheduler
from tests.bot.harness import TODAY, TOKEN, BotUnderTest, running_bot
from tests.fakes.telegram import FakeTelegram

WORKER = 777001
FIRST_ID = 900_000


def _show(who: str, text: str) -> None:
    lines = text.splitlines() or [""]
    print(f"{who:>5} │ {lines[0]}")
    for line in lines[1:]:
        print(f"{'':>5} │ {line}")


async def _session(running: BotUnderTest, phone: str) -> None:
    fake = running.fake

    async def say(text: str) -> None:
        _show("user", text)
        for message in await running.say(WORKER, text):
            _show("bot", message.text)

    await say("/start")
    _show("user", f"[📱 Поделиться номером: +{phone[:4]}•••••••]")
    event = await fake.send_contact(WORKER, phone)
    for message in await running.answers(event):
        _show("bot", message.text)
    await say("мои задачи")
    await say("что у меня сегодня")
    scheduler = running.dispatcher["digest"]
    assert isinstance(scheduler, DigestScheduler)
    before = len(fake.sent_messages(WORKER))
    await scheduler.run_once(TODAY)
    _show("07:30", "(утренняя сводка)")
    for message in fake.sent_messages(WORKER)[before:]:
        _show("bot", message.text)
    await say("/forget")
    await say("/start")


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    store = build_demo_store(TODAY)
    msk = ZoneInfo("Europe/Moscow")
    clock = FixedClock(datetime.combine(TODAY, time(7, 30), tzinfo=msk))
    people = sorted(
        (
            u
            for u in store.users.values()
            if u.get("ACTIVE") is True and "бригада" not in str(u.get("LAST_NAME", "")).lower()
        ),
        key=lambda u: int(u["ID"]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeTelegram(token=TOKEN) as fake,
            running_bot(store, Path(tmp), speech=False, fake=fake, clock=clock) as running,
        ):
            print("== session: sign-in, «мои задачи», the digest, /forget\n")
            busy = {str(t["responsibleId"]) for t in store.tasks.values() if t["status"] == "2"}
            worker = next(
                u
                for u in people
                if str(u["ID"]) in busy
                and u.get("PERSONAL_MOBILE")
                and str(u.get("WORK_POSITION", "")).startswith("Убор")
            )
            digits = "".join(c for c in str(worker["PERSONAL_MOBILE"]) if c.isdigit())
            await _session(running, "7" + digits[1:])

            employees = sorted(
                (await running.runtime.cache.get()).snapshot.employees.values(),
                key=lambda e: int(e.id),
            )
            print(f"\n== digest to {len(employees)} signed-in people through the fake Bot API\n")
            for offset, employee in enumerate(employees):
                await running.runtime.state.link(FIRST_ID + offset, employee.id)
                fake.add_user(FIRST_ID + offset, first_name=employee.first_name)
            scheduler = running.dispatcher["digest"]
            assert isinstance(scheduler, DigestScheduler)
            before = len(fake.sent_messages())
            started = _time.perf_counter()
            run = await scheduler.run_once(TODAY)
            elapsed = _time.perf_counter() - started
            sent = len(fake.sent_messages()) - before
            print(f"signed in:            {len(employees)} people")
            print(f"messages sent:        {sent} (in a brigade; {run.not_in_brigade} office)")
            print(
                f"wall time:            {elapsed:.2f} s ({sent / elapsed:.1f} messages/s; "
                f"paced at {SEND_RATE:.0f}/s, Telegram allows ~30/s)"
            )
            again = _time.perf_counter()
            rerun = await scheduler.run_once(TODAY)
            print(
                f"same morning again:   {rerun.sent} sent, {rerun.already} skipped "
                f"in {_time.perf_counter() - again:.2f} s"
            )


if __name__ == "__main__":
    asyncio.run(main())
