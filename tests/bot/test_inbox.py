"""Issue 13: every update is answered exactly once, even when the bot is killed with SIGKILL.

The bot runs as a child process (`tests.bot.process`) polling the fake Bot API, or in webhook
mode; the fake holds the bot's replies (``pause("sendMessage")``) so the kill lands after
Telegram delivered the updates and before any answer, deterministically. After the restart
each user must have exactly one answer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bitrix.portal import EmulatedPortal, PortalStore
from bot.state import SqliteState
from handlers import texts
from handlers.inbox import MAX_ATTEMPTS
from tests.bot.harness import OTHER_USER, TOKEN, USER, free_port, running_bot
from tests.bot.process import BotProcess, bot_env
from tests.fakes.telegram import FakeTelegram

QUESTION = "дома бригады 3"
ANSWER_START = "Бригада 3"
USERS = list(range(5001, 5021))
STARTUP_S = 90.0  # imports, the first snapshot from the portal; a loaded 2-core machine
ANSWER_S = 90.0
SECRET = "inbox-secret_0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, hold_updates=True) as server:
        yield server


def answers(fake: FakeTelegram, chat_id: int) -> int:
    """How many answers to `QUESTION` the chat got (an answer may span several messages)."""
    return sum(1 for m in fake.sent_messages(chat_id) if m.text.startswith(ANSWER_START))


async def unanswered(tmp_path: Path) -> list[int]:
    state = SqliteState(tmp_path / "state.db")
    try:
        return [item.update_id for item in await state.unanswered()]
    finally:
        await state.close()


async def wait_all_answered(fake: FakeTelegram, users: list[int], bot: BotProcess) -> None:
    try:
        await fake.wait_for(
            lambda: all(answers(fake, u) >= 1 for u in users) or None,
            ANSWER_S,
            description="an answer in every chat",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- bot output ---\n{bot.output()}") from None


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed", "not-confirmed"])
async def test_polling_kill_after_getupdates_answers_each_once(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path, confirmed: bool
) -> None:
    """20 users write; SIGKILL right after getUpdates delivered them, before any answer.

    ``confirmed``: the next getUpdates already acknowledged the batch (Telegram forgot it: only
    the inbox has it). Otherwise the kill lands before that (Telegram delivers the batch again
    after the restart, and the inbox already has it: no update may be answered twice).
    """
    bot = BotProcess(bot_env(fake.base_url, portal.webhook_url, tmp_path, USERS), tmp_path)
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.parked_polls > 0 or None, STARTUP_S, description="poll")
        events = [await fake.send_text(user, QUESTION) for user in USERS]
        ids = {event.update_id for event in events}
        await fake.pause("sendMessage")
        if not confirmed:
            await fake.pause("getUpdates")  # the poll parked now is past the pause already
        mark = len(fake.requests) - 1
        assert await fake.release_updates() == len(USERS)
        if confirmed:
            await fake.wait_for(
                lambda: ids <= set(fake.confirmed_update_ids) or None,
                30.0,
                description="the batch acknowledged",
            )
        else:
            await fake.wait_for_request("getUpdates", completed=False, after=mark, timeout=30.0)
            assert not ids & set(fake.confirmed_update_ids)
        await bot.kill()
        assert all(fake.delivery_counts[i] == 1 for i in ids)
        assert [u for u in USERS if fake.sent_messages(u)] == []  # nothing answered yet
        await fake.unpause("sendMessage", drop=True)
        await fake.unpause("getUpdates", drop=True)

        await bot.start()
        await wait_all_answered(fake, USERS, bot)
        assert await bot.stop() == 0, bot.output()
        assert {u: answers(fake, u) for u in USERS} == dict.fromkeys(USERS, 1)
        if not confirmed:
            assert all(fake.delivery_counts[i] == 2 for i in ids)  # Telegram's duplicates
        assert await unanswered(tmp_path) == []
    finally:
        await bot.aclose()


async def test_webhook_kill_before_answering_answers_once(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path
) -> None:
    """An update POSTed and acknowledged (200), the process killed before it answered."""
    port = free_port()
    env = bot_env(
        fake.base_url,
        portal.webhook_url,
        tmp_path,
        [USER],
        TELEGRAM_WEBHOOK_URL="https://bot.example.com/tg/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN_PORT=str(port),
    )
    bot = BotProcess(env, tmp_path)
    url = f"http://127.0.0.1:{port}/tg/hook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        await bot.start()
        await fake.wait_for_request("setWebhook", timeout=STARTUP_S)
        event = await fake.send_text(USER, QUESTION)  # held: only the webhook delivers it
        await fake.pause("sendMessage")
        mark = len(fake.requests) - 1
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=event.update, headers=headers) as response,
        ):
            assert response.status == 200
        await fake.wait_for_request("sendMessage", completed=False, after=mark, timeout=30.0)
        await bot.kill()
        assert fake.sent_messages(USER) == []
        await fake.unpause("sendMessage", drop=True)

        mark = len(fake.requests) - 1
        await bot.start()
        await wait_all_answered(fake, [USER], bot)
        # Telegram retrying the same update after the restart: not answered again.
        await fake.wait_for_request("setWebhook", after=mark, timeout=STARTUP_S)
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=event.update, headers=headers) as response,
        ):
            assert response.status == 200
        assert await bot.stop() == 0, bot.output()
        assert answers(fake, USER) == 1
        assert await unanswered(tmp_path) == []
    finally:
        await bot.aclose()


async def test_a_resumed_update_too_old_gets_the_apology(
    store: PortalStore, tmp_path: Path
) -> None:
    """Unanswered at the last stop: a fresh one is answered, one older than the bound is not."""
    async with FakeTelegram(token=TOKEN, hold_updates=True) as fake:
        old = await fake.send_text(USER, QUESTION)
        fresh = await fake.send_text(USER, QUESTION)
        poison = await fake.send_text(OTHER_USER, QUESTION)
        two_hours_ago = time.time() - 7200
        state = SqliteState(tmp_path / "state.db", clock=lambda: two_hours_ago)
        await state.record_updates([old.update])
        state_now = SqliteState(tmp_path / "state.db")
        await state_now.record_updates([fresh.update, poison.update])
        # Handling it started MAX_ATTEMPTS times and never finished (it killed the bot?).
        for _ in range(MAX_ATTEMPTS - 1):
            await state_now.start_attempt(poison.update_id)
        await state.close()
        await state_now.close()
        async with running_bot(store, tmp_path, fake=fake, inbox_max_age_s=3600) as running:
            messages = await fake.wait_for_messages(USER, 2, running.timeout)
            sent = datetime.fromtimestamp(old.update["message"]["date"], tz=UTC)
            stamp = sent.astimezone(running.settings.tz).strftime("%H:%M")
            assert messages[0].text == texts.LOST_ON_RESTART.format(time=stamp)
            assert messages[1].text.startswith(ANSWER_START)
            [apology] = await fake.wait_for_messages(OTHER_USER, 1, running.timeout)
            assert apology.text == texts.LOST_ON_RESTART.format(time=stamp)
        assert answers(fake, USER) == 1
        assert len(fake.sent_messages(USER)) == 2
        assert len(fake.sent_messages(OTHER_USER)) == 1
        assert await unanswered(tmp_path) == []
