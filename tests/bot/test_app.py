"""`audiobot run` as a whole: bad configuration, polling, webhook mode, the API, shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from bitrix.portal import EmulatedPortal
from bot.config import Settings
from handlers import texts
from handlers.app import MISSING_TOKEN, run_bot, serve
from tests.bot.harness import USER, free_port, make_settings
from tests.fakes.telegram import FakeTelegram

WEBHOOK_SECRET = "webhook-secret_0123456789"


def test_missing_token_is_a_clear_message_and_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_bot(Settings(_env_file=None)) == 2
    assert MISSING_TOKEN in capsys.readouterr().err


def test_a_malformed_token_is_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_bot(Settings(_env_file=None, telegram_bot_token="not a token")) == 2
    err = capsys.readouterr().err
    assert "does not look like a bot token" in err
    assert "not a token" not in err


async def test_polling_serves_the_api_and_stops_on_sigterm(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path
) -> None:
    api_port = free_port()
    settings = make_settings(portal.webhook_url, fake, tmp_path, api_port=api_port)
    task = asyncio.create_task(serve(settings))
    try:
        await fake.wait_for(lambda: fake.parked_polls > 0 or None, 30.0, description="polling")
        methods = fake.methods()
        # getUpdates does not work while a webhook is set: it is removed first, keeping updates.
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        [delete] = fake.calls("deleteWebhook")
        assert delete.params.get("drop_pending_updates") in (None, False)
        sent = await fake.send_text(USER, "/start")
        [reply] = await fake.wait_for_messages(USER, 1, 20.0, since=sent.message_id)
        assert reply.text.startswith(texts.START)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{api_port}/api/health") as response,
        ):
            assert response.status == 200
            health = await response.json()
        # No Russian model here: speech is reported unavailable, the bot still answers text.
        assert health["speech"]["available"] is False
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(30.0):
            assert await task == 0
    finally:
        if not task.done():
            task.cancel()
    # Stopped for real: the API port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", api_port))


async def test_webhook_mode(fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(
        portal.webhook_url,
        fake,
        tmp_path,
        telegram_webhook_url="https://bot.example.com/tg/hook",
        telegram_webhook_secret=WEBHOOK_SECRET,
        telegram_webhook_listen_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, handle_signals=False))
    try:
        [registered] = [await fake.wait_for_request("setWebhook", timeout=30.0)]
        assert registered.params["url"] == "https://bot.example.com/tg/hook"
        assert registered.params["secret_token"] == WEBHOOK_SECRET
        assert set(registered.params["allowed_updates"]) == {"message", "callback_query"}
        update = {
            "update_id": 77,
            "message": {
                "message_id": 5,
                "date": 1_760_000_000,
                "chat": {"id": USER, "type": "private", "first_name": "Иван"},
                "from": {"id": USER, "is_bot": False, "first_name": "Иван"},
                "text": "дома бригады 6",
            },
        }
        fake.add_user(USER)
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with http.post(url, json=update, headers=wrong) as response:
                assert response.status == 401
            right = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            async with http.post(url, json=update, headers=right) as response:
                assert response.status == 200
        messages = await fake.wait_for_messages(USER, 2, 20.0)
        late, answer = messages
        # The update is dated long ago: a "late answer" note first, quoting the message.
        assert late.text.startswith("Отвечаю на сообщение от")
        assert answer.text.startswith("Бригада 6:")
        assert fake.calls("getUpdates") == []
        stop.set()
        async with asyncio.timeout(30.0):
            assert await task == 0
    finally:
        if not task.done():
            task.cancel()


async def test_a_rejected_token_stops_with_exit_code_2(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path
) -> None:
    settings = make_settings(
        portal.webhook_url, fake, tmp_path, telegram_bot_token="4242424242:wrong-secret-xyz"
    )
    async with asyncio.timeout(30.0):
        assert await serve(settings, handle_signals=False) == 2


async def test_a_busy_api_port_fails_fast(
    fake: FakeTelegram, portal: EmulatedPortal, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        settings = make_settings(portal.webhook_url, fake, tmp_path, api_port=port)
        async with asyncio.timeout(30.0):
            assert await serve(settings, handle_signals=False) == 1


@pytest.mark.parametrize("blank", ["", "   "])
async def test_a_blank_webhook_secret_never_disables_authentication(
    fake: FakeTelegram,
    portal: EmulatedPortal,
    tmp_path: Path,
    blank: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    settings = make_settings(
        portal.webhook_url,
        fake,
        tmp_path,
        telegram_webhook_url="https://bot.example.com/tg/hook",
        telegram_webhook_secret=blank,
        telegram_webhook_listen_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, handle_signals=False))
    try:
        registered = await fake.wait_for_request("setWebhook", timeout=30.0)
        secret = registered.params.get("secret_token")
        update = {
            "update_id": 78,
            "message": {
                "message_id": 6,
                "date": int(time.time()),
                "chat": {"id": USER, "type": "private", "first_name": "Иван"},
                "from": {"id": USER, "is_bot": False, "first_name": "Иван"},
                "text": "дома бригады 6",
            },
        }
        fake.add_user(USER)
        url = f"http://127.0.0.1:{port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as response:
                assert response.status == 401
            blank_header = {"X-Telegram-Bot-Api-Secret-Token": blank}
            async with http.post(url, json=update, headers=blank_header) as response:
                assert response.status == 401
            # A random secret in Telegram's alphabet (1-256 of A-Z a-z 0-9 _ -) was registered.
            assert isinstance(secret, str)
            assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret), secret
            assert "TELEGRAM_WEBHOOK_SECRET is blank" in caplog.text
            right = {"X-Telegram-Bot-Api-Secret-Token": secret}
            async with http.post(url, json=update, headers=right) as response:
                assert response.status == 200
        [answer] = await fake.wait_for_messages(USER, 1, 20.0)
        assert answer.text.startswith("Бригада 6:")
        stop.set()
        async with asyncio.timeout(30.0):
            assert await task == 0
    finally:
        if not task.done():
            task.cancel()
