"""Who may talk to the bot, how often, and what happens when Telegram or the bot fails."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter

from bitrix.portal import PortalStore
from handlers import texts
from handlers.middlewares import RetryAfterMiddleware
from tests.bot.harness import ADMIN, GROUP, STRANGER, TOKEN, USER, BotUnderTest, running_bot
from tests.fakes.telegram import FakeTelegram


async def test_a_stranger_is_offered_sign_in_once_with_their_id(
    running: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = await running.fake.send_text(STRANGER, "дома бригады 3")
    [refusal] = await running.answers(first)
    assert refusal.text == texts.SIGNIN.format(user_id=STRANGER)
    assert refusal.reply_markup is not None
    [[button]] = refusal.reply_markup["keyboard"]
    assert button == {"text": texts.SIGNIN_BUTTON, "request_contact": True}
    # More messages: no second refusal, and never any data.
    await running.fake.send_text(STRANGER, "/health")
    await running.fake.send_text(STRANGER, "телефон Петрова")
    # A message from an allowed user after them is answered, so theirs were handled by then.
    [answer] = await running.say(USER, "дома бригады 1")
    assert answer.text.startswith("Бригада 1:")
    assert [m.text for m in running.fake.sent_messages(STRANGER)] == [refusal.text]

    refused = [r for r in caplog.records if "access refused" in r.getMessage()]
    assert len(refused) == 3
    assert all(str(STRANGER) in r.getMessage() for r in refused)
    # The log says who, never what they wrote.
    assert not any("Петрова" in r.getMessage() or "бригады" in r.getMessage() for r in refused)


async def test_a_stranger_without_sign_in_by_phone_is_refused_with_their_id(
    store: PortalStore, tmp_path: Path
) -> None:
    async with running_bot(store, tmp_path, link_by_phone=False) as running:
        [refusal] = await running.say(STRANGER, "дома бригады 3")
        assert refusal.text == texts.REFUSAL.format(user_id=STRANGER)
        assert refusal.reply_markup is None


async def test_a_stranger_pressing_a_button_gets_no_data(running: BotUnderTest) -> None:
    [page] = await running.say(USER, "дома бригады 3")
    [(_, forward)] = [b for b in page.buttons if b[0] == texts.NEXT]
    # A stranger cannot normally see USER's chat; a forwarded keyboard is the realistic path.
    press = await running.fake.press_button(STRANGER, page, forward, chat_id=USER)
    answer = await running.fake.wait_for(
        lambda: running.fake.callback_answers.get(press.callback_query_id or "")
    )
    assert answer.get("text") == texts.REFUSAL_SHORT.format(user_id=STRANGER)
    assert running.fake.message(USER, page.message_id).history == []


async def test_health_for_an_admin_only(running: BotUnderTest) -> None:
    [report] = await running.say(ADMIN, "/health")
    assert report.text.startswith("✅ Состояние: всё работает")
    assert "Bitrix24: доступен" in report.text
    assert "Распознавание речи: работает, модель scripted" in report.text
    webhook = running.portal.webhook_url
    secret = webhook.rstrip("/").rsplit("/", 1)[-1]
    assert secret not in report.text
    assert TOKEN not in report.text
    [refused] = await running.say(USER, "/health")
    assert refused.text == texts.ADMIN_ONLY


async def test_flood_is_dropped_politely(store: PortalStore, tmp_path: Path) -> None:
    async with running_bot(store, tmp_path, flood_rate=0.01, flood_burst=2) as bot:
        events = [await bot.fake.send_text(USER, f"дома бригады {n}") for n in (1, 2, 3, 4)]
        # Two answers and one "too often" notice: the fourth message is dropped silently.
        messages = await bot.fake.wait_for_messages(
            USER, 3, bot.timeout, since=events[0].message_id
        )
        marker = await bot.fake.send_text(ADMIN, "/start")
        await bot.answers(marker)
        texts_sent = [m.text for m in bot.fake.sent_messages(USER)]
        assert len(texts_sent) == 3, texts_sent
        # The notice goes out at once; the answers follow in order.
        answers = [t.split(":", 1)[0] for t in texts_sent if t != texts.FLOOD]
        assert answers == ["Бригада 1", "Бригада 2"]
        assert texts_sent.count(texts.FLOOD) == 1
        assert len(messages) == 3


async def test_telegram_429_is_retried_after_retry_after(running: BotUnderTest) -> None:
    running.fake.flood_next("sendMessage", retry_after=1)
    [reply] = await running.say(USER, "дома бригады 2")
    assert reply.text.startswith("Бригада 2:")
    sends = running.fake.calls("sendMessage")
    assert [r.status for r in sends] == [429, 200]
    assert sends[1].ts - sends[0].ts >= 0.9


async def test_any_failure_is_one_russian_sentence_and_a_scrubbed_log(
    running: BotUnderTest, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(text: str, **_: object) -> None:
        raise RuntimeError(f"boom while calling https://api.telegram.org/bot{TOKEN}/sendMessage")

    monkeypatch.setattr(running.runtime.assistant, "ask", broken)
    caplog.set_level(logging.ERROR)
    [reply] = await running.say(USER, "дома бригады 3")
    assert reply.text == texts.ERROR
    assert "Traceback" not in reply.text
    [record] = [r for r in caplog.records if r.name == "handlers.errors"]
    logged = record.getMessage()
    assert "RuntimeError" in logged and "Traceback" in logged
    assert TOKEN not in logged
    assert TOKEN.split(":")[1] not in logged


async def test_fifty_users_five_messages_each_answered_once_in_order(
    store: PortalStore, tmp_path: Path
) -> None:
    users = list(range(5000, 5050))
    allowed = ",".join(str(u) for u in users)
    async with running_bot(store, tmp_path, allowed_user_ids=allowed) as bot:
        bot.fake.hold_updates = True
        sent: dict[int, list[int]] = {}
        for user in users:
            for brigade in (1, 2, 3, 4, 5):
                event = await bot.fake.send_text(user, f"дома бригады {brigade}")
                assert event.message_id is not None
                sent.setdefault(user, []).append(event.message_id)
        # All 250 updates become visible at once, as after a busy moment.
        await bot.fake.release_updates()
        total = len(users) * 5
        await bot.fake.wait_for(
            lambda: len(bot.fake.sent_messages()) >= total or None,
            120.0,
            description=f"{total} answers",
        )
        for user in users:
            messages = bot.fake.sent_messages(user)
            headers = [m.text.split(":", 1)[0] for m in messages]
            assert headers == [f"Бригада {n}" for n in (1, 2, 3, 4, 5)], (user, headers)
        assert len(bot.fake.sent_messages()) == total
        assert all(count == 1 for count in bot.fake.delivery_counts.values())


async def test_shutdown_waits_for_work_in_flight(store: PortalStore, tmp_path: Path) -> None:
    async with running_bot(store, tmp_path) as bot:
        bot.fake.set_latency(0.5, "sendMessage")
        event = await bot.fake.send_text(USER, "дома бригады 4")
        await bot.fake.wait_for_request("sendMessage", completed=False)
    # Polling stopped while the answer was still being sent; it was delivered, not cut off.
    answers = [m for m in bot.fake.sent_messages(USER) if m.message_id > (event.message_id or 0)]
    assert [m.text.split(":", 1)[0] for m in answers] == ["Бригада 4"]


async def test_no_reply_leaks_between_concurrent_chats(running: BotUnderTest) -> None:
    first, second = await asyncio.gather(
        running.say(USER, "дома бригады 1"), running.say(ADMIN, "дома бригады 6")
    )
    assert first[0].text.startswith("Бригада 1:")
    assert second[0].text.startswith("Бригада 6:")


async def test_429_retries_are_bounded_in_count_and_wait() -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_user(USER)
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
        session.middleware(RetryAfterMiddleware(max_retries=2, max_wait_s=30, sleep=no_sleep))
        bot = Bot(TOKEN, session=session)
        try:
            fake.flood_next("sendMessage", times=3, retry_after=4)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(USER, "раз")
            assert waits == [4, 4]
            assert len(fake.calls("sendMessage")) == 3
            fake.flood_next("sendMessage", retry_after=3600)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(USER, "два")
            assert waits == [4, 4]
            assert len(fake.calls("sendMessage")) == 4
        finally:
            await bot.session.close()


async def test_button_presses_are_not_flood_limited(store: PortalStore, tmp_path: Path) -> None:
    async with running_bot(store, tmp_path, flood_rate=0.01, flood_burst=1) as bot:
        [page] = await bot.say(USER, "дома бригады 3")
        for _ in range(3):
            current = bot.fake.message(USER, page.message_id)
            [(_, data)] = [b for b in current.buttons if b[0] == texts.NEXT]
            edits = len(current.history)
            await bot.fake.press_button(USER, current, data)

            def turned(edits: int = edits) -> bool | None:
                return len(bot.fake.message(USER, page.message_id).history) > edits or None

            await bot.fake.wait_for(turned)
        assert "Стр. 4 из 4" in bot.fake.message(USER, page.message_id).text


async def test_a_group_not_allowed_gets_one_refusal_and_no_data(
    running: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    group = -1009876543210
    assert group not in running.settings.allowed_chat_ids
    fake = running.fake
    await fake.send_text(USER, "дома бригады 3 уже убрали?", chat_id=group)
    # Even an admin: everyone in the group would read the answer.
    asked = await fake.send_text(ADMIN, "@audiobot_test_bot дома бригады 3", chat_id=group)
    [refusal] = await running.answers(asked)
    assert refusal.text == texts.GROUP_REFUSAL.format(chat_id=group)
    assert str(group) in refusal.text
    # More requests, a command among them: still no data, and no second refusal this hour.
    await fake.send_text(USER, "/health", chat_id=group)
    await fake.send_text(USER, "@audiobot_test_bot телефон Петрова", chat_id=group)
    # The same people in private chats are answered as usual (and after the group's updates).
    [answer] = await running.say(USER, "дома бригады 1")
    assert answer.text.startswith("Бригада 1:")
    [report] = await running.say(ADMIN, "/health")
    assert report.text.startswith("✅ Состояние")
    assert [m.text for m in fake.sent_messages(group)] == [refusal.text]
    logged = [r for r in caplog.records if r.name == "handlers.middlewares"]
    refused = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert len(refused) == 3, refused
    assert all(str(group) in m and "ALLOWED_CHAT_IDS" in m for m in refused)
    ignored = [r.getMessage() for r in logged if r.levelno == logging.INFO]
    assert any(str(group) in m for m in ignored)
    # Who and where, never what they wrote.
    assert not any("Петрова" in r.getMessage() or "бригады" in r.getMessage() for r in logged)


async def test_in_an_allowed_group_each_person_still_needs_access(running: BotUnderTest) -> None:
    fake = running.fake
    assert GROUP in running.settings.allowed_chat_ids
    asked = await fake.send_text(STRANGER, "@audiobot_test_bot дома бригады 3", chat_id=GROUP)
    [refusal] = await running.answers(asked)
    assert refusal.text == texts.REFUSAL.format(user_id=STRANGER)
    mine = await fake.send_text(USER, "@audiobot_test_bot дома бригады 2", chat_id=GROUP)
    [answer] = await running.answers(mine)
    assert answer.text.startswith("Бригада 2:")
