"""Voice through the whole bot: Telegram file download, real ffmpeg decode, recognition, answer.

Russian content goes through `ScriptedRecognizer` (no Russian model can be downloaded here);
one test and the event-loop test run the real Vosk engine with the packaged Korean model.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bitrix.portal import PortalStore
from bot.speech.audio import AudioDecodeError, ModelUnavailableError, decode_audio, find_ffmpeg
from bot.speech.recognizer import VoskModel, VoskRecognizer
from bot.speech.service import SpeechService
from handlers import texts
from tests.bot.harness import (
    ADMIN,
    OTHER_USER,
    USER,
    BotUnderTest,
    GatedRecognizer,
    ScriptedRecognizer,
    running_bot,
)
from tests.fakes.telegram import DOWNLOAD, MAX_DOWNLOAD_SIZE
from tests.loop_stall import measure_loop_stall

HEARD = texts.HEARD.format(text="дома третьей бригады")


async def test_voice_note_is_echoed_then_answered(
    running: BotUnderTest, russian_ogg: bytes
) -> None:
    event = await running.fake.send_voice(USER, russian_ogg, duration=2)
    echo, answer = await running.answers(event, 2)
    assert echo.text == HEARD
    assert answer.text.startswith("Бригада 3:")
    # On the wire: getFile, the download, then the echo and the answer; "typing…" was shown
    # (sent concurrently with the download) before the echo.
    methods = [m for m in running.fake.methods() if m not in ("getUpdates", "sendChatAction")]
    start = methods.index("getFile")
    assert methods[start:] == ["getFile", DOWNLOAD, "sendMessage", "sendMessage"]
    action = running.fake.calls("sendChatAction")[0]
    assert action.params["action"] == "typing"
    assert action.index < running.fake.calls("sendMessage")[-2].index
    # The stand-in received the really decoded PCM: 16 kHz mono s16le of the whole note.
    recognizer = running.runtime.speech.recognizer if running.runtime.speech else None
    assert isinstance(recognizer, ScriptedRecognizer)
    assert recognizer.heard and recognizer.heard[0] > 16000 * 2


@pytest.mark.parametrize("kind", ["audio", "document", "document_without_mime", "video_note"])
async def test_other_audio_carriers(
    running: BotUnderTest, kind: str, russian_mp3: bytes, russian_mp4: bytes
) -> None:
    fake = running.fake
    if kind == "audio":
        event = await fake.send_audio(USER, russian_mp3, duration=2)
    elif kind == "document":
        event = await fake.send_document(USER, russian_mp3, "запись.mp3", "audio/mpeg")
    elif kind == "document_without_mime":
        event = await fake.send_document(USER, russian_mp3, "voice.mp3", None)
    else:
        event = await fake.send_video_note(USER, russian_mp4, duration=3)
    echo, answer = await running.answers(event, 2)
    assert echo.text == HEARD
    assert answer.text.startswith("Бригада 3:")


async def test_a_document_that_is_not_audio(running: BotUnderTest) -> None:
    event = await running.fake.send_document(USER, b"%PDF-1.4 ...", "акт.pdf", "application/pdf")
    [reply] = await running.answers(event)
    assert reply.text == texts.NOT_AUDIO
    assert running.fake.calls("getFile") == []


async def test_silence_is_not_heard(running: BotUnderTest, silence_ogg: bytes) -> None:
    event = await running.fake.send_voice(USER, silence_ogg, duration=3)
    [reply] = await running.answers(event)
    assert reply.text == texts.NOT_HEARD == "Не расслышал, повторите, пожалуйста."


async def test_corrupted_audio(running: BotUnderTest) -> None:
    event = await running.fake.send_voice(USER, b"OggS\x00 not really a voice note " * 40, 4)
    [reply] = await running.answers(event)
    assert reply.text == AudioDecodeError.user_message
    assert reply.text.startswith("Не удалось прочитать аудио")


async def test_declared_too_long_is_refused_before_download(
    store: PortalStore, tmp_path: Path, russian_ogg: bytes
) -> None:
    async with running_bot(store, tmp_path, max_voice_seconds=10) as bot:
        event = await bot.fake.send_voice(USER, russian_ogg, duration=185)
        [reply] = await bot.answers(event)
        assert reply.text == texts.TOO_LONG.format(duration="3 мин 5 с", limit="10 с")
        assert bot.fake.calls("getFile") == []


async def test_actually_too_long_is_caught_after_decoding(
    store: PortalStore, tmp_path: Path, tone_ogg: bytes
) -> None:
    async with running_bot(store, tmp_path, max_voice_seconds=10) as bot:
        # The sender's app claims 5 s; the audio holds 15 s.
        event = await bot.fake.send_voice(USER, tone_ogg, duration=5)
        [reply] = await bot.answers(event)
        assert reply.text == texts.TOO_LONG_DECODED.format(limit="10 с")
        assert "до 10 с" in reply.text


async def test_declared_file_too_big(running: BotUnderTest) -> None:
    event = await running.fake.send_voice(
        USER, b"x" * 100, duration=60, declared_size=MAX_DOWNLOAD_SIZE + 5 * 1024 * 1024
    )
    [reply] = await running.answers(event)
    assert reply.text == texts.FILE_TOO_BIG.format(size="25 МБ")
    assert running.fake.calls("getFile") == []


async def test_file_is_too_big_from_telegram(running: BotUnderTest, russian_ogg: bytes) -> None:
    running.fake.fail_next("getFile", description="Bad Request: file is too big")
    event = await running.fake.send_voice(USER, russian_ogg, duration=2)
    [reply] = await running.answers(event)
    assert reply.text.startswith("Файл слишком большой")
    assert "20 МБ" in reply.text


async def test_a_failed_download_is_retried_once(
    running: BotUnderTest, russian_ogg: bytes
) -> None:
    running.fake.fail_next(DOWNLOAD, error_code=502, description="Bad Gateway")
    event = await running.fake.send_voice(USER, russian_ogg, duration=2)
    echo, _ = await running.answers(event, 2)
    assert echo.text == HEARD
    assert len(running.fake.calls(DOWNLOAD)) == 2


async def test_without_a_speech_model_text_keeps_working(
    store: PortalStore, tmp_path: Path, russian_ogg: bytes
) -> None:
    async with running_bot(store, tmp_path, speech=False) as bot:
        # What `Runtime.create(speech=True)` gives when VOSK_MODEL_PATH points nowhere.
        bot.runtime.speech = SpeechService.from_settings(bot.settings)
        assert not bot.runtime.speech.available
        event = await bot.fake.send_voice(USER, russian_ogg, duration=2)
        [reply] = await bot.answers(event)
        assert reply.text == ModelUnavailableError.user_message
        [answer] = await bot.say(USER, "дома бригады 3")
        assert answer.text.startswith("Бригада 3:")


async def test_a_resent_note_is_not_decoded_again(
    running: BotUnderTest, russian_ogg: bytes
) -> None:
    speech = running.runtime.speech
    assert speech is not None
    voice = running.fake.add_file(russian_ogg, kind="voice")
    for _ in range(2):
        event = await running.fake.send_voice(USER, voice, duration=2)
        echo, _ = await running.answers(event, 2)
        assert echo.text == HEARD
    assert speech.stats.decodes == 1
    assert speech.stats.cache_hits == 1


async def test_real_vosk_engine_echoes_what_it_recognised(
    store: PortalStore, tmp_path: Path, korean_model: VoskModel, korean_ogg: bytes
) -> None:
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    reference = VoskRecognizer(korean_model)
    try:
        decoded = await decode_audio(korean_ogg, max_seconds=120, ffmpeg=ffmpeg)
        expected = (await reference.recognize(decoded.pcm)).text
    finally:
        reference.close()
    assert expected, "the Korean model heard nothing in the Korean sentence"
    engine = VoskRecognizer(korean_model, workers=1)
    async with running_bot(store, tmp_path, recognizer=engine) as bot:
        event = await bot.fake.send_voice(USER, korean_ogg, duration=5)
        echo, answer = await bot.answers(event, 2)
        assert echo.text == texts.HEARD.format(text=expected)
        # Korean is no request to a Russian assistant: it says so, quoting what it heard.
        assert answer.text.startswith(f"Не понял запрос «{expected[:40]}")


async def test_text_is_answered_while_four_notes_decode(
    store: PortalStore, tmp_path: Path, korean_model: VoskModel, korean_ogg: bytes
) -> None:
    speakers = [9001, 9002, 9003, 9004]
    allowed = ",".join(str(u) for u in [USER, OTHER_USER, *speakers])
    engine = VoskRecognizer(korean_model, workers=2)
    async with (
        running_bot(store, tmp_path, recognizer=engine, allowed_user_ids=allowed) as bot,
        measure_loop_stall() as stall,
    ):
        notes = [await bot.fake.send_voice(u, korean_ogg, duration=5) for u in speakers]
        await bot.fake.wait_for(
            lambda: len(bot.fake.calls(DOWNLOAD)) >= 4 or None,
            bot.timeout,
            description="4 downloads",
        )
        started = time.perf_counter()
        [reply] = await bot.say(ADMIN, "дома бригады 2")
        latency = time.perf_counter() - started
        voice_done = sum(len(bot.fake.sent_messages(u)) >= 2 for u in speakers)
        for note in notes:
            # Four real Korean decodes on two workers: minutes of CPU on a loaded machine.
            await bot.answers(note, 2, timeout=180)
    assert reply.text.startswith("Бригада 2:")
    # The text was answered while recognition was still running (so this measured something).
    assert voice_done < 4
    assert latency < 2.0, f"text answered in {latency * 1000:.0f} ms during 4 decodes"
    assert stall.worst < 0.5, f"event loop stalled for {stall.worst * 1000:.0f} ms"


async def test_buttons_are_answered_while_a_voice_note_is_recognised(
    store: PortalStore, tmp_path: Path, russian_ogg: bytes
) -> None:
    recognizer = GatedRecognizer("дома третьей бригады")
    async with running_bot(store, tmp_path, recognizer=recognizer) as bot:
        fake = bot.fake
        [page] = await bot.say(USER, "дома бригады 3")
        [question] = await bot.say(USER, "график Ленина")
        note = await fake.send_voice(USER, russian_ogg, duration=2)
        async with asyncio.timeout(bot.timeout):
            await recognizer.started.wait()
        [(_, forward)] = [b for b in page.buttons if b[0] == texts.NEXT]
        paging = await fake.press_button(USER, page, forward)
        choosing = await fake.press_button(USER, question, button_text="2. Ленина")
        pressed = [paging.callback_query_id or "", choosing.callback_query_id or ""]
        answered = fake.callback_answers
        await fake.wait_for(
            lambda: all(query in answered for query in pressed) or None,
            bot.timeout,
            description="both button presses answered",
        )
        # The page turns at once as well: it only edits the bot's own message.
        await fake.wait_for(
            lambda: fake.message(USER, page.message_id).history or None,
            bot.timeout,
            description="the page turned",
        )
        assert "Стр. 2 из" in fake.message(USER, page.message_id).text
        # The choice asks the brain: acknowledged now, answered in its turn after the note.
        assert answered[pressed[1]].get("text") == texts.BUTTON_QUEUED
        assert not recognizer.gate.is_set()
        assert [m for m in fake.sent_messages(USER) if m.message_id > (note.message_id or 0)] == []
        recognizer.gate.set()
        echo, answer, chosen = await bot.answers(note, 3)
        assert echo.text == HEARD
        assert answer.text.startswith("Бригада 3:")
        assert chosen.text.startswith("Улица Ленина")
        # Each press was answered exactly once: no late second answer, no error message.
        assert len(fake.calls("answerCallbackQuery")) == 2


async def test_a_local_bot_api_server_has_no_20_mb_limit(
    store: PortalStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(store, tmp_path, max_voice_seconds=60, telegram_api_local=True) as bot:
        fake = bot.fake
        big = MAX_DOWNLOAD_SIZE + 5 * 1024 * 1024
        event = await fake.send_voice(USER, b"x" * 100, duration=50, declared_size=big)
        [reply] = await bot.answers(event)
        # The bot asked for the file instead of refusing it; this fake is a cloud server,
        # whose getFile does refuse it, and the operator is told what that means.
        assert len(fake.calls("getFile")) == 1
        assert reply.text == texts.FILE_TOO_BIG.format(size="25 МБ")
        assert "running with --local" in caplog.text
        # MAX_VOICE_SECONDS still applies before downloading anything.
        event = await fake.send_voice(USER, b"x" * 100, duration=185, declared_size=big)
        [reply] = await bot.answers(event)
        assert reply.text == texts.TOO_LONG.format(duration="3 мин 5 с", limit="1 мин")
        # A file too big for any 60 s recording (no duration: a document) is not read either.
        huge = 500 * 1024 * 1024
        event = await fake.send_document(USER, b"x" * 100, "call.wav", declared_size=huge)
        [reply] = await bot.answers(event)
        assert reply.text == texts.FILE_TOO_BIG_LOCAL.format(size="500 МБ", limit="1 мин")
        assert len(fake.calls("getFile")) == 1


async def test_a_local_bot_api_server_file_is_read_from_disk(
    store: PortalStore, tmp_path: Path, russian_ogg: bytes
) -> None:
    async with running_bot(store, tmp_path, telegram_api_local=True) as bot:
        # A --local server answers getFile with a path on its disk, which the bot opens
        # instead of downloading; the fake would serve different bytes at its download URL.
        voice = bot.fake.add_file(b"OggS not this one " * 10, kind="voice")
        on_disk = tmp_path / "telegram-bot-api" / "voice" / "file_7.oga"
        on_disk.parent.mkdir(parents=True)
        on_disk.write_bytes(russian_ogg)
        voice.file_path = str(on_disk)
        event = await bot.fake.send_voice(USER, voice, duration=2)
        echo, answer = await bot.answers(event, 2)
        assert echo.text == HEARD
        assert answer.text.startswith("Бригада 3:")
        assert bot.fake.calls(DOWNLOAD) == []
        # The bot cannot see the server's directory: a clear message, not a generic error.
        on_disk.unlink()
        event = await bot.fake.send_voice(USER, voice, duration=2)
        [reply] = await bot.answers(event)
        assert reply.text == texts.DOWNLOAD_FAILED
