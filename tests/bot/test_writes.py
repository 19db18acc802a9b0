"""Writes by voice, end to end: real aiogram polling against the fake Bot API, the brain, the
emulated portal over HTTP, the SQLite state store. What was written is read back over REST.

The scenarios of issue 14: a voice-note problem report with two photos → one task on the
right deal for the brigade's head with both photos; ✅ pressed twice and the callback update
delivered twice → one task; ❌ → nothing; an expired preview → nothing and a clear message;
someone else's ✅ → refused; a 503 on the write → a clear message, journal "failed", and a
retry that writes once; a stranger's «поставь задачу» → no preview.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bitrix.clock import FixedClock
from bitrix.portal import Fault, PortalStore
from handlers import texts
from tests.bot.harness import (
    ADMIN,
    STRANGER,
    TODAY,
    USER,
    BotUnderTest,
    ScriptedRecognizer,
    running_bot,
)
from tests.bot.test_actions import brigade_head_of, deal_id_of, tasks_of_deal
from tests.bot.test_signin import _telegram_digits
from tests.fakes.telegram import BotMessage

WORKER = 4101
"""A Telegram user linked to an employee of brigade 1 (signed in by phone)."""
COLLEAGUE = 4102
"""Another linked employee."""
HOUSE = "Майская 8"
#: Two small "photos" (the bytes only need to survive the trip, not be images).
PHOTOS = (b"\xff\xd8\xff\xe0first-photo" + bytes(range(64)), b"\xff\xd8\xff\xe0second" * 9)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TODAY)


@pytest.fixture
async def running(
    store: PortalStore, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[BotUnderTest]:
    recognizer = ScriptedRecognizer("на майской восемь сломан домофон")
    async with running_bot(
        store, tmp_path, recognizer=recognizer, clock=clock, photo_dir=tmp_path / "photos"
    ) as bot:
        await bot.runtime.assistant.warm_up()
        view = bot.runtime.cache.view()
        assert view is not None
        people = sorted(
            (p for p in view.snapshot.employees.values() if p.brigade == 1 and p.phones),
            key=lambda p: int(p.id),
        )
        # Signed in as staff do: by sharing their own contact.
        for telegram_id, person in ((WORKER, people[0]), (COLLEAGUE, people[1])):
            mobile = store.users[int(person.id)]["PERSONAL_MOBILE"]
            event = await bot.fake.send_contact(telegram_id, _telegram_digits(mobile))
            [welcome] = await bot.answers(event)
            assert welcome.text.startswith("Готово: вы вошли как"), welcome.text
        yield bot


async def rest(bot: BotUnderTest, method: str, params: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=bot.portal.webhook_url, timeout=30) as http:
        response = await http.post(f"{method}.json", json=params)
        response.raise_for_status()
        return response.json()["result"]


async def preview_for(bot: BotUnderTest, user_id: int, text: str) -> BotMessage:
    [preview] = await bot.say(user_id, text)
    assert [label for label, _ in preview.buttons] == [texts.WRITE_YES, texts.WRITE_NO]
    return preview


async def press(
    bot: BotUnderTest, user_id: int, preview: BotMessage, label: str, count: int = 1
) -> list[BotMessage]:
    """``user_id`` presses a preview's button; the bot's ``count`` replies to the preview."""
    last = max(m.message_id for m in bot.fake.sent_messages(preview.chat_id))
    event = await bot.fake.press_button(
        user_id, preview, button_text=label, chat_id=preview.chat_id
    )
    await bot.fake.wait_for_request(
        "answerCallbackQuery", lambda r: r.params.get("callback_query_id") == event.update[
            "callback_query"]["id"]
    )  # fmt: skip
    if not count:
        return []
    found = await bot.fake.wait_for_messages(preview.chat_id, count, bot.timeout, since=last)
    return [
        m
        for m in found
        if m.reply_to_message and m.reply_to_message["message_id"] == preview.message_id
    ][:count]


def toast(bot: BotUnderTest) -> str:
    """The text of the newest answerCallbackQuery (what the pressing person saw)."""
    return str(bot.fake.calls("answerCallbackQuery")[-1].params.get("text") or "")


async def test_a_voice_problem_report_with_two_photos_is_one_task_with_both(
    running: BotUnderTest, store: PortalStore, russian_ogg: bytes
) -> None:
    deal_id = deal_id_of(store, HOUSE)
    event = await running.fake.send_voice(WORKER, russian_ogg, duration=2)
    heard, preview = await running.answers(event, 2)
    assert heard.text == texts.HEARD.format(text="на майской восемь сломан домофон")
    assert f"• Дом: {HOUSE} (привязка к сделке №{deal_id})" in preview.text
    assert "• Фото: нет" in preview.text
    for number, photo in enumerate(PHOTOS, 1):
        sent = await running.fake.send_photo(WORKER, photo)
        [note] = await running.answers(sent)
        assert note.text == texts.PHOTOS_ADDED
        updated = running.fake.message(preview.chat_id, preview.message_id)
        assert f"• Фото: {number}" in updated.text
    [done] = await press(running, WORKER, preview, texts.WRITE_YES)
    assert done.text.startswith("✅ Задача №") and "фото: 2" in done.text
    assert running.fake.message(preview.chat_id, preview.message_id).buttons == []
    [task] = await tasks_of_deal(running.portal, deal_id)
    assert str(task["responsibleId"]) == brigade_head_of(store, deal_id)
    assert f"№{task['id']}" in done.text
    files = task["ufTaskWebdavFiles"]
    assert len(files) == 2
    contents = []
    for file_ref in files:
        record = await rest(running, "disk.file.get", {"id": str(file_ref).lstrip("n")})
        contents.append(record)
    assert all(".audiobot-" in r["NAME"] for r in contents)
    [entry, *_] = await running.runtime.state.journal_entries()
    assert entry.kind == "write.done" and entry.payload["photos"] == 2
    assert entry.actor == f"tg:{WORKER}" and entry.payload["bitrix_id"] == int(task["id"])
    assert list((running.settings.photo_dir).iterdir()) == []  # local copies gone once written


async def test_a_captioned_photo_is_a_report_and_a_done_comment_carries_it(
    running: BotUnderTest, store: PortalStore
) -> None:
    deal_id = deal_id_of(store, HOUSE)
    sent = await running.fake.send_photo(WORKER, PHOTOS[0], caption="майская 8 убрали")
    [preview] = await running.answers(sent)
    assert "комментарий в карточке дома" in preview.text and "• Фото: 1" in preview.text
    [done] = await press(running, WORKER, preview, texts.WRITE_YES)
    assert done.text.startswith(f"✅ Записал в карточку дома {HOUSE}")
    comments = await rest(
        running,
        "crm.timeline.comment.list",
        {"filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "select": ["ID", "COMMENT",
                                                                           "FILES"]},
    )  # fmt: skip
    [mine] = [c for c in comments if "[audiobot:" in c["COMMENT"]]
    assert "Уборка выполнена" in mine["COMMENT"] and len(mine["FILES"]) == 1


async def test_double_press_and_a_redelivered_callback_write_one_task(
    running: BotUnderTest, store: PortalStore
) -> None:
    preview = await preview_for(running, WORKER, "на майской 8 сломан домофон")
    first = await running.fake.press_button(
        WORKER, preview, button_text=texts.WRITE_YES, chat_id=preview.chat_id
    )
    second = await running.fake.press_button(
        WORKER, preview, button_text=texts.WRITE_YES, chat_id=preview.chat_id, strict=False
    )
    # Telegram delivers the first press again (a retry after a lost getUpdates answer).
    await running.fake.redeliver(first)
    found = await running.fake.wait_for_messages(
        preview.chat_id, 1, running.timeout, since=preview.message_id
    )
    await running.fake.wait_for_request(
        "answerCallbackQuery",
        lambda r: r.params.get("callback_query_id") == second.update["callback_query"]["id"],
    )
    # Settle: a message after both presses is answered only after them (one chat, in order).
    await running.say(WORKER, "привет")
    done = [m for m in running.fake.sent_messages(preview.chat_id) if m.text.startswith("✅")]
    assert len(done) == 1 and found[0].text == done[0].text
    assert running.portal.count("tasks.task.add") == 1
    assert len(await tasks_of_deal(running.portal, deal_id_of(store, HOUSE))) == 1
    # The repeat was told with a toast, never as a second message.
    toasts = {
        r.params.get("callback_query_id"): str(r.params.get("text") or "")
        for r in running.fake.calls("answerCallbackQuery")
    }
    first_id, second_id = (e.update["callback_query"]["id"] for e in (first, second))
    assert running.fake.delivery_counts[first.update_id] == 2  # the repeat did arrive
    assert toasts[first_id] == texts.WRITING, toasts
    assert toasts[second_id].startswith(("Уже записано.", "Уже записываю", "Принято")), toasts


async def test_cancel_writes_nothing(running: BotUnderTest, store: PortalStore) -> None:
    preview = await preview_for(running, WORKER, "на майской 8 сломан домофон")
    [cancelled] = await press(running, WORKER, preview, texts.WRITE_NO)
    assert cancelled.text == "Отменено — ничего не записано."
    assert running.fake.message(preview.chat_id, preview.message_id).buttons == []
    assert running.portal.count("tasks.task.add") == 0


async def test_an_expired_preview_writes_nothing_and_says_so(
    running: BotUnderTest, clock: FixedClock
) -> None:
    preview = await preview_for(running, WORKER, "на майской 8 сломан домофон")
    clock.advance(timedelta(seconds=running.settings.confirm_ttl + 1))
    [expired] = await press(running, WORKER, preview, texts.WRITE_YES)
    assert expired.text.startswith("Время на подтверждение истекло (10 мин)")
    assert running.portal.count("tasks.task.add") == 0


async def test_someone_elses_press_is_refused(running: BotUnderTest) -> None:
    group_preview = await preview_for(running, WORKER, "на майской 8 сломан домофон")
    await press(running, COLLEAGUE, group_preview, texts.WRITE_YES, count=0)
    assert toast(running) == "Подтвердить запись может только тот, кто её попросил."
    assert running.portal.count("tasks.task.add") == 0
    assert running.fake.message(group_preview.chat_id, group_preview.message_id).buttons


async def test_a_503_on_the_write_is_said_journaled_and_the_retry_writes_once(
    running: BotUnderTest, store: PortalStore
) -> None:
    preview = await preview_for(running, WORKER, "на майской 8 сломан домофон")
    running.portal.inject_fault(Fault.QUERY_LIMIT, method="tasks.task.add", count=50)
    [failed] = await press(running, WORKER, preview, texts.WRITE_YES)
    assert failed.text.startswith("Не удалось создать задачу")
    assert "ничего не записано" in failed.text
    [entry, *_] = await running.runtime.state.journal_entries()
    assert entry.kind == "write.failed"
    assert running.fake.message(preview.chat_id, preview.message_id).buttons  # ✅ again is fine
    running.portal.clear_faults()
    [done] = await press(running, WORKER, preview, texts.WRITE_YES)
    assert done.text.startswith("✅ Задача №")
    assert len(await tasks_of_deal(running.portal, deal_id_of(store, HOUSE))) == 1


async def test_a_stranger_and_an_unlinked_user_get_no_preview(running: BotUnderTest) -> None:
    answers = await running.say(STRANGER, "поставь задачу ершовой проверить подвал")
    assert all(not m.buttons or texts.WRITE_YES not in [b for b, _ in m.buttons] for m in answers)
    assert "📱" in answers[0].text or "номер" in answers[0].text
    # An admin may write without a link; an allow-listed but unlinked user may not.
    admin = await preview_for(running, ADMIN, "поставь задачу ершовой проверить подвал")
    assert "администратор" in admin.text
    [refused] = await running.say(USER, "поставь задачу ершовой проверить подвал")
    assert refused.buttons == [] and "вошли по номеру" in refused.text
    assert running.portal.count("tasks.task.add") == 0


async def test_photos_of_a_question_or_a_cancelled_report_are_not_kept(
    running: BotUnderTest,
) -> None:
    sent = await running.fake.send_photo(WORKER, PHOTOS[0], caption="код домофона майская 8")
    [answer] = await running.answers(sent)
    assert answer.buttons == [] and "Майская 8" in answer.text
    sent = await running.fake.send_photo(WORKER, PHOTOS[1], caption="майская 8 убрали")
    [preview] = await running.answers(sent)
    assert len(list(running.settings.photo_dir.iterdir())) == 1
    [cancelled] = await press(running, WORKER, preview, texts.WRITE_NO)
    assert cancelled.text == "Отменено — ничего не записано."
    assert list(running.settings.photo_dir.iterdir()) == []
