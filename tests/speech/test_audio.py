"""Decoding with the real ffmpeg: formats, lengths, limits and failures."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.speech.audio import (
    BYTES_PER_SECOND,
    AudioDecodeError,
    AudioTooLongError,
    DecodeTimeoutError,
    EmptyAudioError,
    FfmpegNotFoundError,
    SpeechError,
    decode_audio,
    find_ffmpeg,
)
from tests.speech.conftest import FORMAT_NAMES, AudioSample, ffmpeg_reference_pcm

# AAC adds up to one frame of priming/padding (~26 ms here); everything else decodes exactly.
LENGTH_TOLERANCE_S = 0.05


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "path"])
async def test_every_format_decodes_to_16k_mono_pcm_of_the_right_length(
    formats: dict[str, AudioSample], fmt: str, as_bytes: bool
) -> None:
    sample = formats[fmt]
    source: bytes | Path = sample.path.read_bytes() if as_bytes else sample.path
    decoded = await decode_audio(source, max_seconds=120)
    expected = sample.seconds * BYTES_PER_SECOND
    assert len(decoded.pcm) % 2 == 0
    assert abs(len(decoded.pcm) - expected) <= LENGTH_TOLERANCE_S * BYTES_PER_SECOND, (
        f"{fmt}: {len(decoded.pcm)} bytes, expected about {expected:.0f}"
    )
    assert decoded.duration_s == pytest.approx(sample.seconds, abs=LENGTH_TOLERANCE_S)
    assert decoded.seconds > 0


@pytest.mark.parametrize("fmt", ["ogg_opus_48k", "ogg_opus_16k", "stereo_wav", "m4a"])
async def test_piped_bytes_decode_exactly_like_the_ffmpeg_cli_on_the_file(
    formats: dict[str, AudioSample], fmt: str
) -> None:
    path = formats[fmt].path
    decoded = await decode_audio(path.read_bytes(), max_seconds=120)
    assert decoded.pcm == ffmpeg_reference_pcm(path)


async def test_zero_bytes_is_empty_audio(tmp_path: Path) -> None:
    with pytest.raises(EmptyAudioError) as excinfo:
        await decode_audio(b"", max_seconds=120)
    assert excinfo.value.user_message == "Файл пустой — в нём нет звука."
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        await decode_audio(empty, max_seconds=120)


@pytest.mark.parametrize(
    "payload",
    [
        bytes(range(256)) * 40,
        b"OggS" + b"\x00" * 200,  # an Ogg page header and nothing valid after it
        b"<html>not audio</html>",
    ],
    ids=["random", "broken-ogg", "text"],
)
async def test_corrupted_bytes_are_a_decode_error(payload: bytes) -> None:
    with pytest.raises(AudioDecodeError) as excinfo:
        await decode_audio(payload, max_seconds=120)
    assert excinfo.value.user_message.startswith("Не удалось прочитать аудио")
    assert isinstance(excinfo.value, SpeechError)


async def test_truncated_voice_note(formats: dict[str, AudioSample]) -> None:
    data = formats["ogg_opus_48k"].path.read_bytes()
    # Cut inside the header pages: nothing decodable remains.
    with pytest.raises(AudioDecodeError):
        await decode_audio(data[:60], max_seconds=120)
    # Cut mid-stream: Ogg pages are independent, so the head of the note still decodes.
    head = await decode_audio(data[: len(data) // 2], max_seconds=120)
    assert 0 < head.duration_s < formats["ogg_opus_48k"].seconds - 1


async def test_video_without_audio_is_a_decode_error(video_without_audio: Path) -> None:
    with pytest.raises(AudioDecodeError):
        await decode_audio(video_without_audio.read_bytes(), max_seconds=120)


async def test_missing_file_is_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError):
        await decode_audio(tmp_path / "nope.ogg", max_seconds=120)


async def test_too_long_audio_is_refused_with_the_limit_and_length(long_ogg: AudioSample) -> None:
    with pytest.raises(AudioTooLongError) as excinfo:
        await decode_audio(long_ogg.path.read_bytes(), max_seconds=5)
    err = excinfo.value
    assert err.limit_s == 5
    # ffmpeg stops one second past the limit: the work is bounded, the length is a lower bound.
    assert 5.5 < err.duration_s <= 6.05
    assert err.user_message == "Голосовое длиннее 5 с — запишите короче, пожалуйста."


async def test_audio_just_at_the_limit_passes(long_ogg: AudioSample) -> None:
    decoded = await decode_audio(long_ogg.path, max_seconds=40)
    assert decoded.duration_s == pytest.approx(40.0, abs=LENGTH_TOLERANCE_S)


async def test_missing_ffmpeg_binary(formats: dict[str, AudioSample], tmp_path: Path) -> None:
    with pytest.raises(FfmpegNotFoundError) as excinfo:
        await decode_audio(
            formats["wav"].path.read_bytes(), max_seconds=120, ffmpeg=tmp_path / "ffmpeg"
        )
    assert "недоступно" in excinfo.value.user_message


async def test_timeout_kills_ffmpeg(tmp_path: Path) -> None:
    # A fake "ffmpeg" that never answers; the decode must give up and kill it.
    pidfile = tmp_path / "pid"
    fake = tmp_path / "slow-ffmpeg"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    fake.chmod(0o755)
    with pytest.raises(DecodeTimeoutError):
        await decode_audio(b"x" * 100, max_seconds=120, ffmpeg=fake, timeout=0.5)
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_cancelled_decode_leaves_no_ffmpeg_behind(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake = tmp_path / "slow-ffmpeg"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    fake.chmod(0o755)
    task = asyncio.create_task(decode_audio(b"x", max_seconds=120, ffmpeg=fake, timeout=20))
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_find_ffmpeg_prefers_the_system_binary() -> None:
    found = find_ffmpeg()
    assert found is not None
    assert found.name == "ffmpeg"


async def test_find_ffmpeg_falls_back_to_the_imageio_wheel(
    monkeypatch: pytest.MonkeyPatch, formats: dict[str, AudioSample]
) -> None:
    monkeypatch.setenv("PATH", "")
    found = find_ffmpeg()
    assert found is not None
    assert "imageio_ffmpeg" in str(found)
    decoded = await decode_audio(
        formats["ogg_opus_48k"].path.read_bytes(), max_seconds=120, ffmpeg=found
    )
    assert decoded.duration_s == pytest.approx(formats["ogg_opus_48k"].seconds, abs=0.05)
