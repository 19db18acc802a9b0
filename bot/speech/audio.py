"""Audio decoding: any voice note, audio file or video note -> 16 kHz mono s16le PCM.

One ffmpeg process per input, run with `asyncio.create_subprocess_exec`, so the event loop never
blocks; bounded in time (a timeout kills the process) and in work (`-t` just above the limit, so a
two-hour file costs no more than a note at the limit; `-fs` caps the output bytes as well).

What ffmpeg may touch is fenced in, because the bytes come from strangers: a "voice note" that
is really an HLS playlist or a concat list would otherwise make ffmpeg fetch URLs or open files
the sender chose (SSRF). So ffmpeg reads only from its stdin (files are read by us and piped
in, within `MAX_INPUT_BYTES`), with ``-protocol_whitelist`` `PROTOCOLS` (the pipe and the
in-memory cache that makes it seekable: no network, no ``file:``) and ``-format_whitelist``
`FORMATS` (the containers a voice note, audio file or video note comes in: no playlists, no
concat, no image sequences).

Why a direct ffmpeg pipe and not pydub (`bench/voice.py` measures both): pydub with an explicit
`format=`/`codec=` avoids its ffprobe round trip, but it blocks (it needs a worker thread), holds
the whole 48 kHz WAV in memory and resamples in Python with `audioop`, cannot pass `-t` or `-ar`
to ffmpeg (its `parameters=` land after the output, where ffmpeg ignores them), and needs the
container named in advance, which Telegram does not reliably give us. Measured on the 2-core dev
box (median of 5, Ogg/Opus 48 kHz): 5 s note 60.5 ms direct vs 61.7 ms pydub; 30 s note 100.5 ms
vs 116.2 ms. So the direct pipe is never slower, and it does the whole job in one process.

Errors (every one carries a short Russian `user_message` for the person who sent the audio; the
exception text itself is English, for logs)::

    SpeechError                      speech is unavailable or this audio cannot be transcribed
    ├── AudioError                   the audio itself is the problem
    │   ├── EmptyAudioError          zero bytes
    │   ├── AudioDecodeError         corrupted, unreadable, no audio stream
    │   │   └── DecodeTimeoutError   ffmpeg did not finish in time
    │   └── AudioTooLongError        longer than the limit (`.limit_s`, `.duration_s`)
    ├── FfmpegNotFoundError          no ffmpeg binary on this machine
    └── ModelUnavailableError        no usable Vosk model (`.reason`)
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "BYTES_PER_SECOND",
    "DURATION_TOLERANCE_S",
    "SAMPLE_RATE",
    "AudioDecodeError",
    "AudioError",
    "AudioTooLongError",
    "DecodeTimeoutError",
    "DecodedAudio",
    "EmptyAudioError",
    "FfmpegNotFoundError",
    "ModelProblem",
    "ModelUnavailableError",
    "SpeechError",
    "decode_audio",
    "find_ffmpeg",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""The rate we hand to Vosk; ffmpeg always resamples to it (Opus decodes at 48 kHz regardless)."""
BYTES_PER_SECOND = SAMPLE_RATE * 2
"""16-bit mono PCM."""
DURATION_TOLERANCE_S = 0.5
"""Telegram reports whole seconds, so a note shown as "120 s" may hold up to ~120.5 s of audio."""
DEFAULT_DECODE_TIMEOUT_S = 30.0
MAX_INPUT_BYTES = 256 * 1024 * 1024
"""Largest input piped to ffmpeg (Telegram's local Bot API allows 2 GB files; a voice note at
the duration limit is a few megabytes, a video note some tens)."""
PROTOCOLS = "pipe,cache"
"""ffmpeg protocols allowed: stdin and the cache layer over it; nothing that leaves the process."""
FORMATS = "ogg,mp3,mov,mp4,m4a,wav,matroska,webm,flac,aac"
"""ffmpeg demuxers allowed: Ogg/Opus, MP3, MP4/M4A/MOV, WAV, WebM/Matroska, FLAC, raw AAC.
(ffmpeg names demuxers by their first alias too: ``mov`` is mov,mp4,m4a,3gp,3g2,mj2.)"""

# ffmpeg's cache protocol logs this at "error" level on every non-seekable input although it is
# harmless (the cache serves the seeks); keep it out of the diagnostics we attach to errors.
_NOISE = ("Inner protocol failed to seekback", "Last message repeated")


class SpeechError(Exception):
    """Root of the speech errors; `user_message` is what the bot says (Russian)."""

    user_message: str = "Не получилось распознать речь — попробуйте ещё раз или напишите текстом."


class AudioError(SpeechError):
    """The audio itself cannot be transcribed."""


class EmptyAudioError(AudioError):
    """The input has zero bytes."""

    user_message = "Файл пустой — в нём нет звука."


class AudioDecodeError(AudioError):
    """ffmpeg could not read the input: corrupted, not audio, or without an audio stream."""

    user_message = "Не удалось прочитать аудио — пришлите, пожалуйста, ещё раз."


class DecodeTimeoutError(AudioDecodeError):
    """ffmpeg did not finish within the timeout and was killed."""


class AudioTooLongError(AudioError):
    """The decoded audio is longer than the limit.

    `duration_s` is the decoded length; decoding stops just above the limit, so for a much longer
    file it is a lower bound ("at least").
    """

    def __init__(self, limit_s: int, duration_s: float) -> None:
        self.limit_s = limit_s
        self.duration_s = duration_s
        self.user_message = f"Голосовое длиннее {limit_s} с — запишите короче, пожалуйста."
        super().__init__(f"audio is at least {duration_s:.1f} s long; the limit is {limit_s} s")


class FfmpegNotFoundError(SpeechError):
    """Neither a system ffmpeg nor the imageio-ffmpeg binary is available."""

    user_message = "Распознавание речи сейчас недоступно — напишите, пожалуйста, текстом."


#: Why a model is unavailable: none configured, its directory missing or incomplete, or Vosk
#: failed to load it (or could not be imported).
ModelProblem = Literal["not_configured", "model_missing", "load_failed"]


class ModelUnavailableError(SpeechError):
    """No usable Vosk model; `reason` says why, `kind` classifies it (`ModelProblem`)."""

    user_message = "Распознавание речи сейчас недоступно — напишите, пожалуйста, текстом."

    def __init__(self, reason: str, kind: ModelProblem = "load_failed") -> None:
        self.reason = reason
        self.kind: ModelProblem = kind
        super().__init__(f"speech model unavailable: {reason}")


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """PCM ready for Vosk: 16 kHz, mono, signed 16-bit little-endian."""

    pcm: bytes
    seconds: float
    """Wall time the decode took."""

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.pcm) / BYTES_PER_SECOND


def find_ffmpeg() -> Path | None:
    """The ffmpeg to use: the system binary if on PATH, else the imageio-ffmpeg wheel's binary.

    The fallback means `pip install` alone is enough on a machine without ffmpeg packages.
    """
    system = shutil.which("ffmpeg")
    if system:
        return Path(system)
    try:
        # Optional at run time: only needed on machines without a system ffmpeg.
        import imageio_ffmpeg  # noqa: PLC0415

        return Path(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return None


def _clean_stderr(raw: bytes, limit: int = 400) -> str:
    lines = [
        line.strip()
        for line in raw.decode("utf-8", errors="replace").splitlines()
        if line.strip() and not any(noise in line for noise in _NOISE)
    ]
    text = " | ".join(lines)
    return text[-limit:] if len(text) > limit else text


async def decode_audio(
    source: bytes | Path,
    *,
    max_seconds: int,
    ffmpeg: Path | None = None,
    timeout: float = DEFAULT_DECODE_TIMEOUT_S,
) -> DecodedAudio:
    """Decode `source` (raw bytes or a file path) to 16 kHz mono s16le PCM.

    Raises `AudioTooLongError` when the audio is longer than `max_seconds` (plus
    `DURATION_TOLERANCE_S`); ffmpeg stops decoding one second past the limit. Other failures map
    to the `SpeechError` tree in the module docstring.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = "input"
    else:
        path = Path(source)
        name = path.name
        try:
            size = path.stat().st_size
            if size > MAX_INPUT_BYTES:
                raise AudioDecodeError(
                    f"{name} is {size} bytes; at most {MAX_INPUT_BYTES} are decoded"
                )
            # Read here and piped: ffmpeg itself never opens a path (see the module docstring).
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise AudioDecodeError(f"cannot read {name}: {exc.strerror}") from exc
    if not data:
        raise EmptyAudioError(f"{name} has zero bytes")
    if len(data) > MAX_INPUT_BYTES:
        raise AudioDecodeError(
            f"{name} is {len(data)} bytes; at most {MAX_INPUT_BYTES} are decoded"
        )
    # `cache:` makes the pipe seekable, which MP4/M4A need when the `moov` atom comes after the
    # media data (common for files not written with +faststart); plain `pipe:0` fails there.
    input_args = [
        "-protocol_whitelist",
        PROTOCOLS,
        "-format_whitelist",
        FORMATS,
        "-read_ahead_limit",
        "-1",
        "-i",
        "cache:pipe:0",
    ]

    binary = ffmpeg or find_ffmpeg()
    if binary is None:
        raise FfmpegNotFoundError("ffmpeg not found on PATH and imageio-ffmpeg has no binary")

    cap = max_seconds + 1
    args = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *input_args,
        "-t",
        str(cap),
        # The output can never exceed `cap` seconds of PCM, whatever the input claims.
        "-fs",
        str(cap * BYTES_PER_SECOND + 4096),
        "-vn",
        "-sn",
        "-dn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-acodec",
        "pcm_s16le",
        "-f",
        "s16le",
        "pipe:1",
    ]
    started = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise FfmpegNotFoundError(f"ffmpeg binary {binary} does not exist") from exc
    except PermissionError as exc:
        raise FfmpegNotFoundError(f"ffmpeg binary {binary} is not executable") from exc

    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DecodeTimeoutError(f"ffmpeg did not finish within {timeout:g} s") from None
    except BaseException:
        # Cancelled by the caller: never leave an ffmpeg behind.
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    elapsed = time.perf_counter() - started

    if proc.returncode != 0:
        raise AudioDecodeError(f"ffmpeg exited with {proc.returncode}: {_clean_stderr(err)}")
    if not out:
        detail = _clean_stderr(err) or "no audio stream"
        raise AudioDecodeError(f"ffmpeg produced no audio: {detail}")
    if len(out) % 2:
        out = out[:-1]
    decoded = DecodedAudio(pcm=out, seconds=elapsed)
    if decoded.duration_s > max_seconds + DURATION_TOLERANCE_S:
        raise AudioTooLongError(max_seconds, decoded.duration_s)
    log.debug("decoded %.2f s of audio in %.0f ms", decoded.duration_s, elapsed * 1000)
    return decoded
