"""The whole bot on loopback: real aiogram polling against `FakeTelegram`, the real brain
against an `EmulatedPortal` serving the demo company, speech through a real ffmpeg decode.

`running_bot(...)` starts everything for one test and stops it cleanly; `BotUnderTest` plays the
users and reads what the bot said.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import copy
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.utils.backoff import BackoffConfig

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.clock import Clock
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions, PortalStore
from bot.brain import Assistant
from bot.config import Settings
from bot.digest import Sleep
from bot.runtime import Runtime, mapping_options, snapshot_path
from bot.speech.audio import find_ffmpeg
from bot.speech.recognizer import (
    Grammar,
    ModelInfo,
    Recognition,
    RecognitionPass,
    Recognizer,
    SecondPass,
    Word,
)
from bot.speech.service import SpeechService
from handlers.app import create_bot, create_dispatcher
from tests.fakes.telegram import BotMessage, FakeTelegram, UserEvent, run_polling

#: The day every bot test runs on (``DEMO_DATE``): the demo and the product clock use it.
TODAY = date(2026, 11, 25)
TOKEN = "4242424242:AAF-test-token-for-the-fake-server-x1"
"""Shaped like a real token (so the log scrubber's pattern applies); only the fake knows it."""
ADMIN = 1001
USER = 2001
OTHER_USER = 2002
STRANGER = 3001
GROUP = -1001234567890
"""A team supergroup on ``ALLOWED_CHAT_IDS`` in every test's settings."""
FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.3, jitter=0.0)

SPECIAL_TITLE = "Кривая <Б> & Ко_1 7"
"""A house added to the demo company whose address has every HTML/Markdown special we fear."""
SPECIAL_ADDRESS = "г. Калуга, ул. Кривая <Б> & Ко_1, д. 7"


def add_special_house(store: PortalStore) -> int:
    """Copy a brigade-3 house of the demo store as `SPECIAL_TITLE`; returns the new deal id."""
    service = next(
        u
        for u in store.users.values()
        if u.get("NAME") == "3" and str(u.get("LAST_NAME", "")).lower() == "бригада"
    )
    source = next(
        d
        for d in store.deals.values()
        if d["ASSIGNED_BY_ID"] == service["ID"] and d["STAGE_SEMANTIC_ID"] == "P"
    )
    deal = copy.deepcopy(source)
    deal_id = max(store.deals) + 1
    deal["ID"] = str(deal_id)
    deal["TITLE"] = SPECIAL_TITLE
    for key, value in source.items():
        if key.startswith("UF_CRM_") and isinstance(value, str) and value.startswith("г. "):
            deal[key] = SPECIAL_ADDRESS
    store.deals[deal_id] = deal
    return deal_id


class ScriptedRecognizer:
    """A deterministic stand-in behind the `Recognizer` protocol.

    It says ``text`` for any audio with sound in it and nothing for silence (peak amplitude
    under ``silence_peak``), so the real ffmpeg decode in front of it decides what it hears.
    """

    def __init__(self, text: str, *, silence_peak: int = 200) -> None:
        self.text = text
        self.silence_peak = silence_peak
        self.heard: list[int] = []

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("scripted", Path("scripted"), 0.0, 16000, True)

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        kept = tuple(phrases)
        return Grammar(kept, frozenset(w for p in kept for w in p.split()), (), with_unk=True)

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        self.heard.append(len(pcm))
        samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
        loud = bool(samples) and max(abs(s) for s in samples) >= self.silence_peak
        text = self.text if loud else ""
        words = tuple(Word(w, 0.0, 0.1, 1.0) for w in text.split())
        return Recognition(passes=(RecognitionPass("open", text, words, 0.0),))

    def close(self) -> None:
        pass


class GatedRecognizer(ScriptedRecognizer):
    """A `ScriptedRecognizer` that holds every note until the test opens ``gate``.

    Stands in for a long voice note being recognised: ``started`` is set once a note is being
    recognised, so a test can act while it is.
    """

    def __init__(self, text: str, *, timeout: float = 30.0) -> None:
        super().__init__(text)
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.timeout = timeout

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        self.started.set()
        # Bounded: a test that forgets to open the gate fails instead of hanging.
        async with asyncio.timeout(self.timeout):
            await self.gate.wait()
        return await super().recognize(pcm, second_pass=second_pass)


def speech_service(recognizer: Recognizer, max_voice_seconds: int = 120) -> SpeechService:
    """A speech service over ``recognizer`` with the real ffmpeg."""
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None, "ffmpeg is required (make sysdeps)"
    return SpeechService(recognizer, ffmpeg=ffmpeg, max_voice_seconds=max_voice_seconds)


def make_settings(
    webhook_url: str, fake: FakeTelegram, cache_dir: Path, **overrides: Any
) -> Settings:
    """Settings for a test: the fake Bot API, this portal, the test users, no HTTP API."""
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_server": fake.base_url,
        "bitrix_webhook_url": webhook_url,
        "admin_ids": str(ADMIN),
        "allowed_user_ids": f"{USER},{OTHER_USER}",
        "allowed_chat_ids": str(GROUP),
        "cache_dir": cache_dir,
        "api_port": 0,
        "vosk_model_path": cache_dir / "no-model",
        "demo_date": TODAY,
        "state_url": f"sqlite:///{cache_dir / 'state.db'}",
        # No morning digest unless a test asks for it (it would run at startup after 07:30).
        "digest_days": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def runtime_without_retries(settings: Settings) -> Runtime:
    """The runtime `Runtime.create` builds, but with a Bitrix24 client that never retries.

    For outage tests: the production client retries a refused connection five times with
    backoff (~10 s), which says nothing about the bot and would only slow the test down.
    """
    assert settings.bitrix_webhook_url is not None
    webhook = settings.bitrix_webhook_url.get_secret_value()
    client = BitrixClient(webhook, timeout=5.0, max_retries=0)
    probe_client = BitrixClient(webhook, timeout=5.0, max_retries=0, limiter=client.limiter)
    options = mapping_options(settings)
    clock = settings.clock()
    loader = CompanyLoader(client, tz=settings.tz, options=options, clock=clock)
    cache = CompanyCache(
        loader.fetch,
        tz=settings.tz,
        options=options,
        clock=clock,
        ttl=settings.bitrix_cache_ttl,
        path=snapshot_path(settings, webhook),
    )
    assistant = Assistant(cache, tz=settings.tz)
    return Runtime(
        settings=settings,
        clock=clock,
        client=client,
        probe_client=probe_client,
        loader=loader,
        cache=cache,
        assistant=assistant,
    )


@dataclass
class BotUnderTest:
    """A running bot and the fakes around it."""

    fake: FakeTelegram
    portal: EmulatedPortal
    runtime: Runtime
    settings: Settings
    dispatcher: Dispatcher
    bot: Bot
    timeout: float = 20.0
    events: list[UserEvent] = field(default_factory=list)

    async def say(self, user_id: int, text: str, count: int = 1) -> list[BotMessage]:
        """``user_id`` writes ``text``; returns the bot's (first ``count``) answers to it."""
        event = await self.fake.send_text(user_id, text)
        return await self.answers(event, count)

    async def answers(
        self, event: UserEvent, count: int = 1, *, timeout: float | None = None
    ) -> list[BotMessage]:
        """The bot's messages after ``event`` in its chat, once there are ``count`` of them.

        ``timeout`` bounds the wait (default `self.timeout`); real recognition on two shared
        cores under load needs a longer bound than a text answer.
        """
        assert event.message_id is not None
        found = await self.fake.wait_for_messages(
            event.chat_id, count, timeout or self.timeout, since=event.message_id
        )
        return found[:count]


@contextlib.asynccontextmanager
async def running_bot(
    store: PortalStore,
    cache_dir: Path,
    *,
    recognizer: Recognizer | None = None,
    speech: bool = True,
    max_voice_seconds: int = 120,
    retries: bool = True,
    portal_running: bool = True,
    clock: Clock | None = None,
    digest_sleep: Sleep | None = None,
    fake: FakeTelegram | None = None,
    **overrides: Any,
) -> AsyncIterator[BotUnderTest]:
    """The bot polling the fake Telegram, answering from ``store`` on an emulated portal.

    ``clock`` pins the product's clock (default: ``DEMO_DATE`` = `TODAY`); ``digest_sleep``
    is how the morning digest waits (default: a sleep that never ends, so no test gets a
    digest it did not ask for); ``fake`` reuses a running fake Bot API (a restart).
    """
    async with contextlib.AsyncExitStack() as stack:
        if fake is None:
            fake = await stack.enter_async_context(FakeTelegram(token=TOKEN))
        portal = await stack.enter_async_context(EmulatedPortal(store, PortalOptions()))
        settings = make_settings(
            portal.webhook_url, fake, cache_dir, max_voice_seconds=max_voice_seconds, **overrides
        )
        if not portal_running:
            await portal.stop()
        if retries:
            runtime = await Runtime.create(settings, notice=None, clock=clock)
        else:
            runtime = runtime_without_retries(settings)
        if speech:
            runtime.speech = speech_service(
                recognizer or ScriptedRecognizer("дома третьей бригады"), max_voice_seconds
            )
        dispatcher = create_dispatcher(
            runtime,
            settings,
            drain_timeout_s=15.0,
            digest_sleep=digest_sleep or sleep_forever,
            access_check_s=0.05,
        )
        bot = create_bot(settings)
        try:
            async with run_polling(
                fake, dispatcher, bot, backoff_config=FAST_BACKOFF, startup_timeout=30.0
            ):
                yield BotUnderTest(fake, portal, runtime, settings, dispatcher, bot)
        finally:
            await bot.session.close()
            await runtime.aclose()


async def sleep_forever(seconds: float) -> None:
    """A digest sleep that never wakes (until the task is cancelled at shutdown)."""
    await asyncio.Event().wait()


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers a test starts itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_tool(*args: str) -> None:
    """Run espeak-ng / ffmpeg for a fixture."""
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def require_tools() -> None:
    """Fail (not skip) without the audio tools: the voice tests are part of the contract."""
    for tool in ("espeak-ng", "ffmpeg"):
        assert shutil.which(tool), f"{tool} is required for the bot's voice tests (make sysdeps)"
