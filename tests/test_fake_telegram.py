"""The fake Telegram Bot API server, driven by a real aiogram 3 Bot and Dispatcher.

Every polling test runs ``Dispatcher.start_polling`` over loopback HTTP against
``tests.fakes.telegram.FakeTelegram`` and stops it cleanly (``run_polling``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiogram.utils.backoff import BackoffConfig

from tests.fakes.telegram import (
    DOWNLOAD,
    MAX_DOWNLOAD_SIZE,
    EntityParseError,
    FakeTelegram,
    UploadedFile,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    run_polling,
)

TOKEN = "42:TEST"
USER = 111
FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.3, jitter=0.0)


def make_bot(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    """A real aiogram Bot pointed at the fake."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(fake)
    yield bot
    # Idempotent: polling already closes the session on stop.
    await bot.session.close()


def pages_keyboard(page: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Дальше", callback_data=f"page:{page + 1}")]]
    )


def build_dispatcher(seen: list[Message]) -> Dispatcher:
    """A tiny bot: /start, /pages with an inline keyboard, media download, text echo."""
    router = Router(name="test")

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        seen.append(message)
        await message.reply("Привет! Я бот.")

    @router.message(Command("pages"))
    async def pages(message: Message) -> None:
        await message.answer("Страница 1", reply_markup=pages_keyboard(1))

    @router.message(F.voice | F.audio | F.video_note | F.document)
    async def media(message: Message, bot: Bot) -> None:
        item = message.voice or message.audio or message.video_note or message.document
        assert item is not None
        try:
            data = await bot.download(item)
        except TelegramBadRequest as error:
            await message.answer(f"Ошибка: {error.message}")
            return
        assert data is not None
        payload = data.read()  # aiogram rewinds the BytesIO to 0
        await message.answer(f"{len(payload)} {hashlib.sha256(payload).hexdigest()}")

    @router.callback_query(F.data.startswith("page:"))
    async def turn(query: CallbackQuery) -> None:
        assert query.data is not None
        assert isinstance(query.message, Message)
        page = int(query.data.split(":")[1])
        try:
            await query.message.edit_text(f"Страница {page}", reply_markup=pages_keyboard(page))
        except TelegramBadRequest as error:
            if "message is not modified" not in error.message:
                raise
            await query.answer("Уже здесь")
            return
        await query.answer()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(message)
        assert message.text is not None
        await message.answer(message.text)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def raw_call(
    fake: FakeTelegram,
    method: str,
    *,
    token: str = TOKEN,
    http_method: str = "POST",
    query: dict[str, str] | None = None,
    form: dict[str, str] | aiohttp.FormData | None = None,
    json_body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One plain HTTP call to the fake's Bot API, without aiogram."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            http_method,
            f"{fake.base_url}/bot{token}/{method}",
            params=query,
            data=form,
            json=json_body,
        ) as response,
    ):
        return response.status, await response.json()


# ------------------------------------------------------------------ bot side, with aiogram


async def test_get_me_and_wrong_token(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (42, True, "audiobot_test_bot")

    async with make_bot(fake, token="42:WRONG") as intruder:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await intruder.get_me()
    assert [r.status for r in fake.calls("getMe")] == [200, 401]


async def test_start_is_delivered_with_its_entity_and_the_reply_is_recorded(
    fake: FakeTelegram, bot: Bot
) -> None:
    seen: list[Message] = []
    async with run_polling(fake, build_dispatcher(seen), bot):
        sent = await fake.send_text(USER, "/start", first_name="Пётр", username="petr")
        [reply] = await fake.wait_for_messages(USER, 1, since=sent.message_id)

    [start] = seen
    assert start.text == "/start"
    assert start.from_user is not None
    assert (start.from_user.id, start.from_user.first_name) == (USER, "Пётр")
    assert [(e.type, e.offset, e.length) for e in start.entities or []] == [("bot_command", 0, 6)]
    assert reply.chat_id == USER
    assert reply.text == "Привет! Я бот."
    assert reply.reply_to_message is not None
    assert reply.reply_to_message["message_id"] == sent.message_id
    [request] = fake.calls("sendMessage")
    assert request.params["chat_id"] == USER
    assert request.params["reply_parameters"]["message_id"] == sent.message_id
    # aiogram's polling starts with getMe, then long-polls; it never calls deleteWebhook.
    assert fake.methods()[:2] == ["getMe", "getUpdates"]
    assert "deleteWebhook" not in fake.methods()
    assert sorted(fake.allowed_updates or []) == ["callback_query", "message"]


async def test_offsets_confirm_updates_and_none_is_delivered_twice(
    fake: FakeTelegram, bot: Bot
) -> None:
    seen: list[Message] = []
    async with run_polling(fake, build_dispatcher(seen), bot):
        first = [await fake.send_text(USER, f"раз {n}") for n in range(3)]
        await fake.wait_for_messages(USER, 3, since=first[0].message_id)
        second = [await fake.send_text(USER, f"два {n}") for n in range(2)]
        await fake.wait_for_messages(USER, 2, since=second[-1].message_id)
        last_id = second[-1].update_id
        # The next poll carries offset = last update_id + 1: that is the confirmation.
        await fake.wait_for_request(
            "getUpdates", lambda r: r.params.get("offset") == last_id + 1, completed=False
        )

    update_ids = [event.update_id for event in first + second]
    assert dict(fake.delivery_counts) == dict.fromkeys(update_ids, 1)
    assert fake.confirmed_update_ids == update_ids
    assert fake.pending_updates == []
    assert sorted(m.text or "" for m in seen) == sorted(
        [f"раз {n}" for n in range(3)] + [f"два {n}" for n in range(2)]
    )
    echoed = [m.text for m in fake.sent_messages(USER)]
    assert sorted(echoed) == sorted(m.text or "" for m in seen)


async def test_aiogram_long_poll_blocks_until_its_timeout_when_idle(
    fake: FakeTelegram, bot: Bot
) -> None:
    async with run_polling(fake, build_dispatcher([]), bot, polling_timeout=1):
        idle = await fake.wait_for_request(
            "getUpdates", lambda r: r.response is not None and r.response["result"] == []
        )
        sent = await fake.send_text(USER, "проснись")
        await fake.wait_for_messages(USER, 1, since=sent.message_id)

    assert idle.completed_ts is not None
    # A lower bound only: an immediate [] would make aiogram spin.
    assert idle.completed_ts - idle.ts >= 0.9
    assert idle.params["timeout"] == 1


async def test_media_download_returns_the_exact_bytes(fake: FakeTelegram, bot: Bot) -> None:
    # Bigger than aiogram's 64 KiB download chunk, so streaming is exercised.
    payloads = [os.urandom(150_000 + n) for n in range(4)]
    async with run_polling(fake, build_dispatcher([]), bot):
        events = [
            await fake.send_voice(USER, payloads[0], duration=5),
            await fake.send_audio(USER, payloads[1], duration=61),
            await fake.send_video_note(USER, payloads[2], duration=7),
            await fake.send_document(USER, payloads[3], file_name="запись.ogg"),
        ]
        replies = [
            (await fake.wait_for_messages(USER, 1, since=event.message_id))[0] for event in events
        ]

    expected = {f"{len(p)} {hashlib.sha256(p).hexdigest()}" for p in payloads}
    assert {m.text for m in fake.sent_messages(USER)} == expected
    assert len(replies) == 4
    paths = [r.params["file_path"] for r in fake.calls(DOWNLOAD)]
    assert sorted(path.split("/")[0] for path in paths) == [
        "documents",
        "music",
        "video_notes",
        "voice",
    ]
    assert any(path.startswith("voice/file_") and path.endswith(".oga") for path in paths)
    voice_update = events[0].update["message"]["voice"]
    assert voice_update["mime_type"] == "audio/ogg"
    assert voice_update["file_size"] == len(payloads[0])


async def test_file_over_20_mb_is_too_big(fake: FakeTelegram, bot: Bot) -> None:
    async with run_polling(fake, build_dispatcher([]), bot):
        sent = await fake.send_voice(
            USER, b"OggS", duration=5400, declared_size=MAX_DOWNLOAD_SIZE + 1
        )
        [reply] = await fake.wait_for_messages(USER, 1, since=sent.message_id)

    assert reply.text == "Ошибка: Bad Request: file is too big"
    assert fake.calls(DOWNLOAD) == []
    at_limit = fake.add_file(b"x", declared_size=MAX_DOWNLOAD_SIZE)
    file = await bot.get_file(at_limit.file_id)
    assert file.file_size == MAX_DOWNLOAD_SIZE
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("NOPE")


async def test_edit_message_text_and_not_modified_and_callback_answers(
    fake: FakeTelegram, bot: Bot
) -> None:
    async with run_polling(fake, build_dispatcher([]), bot):
        sent = await fake.send_text(USER, "/pages")
        [page] = await fake.wait_for_messages(USER, 1, since=sent.message_id)
        assert page.buttons == [("Дальше", "page:2")]

        first = await fake.press_button(USER, page, "page:2")
        await fake.wait_for(lambda: first.callback_query_id in fake.callback_answers)
        assert page.text == "Страница 2"
        assert page.buttons == [("Дальше", "page:3")]

        # The old button is gone after the edit; a real user cannot press it any more.
        with pytest.raises(LookupError, match="page:3"):
            await fake.press_button(USER, page, "page:2")
        again = await fake.press_button(USER, page, "page:2", strict=False)
        await fake.wait_for(lambda: again.callback_query_id in fake.callback_answers)

    assert [v.text for v in page.history] == ["Страница 1"]
    assert page.edit_date is not None
    assert fake.callback_answers[first.callback_query_id or ""].get("text") is None
    assert fake.callback_answers[again.callback_query_id or ""]["text"] == "Уже здесь"
    edits = fake.calls("editMessageText")
    assert [r.status for r in edits] == [200, 400]
    assert edits[1].response is not None
    assert edits[1].response["description"] == (
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message"
    )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=USER, message_id=999)


async def test_answer_callback_query_twice_is_rejected(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    message = await bot.send_message(USER, "Выбор", reply_markup=pages_keyboard(0))
    pressed = await fake.press_button(USER, message.message_id, button_text="Дальше")
    assert pressed.update["callback_query"]["data"] == "page:1"
    assert pressed.callback_query_id is not None
    assert await bot.answer_callback_query(pressed.callback_query_id, text="Готово")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(pressed.callback_query_id)
    assert fake.callback_answers[pressed.callback_query_id]["text"] == "Готово"


async def test_429_reaches_aiogram_as_retry_after_and_is_not_retried(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_user(USER)
    fake.flood_next("sendMessage", retry_after=1)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "раз")
    assert caught.value.retry_after == 1
    # aiogram made exactly one request: it does not retry TelegramRetryAfter by itself.
    assert len(fake.calls("sendMessage")) == 1
    assert fake.sent_messages(USER) == []

    # retry_after=0 is falsy for aiogram: a 429 then surfaces as a plain TelegramAPIError.
    fake.flood_next("sendMessage", retry_after=0)
    with pytest.raises(TelegramAPIError) as plain:
        await bot.send_message(USER, "два")
    assert not isinstance(plain.value, TelegramRetryAfter)

    await bot.send_message(USER, "три")
    assert [m.text for m in fake.sent_messages(USER)] == ["три"]


async def test_polling_survives_a_429_on_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.flood_next("getUpdates", retry_after=1)
    async with run_polling(fake, build_dispatcher([]), bot, backoff_config=FAST_BACKOFF):
        sent = await fake.send_text(USER, "ещё раз")
        await fake.wait_for_messages(USER, 1, since=sent.message_id)
    statuses = [r.status for r in fake.calls("getUpdates")]
    assert statuses[0] == 429
    assert 200 in statuses[1:]


async def test_other_injected_errors_and_latency(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(USER, "эй")

    fake.set_latency(0.3, "sendMessage")
    started = time.monotonic()
    await bot.send_message(USER, "медленно")
    assert time.monotonic() - started >= 0.3
    fake.set_latency(0, "sendMessage")


async def test_message_length_limit_counts_text_after_entity_parsing(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_user(USER)
    await bot.send_message(USER, "я" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "я" * 4097)
    # Tags and entities do not count: 4103 characters of HTML, 4096 of text.
    bold = await bot.send_message(USER, "<b>" + "я" * 4096 + "</b>", parse_mode="HTML")
    assert bold.entities is not None
    assert len(bold.text or "") == 4096
    await bot.send_message(USER, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "&lt;" * 4097, parse_mode="HTML")
    # Counted in UTF-16 code units (an emoji is 2), the stricter reading.
    await bot.send_message(USER, "😀" * 2048)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "😀" * 2049)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>жирный", 'Can\'t find end tag corresponding to start tag "b"'),
        ("строка<br>", 'Unsupported start tag "br" at byte offset 12'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<a href="https://e.x>y', "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        (
            "<b x>y</b>",
            'Expected equal sign in declaration of an attribute of the tag "b" at byte offset 4',
        ),
    ],
)
async def test_malformed_html_is_rejected_like_telegram(
    fake: FakeTelegram, bot: Bot, html: str, error: str
) -> None:
    fake.add_user(USER)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(USER, html, parse_mode="HTML")
    assert caught.value.message == f"Bad Request: can't parse entities: {error}"
    assert fake.sent_messages() == []


def test_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html(
        '<b>Дом</b> 😀 <a href="https://e.x/?a=1&amp;b=2">ссылка</a> &lt;5&gt; &nbsp;'
        '<pre><code class="language-python">x = 1</code></pre><code class="c">y</code>'
    )
    assert text == "Дом 😀 ссылка <5> &nbsp;x = 1y"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 7, "length": 6, "url": "https://e.x/?a=1&b=2"},
        {"type": "pre", "offset": 24, "length": 5, "language": "python"},
        {"type": "code", "offset": 29, "length": 1},
    ]


def test_markdown_v2_requires_escaping_reserved_characters() -> None:
    with pytest.raises(EntityParseError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("ул. Ленина, д. 5-а")
    text, entities = parse_markdown_v2(r"*Дом* ул\. Ленина, д\. 5\-а [карта](https://e.x) __u__")
    assert text == "Дом ул. Ленина, д. 5-а карта u"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "text_link", "offset": 23, "length": 5, "url": "https://e.x"},
        {"type": "underline", "offset": 29, "length": 1},
    ]
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity at byte offset 0"):
        parse_markdown_v2("*жирный")
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting"):
        parse_markdown("*жирный")
    assert parse_markdown("*a* _b_ `c`") == (
        "a b c",
        [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "italic", "offset": 2, "length": 1},
            {"type": "code", "offset": 4, "length": 1},
        ],
    )


async def test_markdown_v2_error_reaches_aiogram(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Character '-'"):
        await bot.send_message(USER, "дом 5-а", parse_mode="MarkdownV2")


async def test_callback_data_over_64_bytes_is_button_data_invalid(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.add_user(USER)

    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Кнопка", callback_data=data)]]
        )

    # Cyrillic is 2 bytes in UTF-8: 32 letters are 64 bytes, 33 are 66.
    await bot.send_message(USER, "ok", reply_markup=keyboard("д" * 32))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "too long", reply_markup=keyboard("д" * 33))
    assert [m.text for m in fake.sent_messages(USER)] == ["ok"]


async def test_unknown_method_and_path_fail_loudly(fake: FakeTelegram, bot: Bot) -> None:
    status, body = await raw_call(fake, "definitelyNotAMethod")
    assert status == 404
    assert body["ok"] is False
    assert body["error_code"] == 404
    assert "definitelyNotAMethod" in body["description"]
    with pytest.raises(TelegramNotFound):
        await bot.get_chat(USER)
    async with aiohttp.ClientSession() as session, session.get(f"{fake.base_url}/nope") as resp:
        assert resp.status == 404
    assert fake.calls("getChat")[0].status == 404


async def test_send_to_unknown_chat_is_chat_not_found(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "кто здесь?")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        fake.add_user(USER)
        await bot.send_message(USER, "ответ", reply_parameters=ReplyParameters(message_id=77))


async def test_group_command_with_mention(fake: FakeTelegram, bot: Bot) -> None:
    seen: list[Message] = []
    async with run_polling(fake, build_dispatcher(seen), bot):
        sent = await fake.send_text(USER, "/start@audiobot_test_bot", chat_id=-100500)
        [reply] = await fake.wait_for_messages(-100500, 1, since=sent.message_id)
    assert reply.chat == {"id": -100500, "type": "group", "title": "Тестовая группа"}
    assert seen[0].chat.type == "group"
    assert [(e.type, e.length) for e in seen[0].entities or []] == [("bot_command", 24)]


async def test_commands_chat_action_and_delete(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    commands = [BotCommand(command="start", description="Начать")]
    assert await bot.set_my_commands(commands, language_code="ru")
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["start"]
    assert await bot.get_my_commands() == []
    assert fake.commands(language_code="ru") == [{"command": "start", "description": "Начать"}]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="бригада", description="Бригада")])

    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")

    message = await bot.send_message(USER, "удалить меня")
    assert await bot.delete_message(USER, message.message_id)
    assert fake.message(USER, message.message_id).deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, message.message_id)


async def test_webhook_blocks_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    await fake.send_text(USER, "до вебхука")
    with pytest.raises(TelegramBadRequest, match="HTTPS URL"):
        await bot.set_webhook("http://example.org/hook")
    assert await bot.set_webhook("https://example.org/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("https://example.org/hook", 1)
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []
    assert fake.webhook_url == ""


async def test_disallowed_update_types_are_dropped(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    message = await bot.send_message(USER, "кнопка", reply_markup=pages_keyboard(0))
    router = Router()

    @router.message()
    async def only_messages(message: Message) -> None:
        await message.answer("ok")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    async with run_polling(fake, dispatcher, bot):
        await fake.press_button(USER, message.message_id, "page:1")
        await fake.wait_for(lambda: fake.dropped_updates)
    assert fake.allowed_updates == ["message"]
    assert "callback_query" in fake.dropped_updates[0]
    assert fake.callback_answers == {}


# ------------------------------------------------------------------ raw HTTP semantics


async def test_get_updates_offset_and_limit_semantics(fake: FakeTelegram) -> None:
    for n in range(3):
        await fake.send_text(USER, f"сообщение {n}")

    def ids(body: dict[str, Any]) -> list[int]:
        return [update["update_id"] for update in body["result"]]

    _, body = await raw_call(fake, "getUpdates", form={"timeout": "0"})
    assert ids(body) == [1, 2, 3]
    _, body = await raw_call(fake, "getUpdates", form={"limit": "2"})
    assert ids(body) == [1, 2]
    # offset=2 confirms update 1: it is gone for good.
    _, body = await raw_call(fake, "getUpdates", form={"offset": "2"})
    assert ids(body) == [2, 3]
    _, body = await raw_call(fake, "getUpdates")
    assert ids(body) == [2, 3]
    # A negative offset keeps only the last -offset updates.
    _, body = await raw_call(fake, "getUpdates", json_body={"offset": -1})
    assert ids(body) == [3]
    assert fake.confirmed_update_ids == [1, 2]


async def test_params_are_decoded_from_every_encoding(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_user(USER)
    await bot.send_message(
        USER,
        "42",
        disable_notification=True,
        reply_markup=pages_keyboard(0),
    )
    [form] = fake.calls("sendMessage")
    assert form.http_method == "POST"
    assert form.params["chat_id"] == USER
    assert form.params["text"] == "42"  # free text stays a string
    assert form.params["disable_notification"] is True
    assert form.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Дальше", "callback_data": "page:1"}]]
    }

    status, _ = await raw_call(
        fake, "sendMessage", http_method="GET", query={"chat_id": str(USER), "text": "true"}
    )
    assert status == 200
    status, _ = await raw_call(
        fake, "sendMessage", json_body={"chat_id": USER, "text": "json", "reply_markup": None}
    )
    assert status == 200
    multipart = aiohttp.FormData()
    multipart.add_field("chat_id", str(USER))
    multipart.add_field("text", "multipart")
    multipart.add_field("extra", b"\x00\x01", filename="blob.bin")
    status, _ = await raw_call(fake, "sendMessage", form=multipart)
    assert status == 200

    query_call, json_call, multipart_call = fake.calls("sendMessage")[1:]
    assert query_call.http_method == "GET"
    assert query_call.params == {"chat_id": USER, "text": "true"}
    assert json_call.params["chat_id"] == USER
    assert multipart_call.params["extra"] == UploadedFile(
        "blob.bin", "application/octet-stream", b"\x00\x01"
    )
    assert [m.text for m in fake.sent_messages(USER)] == ["42", "true", "json", "multipart"]


async def test_long_poll_blocks_then_wakes_when_an_update_arrives(fake: FakeTelegram) -> None:
    started = time.monotonic()
    _, body = await raw_call(fake, "getUpdates", form={"timeout": "1"})
    assert body["result"] == []
    assert time.monotonic() - started >= 0.9

    before = len(fake.requests) - 1
    poll = asyncio.create_task(raw_call(fake, "getUpdates", form={"timeout": "30"}))
    pending = await fake.wait_for_request("getUpdates", completed=False, after=before)
    # Parked in the long poll before the update exists, so only a wake-up can answer it.
    await fake.wait_for(lambda: fake.parked_polls == 1)
    assert not pending.completed
    event = await fake.send_text(USER, "разбуди")
    async with asyncio.timeout(5):  # far below the 30 s poll: only a wake-up answers in time
        status, body = await poll
    assert status == 200
    assert [u["update_id"] for u in body["result"]] == [event.update_id]
    # No spinning: exactly the two polls above were made.
    assert len(fake.calls("getUpdates")) == 2


async def test_a_newer_get_updates_terminates_the_older_one(fake: FakeTelegram) -> None:
    first = asyncio.create_task(raw_call(fake, "getUpdates", form={"timeout": "30"}))
    await fake.wait_for(lambda: fake.parked_polls == 1)
    second = asyncio.create_task(raw_call(fake, "getUpdates", form={"timeout": "30"}))
    async with asyncio.timeout(5):
        status, body = await first
    await fake.wait_for(lambda: fake.parked_polls == 1)
    assert status == 409
    assert "terminated by other getUpdates request" in body["description"]
    await fake.send_text(USER, "привет")
    async with asyncio.timeout(5):
        status, body = await second
    assert status == 200
    assert len(body["result"]) == 1


async def test_held_updates_are_released_by_the_test() -> None:
    async with FakeTelegram(token=TOKEN, hold_updates=True) as fake:
        await fake.send_text(USER, "один")
        await fake.send_text(USER, "два")
        _, body = await raw_call(fake, "getUpdates")
        assert body["result"] == []
        assert await fake.release_updates(1) == 1
        _, body = await raw_call(fake, "getUpdates")
        assert [u["message"]["text"] for u in body["result"]] == ["один"]
        assert await fake.release_updates() == 1
        _, body = await raw_call(fake, "getUpdates")
        assert [u["message"]["text"] for u in body["result"]] == ["один", "два"]


async def test_stop_releases_pending_long_polls_and_latency_at_once() -> None:
    fake = FakeTelegram(token=TOKEN)
    await fake.start()
    fake.set_latency(30, "getMe")
    poll = asyncio.create_task(raw_call(fake, "getUpdates", form={"timeout": "30"}))
    slow = asyncio.create_task(raw_call(fake, "getMe"))
    await fake.wait_for(lambda: len(fake.requests) == 2 and fake.parked_polls == 1)
    # Below the runner's 5 s shutdown grace: only an immediate release passes.
    async with asyncio.timeout(3):
        await fake.stop()
        (poll_status, poll_body), (me_status, _) = await asyncio.gather(poll, slow)
    assert (poll_status, poll_body["result"]) == (200, [])
    assert me_status == 200


async def test_wait_timeout_is_an_assertion_listing_what_was_received(
    fake: FakeTelegram, bot: Bot
) -> None:
    await bot.get_me()
    with pytest.raises(AssertionError) as caught:
        await fake.wait_for_messages(USER, 1, timeout=0.2)
    report = str(caught.value)
    assert "1 bot message(s) in chat 111" in report
    assert "getMe" in report
    assert TOKEN not in repr(fake)
