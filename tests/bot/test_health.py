"""`/health` in Telegram tells the truth about voice: no «всё работает» when voice is impossible.

Each case runs the real bot (fake Telegram, emulated portal) with the speech service a real
`audiobot run` would have built for that configuration (working voice: test_access.py).
"""

from __future__ import annotations

from pathlib import Path

from bitrix.portal import PortalStore
from bot.speech.service import SpeechService
from tests.bot.harness import ADMIN, ScriptedRecognizer, running_bot


async def test_no_model_configured_says_only_text_works(
    store: PortalStore, tmp_path: Path
) -> None:
    async with running_bot(
        store, tmp_path, speech=False, vosk_model_path=None, vosk_models_dir=tmp_path / "models"
    ) as bot:
        bot.runtime.speech = SpeechService.from_settings(bot.settings)
        [report] = await bot.say(ADMIN, "/health")
    assert report.text.startswith("✅ Состояние: текст работает, голос недоступен")
    assert "всё работает" not in report.text
    assert "Распознавание речи: недоступно — модель не настроена" in report.text
    assert "VOSK_MODEL_PATH" in report.text


async def test_missing_model_is_degraded_and_named(store: PortalStore, tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-ru-0.22"
    async with running_bot(store, tmp_path, speech=False, vosk_model_path=missing) as bot:
        bot.runtime.speech = SpeechService.from_settings(bot.settings)
        [report] = await bot.say(ADMIN, "/health")
    assert report.text.startswith("⚠️ Состояние: работает с ограничениями")
    assert "Распознавание речи: недоступно — папки модели нет или она неполная" in report.text
    assert "vosk-model-small-ru-0.22 does not exist" in report.text


async def test_no_ffmpeg_is_degraded_even_with_a_model(store: PortalStore, tmp_path: Path) -> None:
    async with running_bot(store, tmp_path, speech=False) as bot:
        bot.runtime.speech = SpeechService(ScriptedRecognizer("дома бригады 3"), ffmpeg=None)
        [report] = await bot.say(ADMIN, "/health")
    assert report.text.startswith("⚠️ Состояние: работает с ограничениями")
    assert "Распознавание речи: недоступно — не найден ffmpeg" in report.text
