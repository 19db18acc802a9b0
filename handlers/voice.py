"""Voice notes, audio files, video notes and audio documents → transcript → the text path.

The pipeline for one note (`VoicePipeline`):

1. early checks on what the sender declared: ``file_size`` over Telegram's 20 MB download cap
   (with a ``--local`` Bot API server, ``TELEGRAM_API_LOCAL``, that cap does not exist; a
   memory bound derived from ``MAX_VOICE_SECONDS`` applies instead), ``duration`` over
   ``MAX_VOICE_SECONDS`` — explained at once, nothing downloaded;
2. "typing…" while the rest runs;
3. ``bot.download`` (getFile + the file URL, or the file read from the local server's disk)
   with a bounded timeout, one retry on a network error; Telegram's 400 "file is too big" is
   explained;
4. `SpeechService.transcribe` (ffmpeg decode, limit enforced again on the decoded audio, Vosk
   off the event loop, cache by ``file_unique_id``) with the domain-grammar second pass built
   for the current company (`bot.voice.make_second_pass`);
5. «🎙 Распознал: «…»» and then exactly what typing that text would have answered.

Errors this module raises (caught by its handler, each with a Russian ``user_message``)::

    VoiceRejected                the note cannot be answered; user_message says why
     (its __cause__ is the SpeechError, TelegramAPIError or network error behind it)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

import aiohttp
from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNetworkError
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from bitrix.cache import SnapshotUnavailable
from bitrix.models import Employee
from bot.config import Settings
from bot.nlu.engine import LanguageEngine
from bot.runtime import Runtime
from bot.speech.audio import AudioTooLongError, ModelUnavailableError, SpeechError
from bot.speech.recognizer import Recognizer, SecondPass
from bot.speech.service import Transcription
from bot.voice import make_second_pass
from handlers import texts
from handlers.filters import Addressed
from handlers.replies import Responder
from handlers.text import answer_request, note_if_late

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""The cloud Bot API lets bots download files of up to 20 MB."""
LOCAL_BYTES_PER_SECOND = 1024 * 1024
"""With a ``--local`` Bot API server any size downloads, and a file is read whole into memory:
a note may hold at most this much per second of ``MAX_VOICE_SECONDS`` (8 Mbit/s, above a
phone's HD video; a voice note is about 4 KB/s), so a stray 2 GB video cannot exhaust memory."""
DOWNLOAD_TIMEOUT_S = 60
"""Whole-download timeout: a 20 MB file over a slow link still fits; a stuck one does not hang."""
DOWNLOAD_ATTEMPTS = 2
AUDIO_EXTENSIONS = frozenset(
    {".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".amr", ".wma", ".webm"}
    | {".mp4", ".m4v", ".mov", ".mkv", ".mka", ".3gp"}
)
"""Document names that may hold speech when the sender's app gave no useful MIME type."""


class VoiceRejected(Exception):
    """A note that cannot be answered; ``user_message`` is the Russian explanation."""

    def __init__(self, user_message: str, reason: str) -> None:
        super().__init__(reason)
        self.user_message = user_message


@dataclass(frozen=True)
class Media:
    """The audio part of a message, whatever kind it came as."""

    kind: str  # voice | audio | video_note | document
    file_id: str
    unique_id: str
    size: int | None
    duration: int | None


def media_of(message: Message) -> Media | None:
    """The message's audio, or None (e.g. a document that is not audio or video)."""
    if message.voice is not None:
        v = message.voice
        return Media("voice", v.file_id, v.file_unique_id, v.file_size, v.duration)
    if message.audio is not None:
        a = message.audio
        return Media("audio", a.file_id, a.file_unique_id, a.file_size, a.duration)
    if message.video_note is not None:
        n = message.video_note
        return Media("video_note", n.file_id, n.file_unique_id, n.file_size, n.duration)
    if message.document is not None:
        d = message.document
        mime = (d.mime_type or "").lower()
        suffix = PurePosixPath(d.file_name or "").suffix.lower()
        # application/octet-stream says nothing; trust the name then (as Voicy does).
        if mime.startswith(("audio/", "video/")) or suffix in AUDIO_EXTENSIONS:
            return Media("document", d.file_id, d.file_unique_id, d.file_size, None)
    return None


@dataclass(frozen=True)
class VoiceResult:
    """A transcribed note and where the time went."""

    text: str
    download_s: float
    transcription: Transcription


class VoicePipeline:
    """Checks, downloads and transcribes notes for the bot (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        settings: Settings,
        *,
        download_timeout_s: int = DOWNLOAD_TIMEOUT_S,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._runtime = runtime
        self._max_seconds = settings.max_voice_seconds
        self._local = settings.telegram_api_local
        self._max_bytes = (
            max(MAX_DOWNLOAD_BYTES, settings.max_voice_seconds * LOCAL_BYTES_PER_SECOND)
            if self._local
            else MAX_DOWNLOAD_BYTES
        )
        self._download_timeout_s = download_timeout_s
        self._today = today or runtime.clock.today
        self._second_pass: tuple[Recognizer, LanguageEngine, SecondPass] | None = None

    def precheck(self, media: Media) -> str | None:
        """Why the note is refused before downloading it, from what the sender declared."""
        if media.size is not None and media.size > self._max_bytes:
            size = texts.size_label(media.size)
            if self._local:
                limit = texts.seconds_label(self._max_seconds)
                return texts.FILE_TOO_BIG_LOCAL.format(size=size, limit=limit)
            return texts.FILE_TOO_BIG.format(size=size)
        if media.duration is not None and media.duration > self._max_seconds:
            return texts.TOO_LONG.format(
                duration=texts.seconds_label(media.duration),
                limit=texts.seconds_label(self._max_seconds),
            )
        speech = self._runtime.speech
        if speech is None or not speech.available:
            return ModelUnavailableError.user_message
        return None

    async def second_pass(self) -> SecondPass | None:
        """The domain-grammar pass for the current company, rebuilt when the snapshot changes."""
        speech = self._runtime.speech
        recognizer = speech.recognizer if speech is not None else None
        if recognizer is None:
            return None
        try:
            view = await self._runtime.cache.get()
        except SnapshotUnavailable:
            return None
        engine, _ = await self._runtime.assistant.engine(view.snapshot)
        cached = self._second_pass
        if cached is not None and cached[0] is recognizer and cached[1] is engine:
            return cached[2]
        # Tens of milliseconds of vocabulary work: off the event loop, once per snapshot.
        built = await asyncio.to_thread(make_second_pass, recognizer, engine, self._today)
        self._second_pass = (recognizer, engine, built)
        return built

    async def download(self, bot: Bot, media: Media) -> bytes:
        """The note's bytes; raises `VoiceRejected` with the reason."""
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                buffer = await bot.download(media.file_id, timeout=self._download_timeout_s)
            except TelegramBadRequest as error:
                if "file is too big" in error.message.lower():
                    if self._local:
                        # Only the cloud API and a server without --local say this.
                        log.warning(
                            "TELEGRAM_API_LOCAL is set, but the Bot API server refused a file "
                            "over 20 MB: is it running with --local?"
                        )
                    size = texts.size_label(media.size) if media.size else "больше 20 МБ"
                    raise VoiceRejected(
                        texts.FILE_TOO_BIG.format(size=size), "file is too big"
                    ) from error
                raise VoiceRejected(texts.DOWNLOAD_FAILED, f"getFile: {error.message}") from error
            except (TelegramNetworkError, aiohttp.ClientError, TimeoutError) as error:
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise VoiceRejected(
                        texts.DOWNLOAD_FAILED, f"download failed: {type(error).__name__}"
                    ) from error
                log.warning(
                    "download of %s failed (%s); retrying", media.kind, type(error).__name__
                )
                continue
            except TelegramAPIError as error:
                raise VoiceRejected(texts.DOWNLOAD_FAILED, f"getFile: {error.message}") from error
            except OSError as error:
                # With a --local server aiogram reads the path getFile returned from this
                # machine's disk: the bot must see the server's --dir at the same path.
                log.warning(
                    "cannot read %s from the local Bot API server's directory: %s",
                    media.kind,
                    error.strerror or type(error).__name__,
                )
                raise VoiceRejected(
                    texts.DOWNLOAD_FAILED, f"local file: {type(error).__name__}"
                ) from error
            if buffer is None:  # only with a destination, which we never pass
                raise VoiceRejected(texts.DOWNLOAD_FAILED, "download returned nothing")
            return buffer.read()
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def transcribe(self, bot: Bot, media: Media) -> VoiceResult:
        """Download and transcribe; raises `VoiceRejected` with a Russian explanation."""
        speech = self._runtime.speech
        if speech is None:
            raise VoiceRejected(ModelUnavailableError.user_message, "speech is off")
        started = time.perf_counter()
        data = await self.download(bot, media)
        download_s = time.perf_counter() - started
        second_pass = await self.second_pass()
        try:
            result = await speech.transcribe(data, key=media.unique_id, second_pass=second_pass)
        except AudioTooLongError as error:
            # The sender's app under-declared the length; decoding stopped at the limit.
            message = texts.TOO_LONG_DECODED.format(limit=texts.seconds_label(error.limit_s))
            raise VoiceRejected(message, str(error)) from error
        except SpeechError as error:
            raise VoiceRejected(error.user_message, str(error)) from error
        log.info(
            "%s note: %d bytes, download %.0f ms, decode %.0f ms, recognise %.0f ms",
            media.kind,
            len(data),
            download_s * 1000,
            result.timings.decode_s * 1000,
            result.timings.recognise_s * 1000,
        )
        return VoiceResult(" ".join(result.text.split()), download_s, result)


async def on_media(
    message: Message,
    *,
    bot: Bot,
    runtime: Runtime,
    settings: Settings,
    responder: Responder,
    voice: VoicePipeline,
    conversation: Hashable,
    asker: Employee | None = None,
) -> None:
    """A voice note (or audio, video note, audio document): transcribe, echo, answer."""
    chat_id = message.chat.id
    thread_id = message.message_thread_id
    media = media_of(message)
    if media is None:
        await responder.send_text(bot, chat_id, texts.NOT_AUDIO, thread_id=thread_id)
        return
    await note_if_late(bot, message, settings=settings, responder=responder, clock=runtime.clock)
    problem = voice.precheck(media)
    if problem is not None:
        log.info("%s note refused before download: %s", media.kind, problem)
        await responder.send_text(bot, chat_id, problem, thread_id=thread_id)
        return
    async with ChatActionSender.typing(bot=bot, chat_id=chat_id, message_thread_id=thread_id):
        try:
            result = await voice.transcribe(bot, media)
        except VoiceRejected as rejected:
            log.info("%s note not transcribed: %s", media.kind, rejected)
            await responder.send_text(bot, chat_id, rejected.user_message, thread_id=thread_id)
            return
        if not result.text:
            await responder.send_text(bot, chat_id, texts.NOT_HEARD, thread_id=thread_id)
            return
        await responder.send_text(
            bot, chat_id, texts.HEARD.format(text=result.text), thread_id=thread_id
        )
    await answer_request(
        bot,
        message,
        result.text,
        runtime=runtime,
        responder=responder,
        conversation=conversation,
        settings=settings,
        asker=asker,
    )


def create_router() -> Router:
    """The voice router (before the free-text router)."""
    router = Router(name=__name__)
    router.message.register(on_media, F.voice | F.audio | F.video_note | F.document, Addressed())
    return router
