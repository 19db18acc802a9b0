"""Who is speaking: sign-in by phone, «мои …», access that follows Bitrix24,
/forget, a link that survives a restart, and the morning digest — through the fake Bot API,
real polling and the emulated portal. Expected data comes from raw REST read with plain httpx
(`tests.domain.raw`), never from the code under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bitrix.clock import FixedClock
from bitrix.demo import DemoLayout, YearMonth
from bitrix.portal import PortalStore
from bot.digest import DigestScheduler
from bot.state import SqliteState
from handlers import texts
from tests.bot.harness import TODAY, TOKEN, USER, BotUnderTest, running_bot
from tests.domain.raw import RawPortal, Record
from tests.fakes.telegram import BotMessage, FakeTelegram

MSK = ZoneInfo("Europe/Moscow")
WORKER = 4001
"""A Telegram user who is on no allow-list: they get in only by signing in."""
SECOND = 4002
THIRD = 4003


def _people(store: PortalStore) -> list[Record]:
    """Active people (not the «N бригада» service accounts) with a mobile, by id."""
    return sorted(
        (
            u
            for u in store.users.values()
            if u.get("ACTIVE") is True
            and u.get("PERSONAL_MOBILE")
            and "бригада" not in str(u.get("LAST_NAME", "")).lower()
        ),
        key=lambda u: int(u["ID"]),
    )


def _brigade_members(store: PortalStore, rest: RawPortal) -> dict[int, Record]:
    """One person per brigade (the first by id), brigade number → user record."""
    found: dict[int, Record] = {}
    for user in _people(store):
        number = rest.person_brigade(rest.users[str(user["ID"])])
        if number is not None:
            found.setdefault(number, user)
    return found


def _telegram_digits(phone: str) -> str:
    """A number as Telegram hands it over in a shared contact: digits, 7 first."""
    digits = "".join(c for c in phone if c.isdigit())
    return "7" + digits[1:] if digits.startswith("8") else digits


async def _rest(running: BotUnderTest) -> RawPortal:
    return await RawPortal.fetch(running.portal.webhook_url, DemoLayout())


async def _sign_in(running: BotUnderTest, telegram_id: int, phone: str) -> BotMessage:
    event = await running.fake.send_contact(telegram_id, _telegram_digits(phone))
    [answer] = await running.answers(event)
    return answer


async def _lines(running: BotUnderTest, message: BotMessage) -> list[str]:
    """Every line of a (possibly paged) answer: the first page, then each next page."""
    lines = message.text.splitlines()
    current = message
    for _ in range(50):
        forward = [data for label, data in current.buttons if label == texts.NEXT]
        if not forward:
            return lines
        edits = len(current.history)
        await running.fake.press_button(current.chat_id, current, forward[0])
        chat_id, message_id = current.chat_id, current.message_id

        def edited(chat_id: int = chat_id, message_id: int = message_id, e: int = edits) -> bool:
            return len(running.fake.message(chat_id, message_id).history) > e

        await running.fake.wait_for(lambda: edited() or None)
        current = running.fake.message(current.chat_id, current.message_id)
        lines += current.text.splitlines()[1:]
    raise AssertionError("more than 50 pages")


@pytest.fixture
async def running(store: PortalStore, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    async with running_bot(store, tmp_path, speech=False) as bot:
        yield bot


async def test_own_contact_signs_in_and_my_tasks_are_exactly_mine(
    running: BotUnderTest, store: PortalStore, caplog: pytest.LogCaptureFixture
) -> None:
    tasks: list[Record] = []
    async with httpx.AsyncClient(base_url=running.portal.webhook_url) as http:
        start: int | None = 0
        for _ in range(50):
            if start is None:
                break
            page = (
                await http.post(
                    "tasks.task.list",
                    json={"select": ["ID", "TITLE", "STATUS", "RESPONSIBLE_ID"], "start": start},
                )
            ).json()
            tasks += page["result"]["tasks"]
            start = page.get("next")
    # Someone with open tasks of their own, as the portal itself lists them.
    open_tasks: dict[str, list[str]] = {}
    for task in tasks:
        if task["status"] not in ("5", "7"):
            open_tasks.setdefault(task["responsibleId"], []).append(task["title"])
    person = next(u for u in _people(store) if open_tasks.get(str(u["ID"])))
    mine = sorted(open_tasks[str(person["ID"])])

    hello = await running.fake.send_text(WORKER, "/start")
    [prompt] = await running.answers(hello)
    assert prompt.text == texts.SIGNIN.format(user_id=WORKER)
    assert prompt.reply_markup is not None
    assert prompt.reply_markup["keyboard"] == [
        [{"text": texts.SIGNIN_BUTTON, "request_contact": True}]
    ]

    linked = await _sign_in(running, WORKER, person["PERSONAL_MOBILE"])
    assert linked.text.startswith(f"Готово: вы вошли как {person['LAST_NAME']}")
    assert linked.reply_markup == {"remove_keyboard": True}

    [answer] = await running.say(WORKER, "мои задачи")
    assert answer.text.startswith(f"Задачи ({person['LAST_NAME']} {person['NAME']}): ")
    titles = sorted(line[2:].split(" — ")[0] for line in answer.text.splitlines()[1:])
    assert titles == mine
    # The number never reaches the logs.
    digits = _telegram_digits(person["PERSONAL_MOBILE"])
    assert not any(digits[1:] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "how", ["someone_else", "typed", "forwarded"], ids=["someone-else", "typed", "forwarded"]
)
async def test_a_contact_not_ones_own_is_refused_and_links_nothing(
    running: BotUnderTest, store: PortalStore, how: str
) -> None:
    person = _people(store)[0]
    phone = _telegram_digits(person["PERSONAL_MOBILE"])
    if how == "someone_else":
        event = await running.fake.send_contact(WORKER, phone, contact_user_id=SECOND)
    elif how == "typed":
        event = await running.fake.send_contact(WORKER, phone, contact_user_id=None)
    else:
        event = await running.fake.send_contact(
            WORKER, phone, contact_user_id=SECOND, forwarded_from=SECOND
        )
    [answer] = await running.answers(event)
    assert answer.text == texts.SIGNIN_NOT_OWN
    assert await running.runtime.state.links() == []
    # Still a stranger: no data.
    await running.fake.send_text(WORKER, "мои задачи")
    [answer] = await running.say(USER, "дома бригады 1")  # handled after WORKER's message
    assert [m.text for m in running.fake.sent_messages(WORKER)] == [
        texts.SIGNIN_NOT_OWN,
        texts.SIGNIN.format(user_id=WORKER),
    ]


async def test_a_number_in_any_crm_form_matches(running: BotUnderTest, store: PortalStore) -> None:
    person = _people(store)[1]
    record = running.portal.store.users[int(person["ID"])]
    record["PERSONAL_MOBILE"] = "нет"
    record["WORK_PHONE"] = "8 (4842) 55-66-77; 8 (910) 123-45-67"
    await running.runtime.cache.refresh()
    event = await running.fake.send_contact(WORKER, "+79101234567")
    [answer] = await running.answers(event)
    assert answer.text.startswith(f"Готово: вы вошли как {person['LAST_NAME']}")
    [link] = await running.runtime.state.links()
    assert (link.telegram_id, link.employee_id) == (WORKER, str(person["ID"]))


async def test_no_match_and_several_matches_give_the_telegram_id(
    running: BotUnderTest, store: PortalStore
) -> None:
    [first, second, *_] = _people(store)
    answer = await _sign_in(running, WORKER, "+7 900 000-00-01")
    assert answer.text == texts.SIGNIN_NO_MATCH.format(user_id=WORKER)
    running.portal.store.users[int(second["ID"])]["WORK_PHONE"] = first["PERSONAL_MOBILE"]
    await running.runtime.cache.refresh()
    answer = await _sign_in(running, SECOND, first["PERSONAL_MOBILE"])
    assert answer.text == texts.SIGNIN_SEVERAL.format(user_id=SECOND)
    assert await running.runtime.state.links() == []


async def test_deactivated_in_bitrix_access_ends_after_the_refresh_told_once(
    running: BotUnderTest, store: PortalStore
) -> None:
    person = _people(store)[2]
    await _sign_in(running, WORKER, person["PERSONAL_MOBILE"])
    [answer] = await running.say(WORKER, "дома бригады 2")
    assert answer.text.startswith("Бригада 2:")
    async with httpx.AsyncClient(base_url=running.portal.webhook_url) as http:
        fired = (await http.post("user.update", json={"ID": person["ID"], "ACTIVE": False})).json()
    assert fired["result"] is True
    # Until the next refresh the bot still knows them as active; after it, access ends, and
    # they are told once, without having to write first.
    told_before = len(running.fake.sent_messages(WORKER))
    await running.runtime.cache.refresh()
    sent = await running.fake.wait_for_messages(WORKER, told_before + 1, 20.0)
    told = sent[told_before]
    assert told.text == texts.REVOKED.format(
        name=f"{person['LAST_NAME']} {person['NAME']} {person.get('SECOND_NAME', '')}".strip(),
        user_id=WORKER,
    )
    [again] = await running.say(WORKER, "дома бригады 2")
    assert again.text == texts.SIGNIN.format(user_id=WORKER)  # a stranger now: no data
    revoked = [m for m in running.fake.sent_messages(WORKER) if m.text == told.text]
    assert len(revoked) == 1
    assert await running.runtime.state.links() == []
    answer = await _sign_in(running, WORKER, person["PERSONAL_MOBILE"])
    assert answer.text == texts.SIGNIN_NO_MATCH.format(user_id=WORKER)


async def test_forget_signs_out(running: BotUnderTest, store: PortalStore) -> None:
    person = _people(store)[3]
    await _sign_in(running, WORKER, person["PERSONAL_MOBILE"])
    [answer] = await running.say(WORKER, "/forget")
    assert answer.text == texts.FORGOTTEN
    assert await running.runtime.state.links() == []
    [answer] = await running.say(WORKER, "мои задачи")
    assert answer.text == texts.SIGNIN.format(user_id=WORKER)


async def test_an_admin_not_signed_in_asking_about_mine_is_told_how(running: BotUnderTest) -> None:
    [answer] = await running.say(USER, "мои задачи")
    assert "Поделиться номером" in answer.text
    assert "Открытые задачи" not in answer.text


async def test_a_restart_keeps_the_link(store: PortalStore, tmp_path: Path) -> None:
    person = _people(store)[4]
    async with FakeTelegram(token=TOKEN) as fake:
        async with running_bot(store, tmp_path, speech=False, fake=fake) as first:
            await _sign_in(first, WORKER, person["PERSONAL_MOBILE"])
        async with running_bot(store, tmp_path, speech=False, fake=fake) as second:
            [answer] = await second.say(WORKER, "мои задачи")
            assert answer.text.startswith(f"Задачи ({person['LAST_NAME']} {person['NAME']})")


# ------------------------------------------------------------------ the morning digest


class ManualSleep:
    """The digest's sleep, driven by the test: each call waits until `wake` (bounded)."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.calls: list[float] = []
        self._event = asyncio.Event()
        self.waiting = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.waiting.set()
        try:
            # No timeout of its own: the bot's shutdown cancels it, and every wait on
            # `waiting` in the tests is bounded.
            await self._event.wait()
        finally:
            self._event.clear()
            self.waiting.clear()

    def wake(self, to: datetime) -> None:
        self.clock.moment = to
        self._event.set()


def _digest_houses(lines: list[str]) -> list[str]:
    """House titles of a digest: the lines between the schedule header and the tasks."""
    titles = []
    for line in lines:
        if line.startswith("Задачи"):
            break
        if line.startswith("• "):
            titles.append(line[2:].rsplit(" (", 1)[0])
    return sorted(titles)


def _expected_houses(rest: RawPortal, brigade: int, day: date) -> list[str]:
    month = YearMonth.of(day)
    return sorted(
        str(deal["TITLE"])
        for deal in rest.houses()
        if rest.brigade(deal) == brigade
        for visit_day, _ in rest.schedule(deal, month)
        if visit_day == day
    )


def _scheduler(running: BotUnderTest) -> DigestScheduler:
    scheduler = running.dispatcher["digest"]
    assert isinstance(scheduler, DigestScheduler)
    return scheduler


async def test_the_morning_digest_reaches_each_brigade_member_once(
    store: PortalStore, tmp_path: Path
) -> None:
    assert TODAY.weekday() == 2  # a Wednesday: a digest day
    clock = FixedClock(datetime.combine(TODAY, time(7, 0), tzinfo=MSK))
    sleep = ManualSleep(clock)
    settings: dict[str, Any] = {"digest_days": "mon-sat", "digest_time": "07:30"}
    async with FakeTelegram(token=TOKEN) as fake:
        async with running_bot(
            store, tmp_path, speech=False, fake=fake, clock=clock, digest_sleep=sleep, **settings
        ) as running:
            rest = await _rest(running)
            members = _brigade_members(store, rest)
            chosen = {WORKER: members[1], SECOND: members[4]}
            office = next(
                u for u in _people(store) if rest.person_brigade(rest.users[str(u["ID"])]) is None
            )
            for telegram_id, person in chosen.items():
                await _sign_in(running, telegram_id, person["PERSONAL_MOBILE"])
            await _sign_in(running, THIRD, office["PERSONAL_MOBILE"])
            before = {t: len(fake.sent_messages(t)) for t in (WORKER, SECOND, THIRD)}
            async with asyncio.timeout(10):
                await sleep.waiting.wait()
            # 07:00: 30 minutes to go, waited in steps of at most 10 (no real waiting here).
            assert sleep.calls == [600.0]
            sleep.wake(datetime.combine(TODAY, time(7, 30), tzinfo=MSK))
            await fake.wait_for(lambda: len(_scheduler(running).runs) == 1 or None)
            [run] = _scheduler(running).runs
            assert (run.sent, run.not_in_brigade, run.failed) == (2, 1, 0)
            for telegram_id, person in chosen.items():
                [digest] = fake.sent_messages(telegram_id)[before[telegram_id] :]
                assert digest.text.startswith(f"☀️ Доброе утро, {person['NAME']}!")
                brigade = rest.person_brigade(rest.users[str(person["ID"])])
                assert brigade is not None
                houses = _digest_houses(await _lines(running, digest))
                assert houses == _expected_houses(rest, brigade, TODAY)
                assert houses  # a working day of the brigade
            assert len(fake.sent_messages(THIRD)) == before[THIRD]
            sent = len(fake.sent_messages())
        # A restart later the same morning: the run is due again, and nobody gets it twice.
        clock.moment = datetime.combine(TODAY, time(7, 45), tzinfo=MSK)
        async with running_bot(
            store, tmp_path, speech=False, fake=fake, clock=clock, digest_sleep=sleep, **settings
        ) as again:
            await fake.wait_for(lambda: len(_scheduler(again).runs) == 1 or None)
            [run] = _scheduler(again).runs
            assert (run.sent, run.already) == (0, 2)
            assert len(fake.sent_messages()) == sent
        # Sunday is not a digest day: the scheduler only waits for Monday.
        sunday = TODAY + timedelta(days=(6 - TODAY.weekday()))
        clock.moment = datetime.combine(sunday, time(7, 30), tzinfo=MSK)
        sleep.calls.clear()
        async with running_bot(
            store, tmp_path, speech=False, fake=fake, clock=clock, digest_sleep=sleep, **settings
        ) as sunday_bot:
            async with asyncio.timeout(10):
                await sleep.waiting.wait()
            assert _scheduler(sunday_bot).runs == []
            assert sleep.calls == [600.0]  # capped; Monday 07:30 is a day away
            assert len(fake.sent_messages()) == sent


async def test_digest_off_keeps_one_person_out(store: PortalStore, tmp_path: Path) -> None:
    clock = FixedClock(datetime.combine(TODAY, time(7, 0), tzinfo=MSK))
    sleep = ManualSleep(clock)
    async with running_bot(
        store, tmp_path, speech=False, clock=clock, digest_sleep=sleep, digest_days="mon-sat"
    ) as running:
        rest = await _rest(running)
        person = _brigade_members(store, rest)[2]
        await _sign_in(running, WORKER, person["PERSONAL_MOBILE"])
        [answer] = await running.say(WORKER, "/digest off")
        assert answer.text == texts.DIGEST_OFF
        async with asyncio.timeout(10):
            await sleep.waiting.wait()
        sleep.wake(datetime.combine(TODAY, time(7, 30), tzinfo=MSK))
        await running.fake.wait_for(lambda: len(_scheduler(running).runs) == 1 or None)
        [run] = _scheduler(running).runs
        assert (run.sent, run.opted_out) == (0, 1)


async def test_a_digest_missed_while_down_goes_out_late_the_same_day(
    store: PortalStore, tmp_path: Path
) -> None:
    # Signed in yesterday; the bot was down at 07:30 and starts at 11:00.
    state = SqliteState(tmp_path / "state.db")
    people = _people(store)
    await state.link(WORKER, str(people[10]["ID"]))
    await state.close()
    clock = FixedClock(datetime.combine(TODAY, time(11, 0), tzinfo=MSK))
    sleep = ManualSleep(clock)
    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_user(WORKER)  # they talked to the bot before: Telegram knows the chat
        async with running_bot(
            store,
            tmp_path,
            speech=False,
            fake=fake,
            clock=clock,
            digest_sleep=sleep,
            digest_days="mon-sat",
        ) as running:
            rest = await _rest(running)
            assert rest.person_brigade(rest.users[str(people[10]["ID"])]) is not None
            await running.fake.wait_for(lambda: len(_scheduler(running).runs) == 1 or None)
            [run] = _scheduler(running).runs
            assert (run.day, run.sent) == (TODAY, 1)
            [digest] = running.fake.sent_messages(WORKER)
            assert digest.text.startswith("☀️ Доброе утро")
            # Then it waits for tomorrow's 07:30 (in steps), not for today's again.
            async with asyncio.timeout(10):
                await sleep.waiting.wait()
            assert sleep.calls == [600.0]
