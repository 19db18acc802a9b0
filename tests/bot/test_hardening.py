"""Issue 13, findings 5 and 6 on the bot's side: the webhook listener, SIGHUP, button floods,
control and bidi-override characters, and invalid URLs and ports at start.

The bot runs against the fake Bot API and an emulated portal on loopback (`tests.bot.harness`);
the day is pinned by ``DEMO_DATE``; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType

import aiohttp
import pytest

from bitrix.portal import EmulatedPortal, PortalStore
from bot.config import load_settings
from bot.safe_text import printable
from handlers import texts
from handlers.app import serve
from tests.bot.harness import (
    USER,
    ScriptedRecognizer,
    free_port,
    make_settings,
    running_bot,
)
from tests.fakes.telegram import FakeTelegram

SECRET = "webhook-secret_0123456789"
UNSAFE = "\u202e\u202d\u2066\u2069\u200f\u200b\ufeff\x07\x1b"
BIDI = UNSAFE + "[31m"  # with a terminal colour sequence's tail


def _update(text: str) -> dict[str, object]:
    return {
        "update_id": 91,
        "message": {
            "message_id": 9,
            "date": int(time.time()),
            "chat": {"id": USER, "type": "private", "first_name": "Иван"},
            "from": {"id": USER, "is_bot": False, "first_name": "Иван"},
            "text": text,
        },
    }


async def test_the_webhook_listener_refuses_bad_input_with_json(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    settings = make_settings(
        portal.webhook_url,
        fake,
        tmp_path,
        telegram_webhook_url="https://bot.example.com/tg/s3cret-path-4242",
        telegram_webhook_secret=SECRET,
        telegram_webhook_listen_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, handle_signals=False))
    try:
        await fake.wait_for_request("setWebhook", timeout=30.0)
        fake.add_user(USER)
        url = f"http://127.0.0.1:{port}/tg/s3cret-path-4242"
        async with aiohttp.ClientSession() as http:
            # A secret header with bytes that are not ASCII: 401, not a 500.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /tg/s3cret-path-4242 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"X-Telegram-Bot-Api-Secret-Token: \xd0\xbf\xd0\xb0\xff\xfe\r\n"
                b"Connection: close\r\n\r\n{}"
            )
            async with asyncio.timeout(10):
                raw = await reader.read(-1)
            writer.close()
            assert raw.startswith(b"HTTP/1.1 401"), raw[:100]
            right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for body in (b"{not json", b"[1, 2]", b'{"no": "update_id"}', b"\xff\xfe"):
                async with http.post(url, data=body, headers=right) as response:
                    assert response.status == 400, body
                    assert (await response.json())["error"] == "bad_request"
                    assert response.headers["Server"] == "AudioBot"
            async with http.get(url, headers=right) as response:
                assert response.status == 405
                assert response.content_type == "application/json"
            async with http.post(f"http://127.0.0.1:{port}/elsewhere", json={}) as response:
                assert response.status == 404
                assert response.content_type == "application/json"
                assert "aiohttp" not in response.headers.get("Server", "")
            async with http.post(url, json=_update("дома бригады 6"), headers=right) as response:
                assert response.status == 200
        [answer] = await fake.wait_for_messages(USER, 1, 20.0)
        assert answer.text.startswith("Бригада 6:")
        stop.set()
        async with asyncio.timeout(30.0):
            assert await task == 0
    finally:
        if not task.done():
            task.cancel()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "s3cret-path-4242" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_sighup_is_logged_and_ignored(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fallback: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        fallback.append(signum)  # reached only when the bot installed no handler of its own

    previous = signal.signal(signal.SIGHUP, record)
    settings = make_settings(portal.webhook_url, fake, tmp_path)
    task = asyncio.create_task(serve(settings))
    try:
        await fake.wait_for(lambda: fake.parked_polls > 0 or None, 30.0, description="polling")
        os.kill(os.getpid(), signal.SIGHUP)
        sent = await fake.send_text(USER, "/start")
        [reply] = await fake.wait_for_messages(USER, 1, 20.0, since=sent.message_id)
        assert reply.text.startswith(texts.START)  # still running, still answering
        assert fallback == []
        assert any("SIGHUP ignored" in r.getMessage() for r in caplog.records)
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(30.0):
            assert await task == 0
    finally:
        if not task.done():
            task.cancel()
        signal.signal(signal.SIGHUP, previous)


async def test_a_page_button_flood_counts_toward_flood_control(
    store: PortalStore, tmp_path: Path
) -> None:
    async with running_bot(store, tmp_path, flood_rate=0.01, flood_burst=1) as bot:
        [page] = await bot.say(USER, "дома бригады 3")
        [(_, forward)] = [b for b in page.buttons if b[0] == texts.NEXT]
        presses = [
            await bot.fake.press_button(USER, page, forward, strict=False) for _ in range(12)
        ]
        ids = {p.callback_query_id for p in presses}

        def settled() -> bool | None:
            answers = [bot.fake.callback_answers[i] for i in ids if i in bot.fake.callback_answers]
            flood = [a for a in answers if a.get("text") == texts.FLOOD]
            # The 4 presses the button bucket allows are answered, and one flood notice.
            return (len(flood) == 1 and len(answers) == 5) or None

        await bot.fake.wait_for(settled, description="4 answered presses and one flood notice")
        assert len(bot.fake.calls("editMessageText")) <= 4


async def test_control_and_bidi_characters_never_come_back(
    store: PortalStore, tmp_path: Path, russian_ogg: bytes
) -> None:
    heard = f"дома на улице {BIDI}Несуществующая"
    recognizer = ScriptedRecognizer(heard)
    async with running_bot(store, tmp_path, recognizer=recognizer) as bot:
        event = await bot.fake.send_voice(USER, russian_ogg, duration=2)
        echo, answer = await bot.answers(event, 2)
        assert echo.text.startswith("🎙 Распознал: «дома на улице ")
        typed = await bot.fake.send_text(USER, f"телефон {BIDI}Петрова{BIDI}")
        [reply] = await bot.answers(typed)
        for message in (echo, answer, reply):
            assert message.text == printable(message.text), repr(message.text)
            assert not any(c in message.text for c in UNSAFE), repr(message.text)


def test_printable_strips_controls_and_bidi_but_keeps_text() -> None:
    assert printable("Пролетарская\u202e 112/1\x00") == "Пролетарская 112/1"
    assert printable("строка\nвторая\tтаб") == "строка\nвторая\tтаб"
    assert printable("a\u2028b") == "a\nb"
    assert printable("🎙 Распознал: «дом»") == "🎙 Распознал: «дом»"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BITRIX_WEBHOOK_URL", "https://portal.bitrix24.ru:99999/rest/1/abc/", "invalid port"),
        ("BITRIX_WEBHOOK_URL", "portal.bitrix24.ru/rest/1/abc/", "must start with"),
        ("TELEGRAM_WEBHOOK_URL", "http://bot.example.com/hook", "https://"),
        ("TELEGRAM_API_SERVER", "http://:8081", "no host"),
        ("API_PORT", "99999", "65535"),
        ("TELEGRAM_WEBHOOK_LISTEN_PORT", "-1", "0"),
    ],
)
def test_invalid_urls_and_ports_are_refused_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as caught:
        load_settings()
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and says in err
    assert "abc" not in err  # the webhook's secret code is never echoed
