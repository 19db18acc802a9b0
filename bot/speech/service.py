"""The speech service: decode + recognise with per-stage timings, a result cache and a status.

This is what the bot, the terminal chat and the CLI call. It owns the recognizer (or knows why
there is none: speech is then "unavailable" and text features keep working) and the ffmpeg
binary. Results are cached by a caller-supplied key — Telegram's `file_unique_id`, stable across
forwards and bots — so a re-sent or forwarded note is answered without decoding it again.

Errors: the `SpeechError` tree of `bot.speech.audio`.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from bot.speech.audio import (
    DEFAULT_DECODE_TIMEOUT_S,
    FfmpegNotFoundError,
    ModelProblem,
    ModelUnavailableError,
    decode_audio,
    find_ffmpeg,
)
from bot.speech.models import resolve_model_path
from bot.speech.recognizer import (
    Recognition,
    RecognitionPass,
    Recognizer,
    SecondPass,
    VoskRecognizer,
    Word,
    load_model,
)

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "SpeechService",
    "SpeechStats",
    "SpeechStatus",
    "StageTimings",
    "Transcription",
    "resolve_workers",
]

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 256


def resolve_workers(configured: int) -> int:
    """Recogniser threads: `SPEECH_WORKERS` if set, else one per core minus one for the loop."""
    if configured > 0:
        return configured
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Wall time per stage, seconds (the download stage is measured by the caller)."""

    decode_s: float
    recognise_s: float

    @property
    def total_s(self) -> float:
        """Decode plus recognise."""
        return self.decode_s + self.recognise_s


@dataclass(frozen=True, slots=True)
class Transcription:
    """A transcribed note: the chosen text, the audio length, every pass and the timings."""

    text: str
    duration_s: float
    recognition: Recognition
    timings: StageTimings

    @property
    def words(self) -> tuple[Word, ...]:
        """Words of the chosen pass."""
        return self.recognition.words

    @property
    def passes(self) -> tuple[RecognitionPass, ...]:
        """Every pass that ran (open first)."""
        return self.recognition.passes

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `audiobot transcribe --json` (without the `file` key)."""
        return {
            "text": self.text,
            "duration_s": round(self.duration_s, 3),
            "seconds": round(self.timings.total_s, 4),
            "words": [w.to_dict() for w in self.words],
            "chosen": self.recognition.chosen,
            "note": self.recognition.note,
            "passes": [p.to_dict() for p in self.passes],
            "timings": {
                "decode_s": round(self.timings.decode_s, 4),
                "recognise_s": round(self.timings.recognise_s, 4),
            },
        }


@dataclass
class SpeechStats:
    """Counters since start: ffmpeg decodes, recognitions and cache hits."""

    decodes: int = 0
    recognitions: int = 0
    cache_hits: int = 0


@dataclass(frozen=True, slots=True)
class SpeechStatus:
    """What `/health` shows about speech (the model path reduced to its last component)."""

    available: bool
    model_name: str | None
    model_dir: str | None
    load_seconds: float | None
    sample_rate: int | None
    has_runtime_graph: bool | None
    reason: str | None
    ffmpeg: str | None
    workers: int
    cache_entries: int
    cache_capacity: int
    stats: SpeechStats = field(default_factory=SpeechStats)
    #: "ready", or why not: a `ModelProblem` ("not_configured", "model_missing",
    #: "load_failed"), or "ffmpeg_missing" when only ffmpeg is lacking.
    state: str = "ready"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "available": self.available,
            "state": self.state,
            "model_name": self.model_name,
            "model_dir": self.model_dir,
            "load_seconds": None if self.load_seconds is None else round(self.load_seconds, 3),
            "sample_rate": self.sample_rate,
            "has_runtime_graph": self.has_runtime_graph,
            "reason": self.reason,
            "ffmpeg": self.ffmpeg,
            "workers": self.workers,
            "cache_entries": self.cache_entries,
            "cache_capacity": self.cache_capacity,
            "decodes": self.stats.decodes,
            "recognitions": self.stats.recognitions,
            "cache_hits": self.stats.cache_hits,
        }


class SpeechService:
    """Transcribe audio: ffmpeg decode, limit check, Vosk recognition, LRU cache by caller key.

    Build it with `from_settings` in production; tests may pass any `Recognizer` (or None plus
    `unavailable_reason`). `max_voice_seconds` is enforced on the decoded audio, whatever the
    sender claimed.
    """

    def __init__(
        self,
        recognizer: Recognizer | None,
        *,
        ffmpeg: Path | None,
        max_voice_seconds: int = 120,
        workers: int = 1,
        unavailable_reason: str | None = None,
        unavailable_kind: ModelProblem = "load_failed",
        model_path: Path | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        decode_timeout: float = DEFAULT_DECODE_TIMEOUT_S,
    ) -> None:
        self._recognizer = recognizer
        self._ffmpeg = ffmpeg
        self.max_voice_seconds = max_voice_seconds
        self.workers = workers
        self._reason = unavailable_reason or (None if recognizer else "no recognizer")
        self._kind: ModelProblem = unavailable_kind
        self._model_path = model_path or (recognizer.info.path if recognizer else None)
        self._cache_size = cache_size
        self._decode_timeout = decode_timeout
        # functools.lru_cache cannot cache coroutine results; an OrderedDict is the stdlib LRU.
        self._cache: OrderedDict[str, Transcription] = OrderedDict()
        self.stats = SpeechStats()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        reuse_recognizers: bool = False,
    ) -> Self:
        """Load the model named by the settings; a missing or broken one is logged, not raised.

        Blocking (a model load takes seconds): call it at startup, or via `asyncio.to_thread`.
        `reuse_recognizers` keeps one recognizer per worker thread (see `VoskRecognizer`).
        """
        workers = resolve_workers(settings.speech_workers)
        path = resolve_model_path(settings)
        ffmpeg = find_ffmpeg()
        if ffmpeg is None:
            log.warning("ffmpeg not found: voice notes cannot be decoded")
        recognizer: Recognizer | None = None
        reason: str | None = None
        kind: ModelProblem = "load_failed"
        try:
            recognizer = VoskRecognizer(
                load_model(path), workers=workers, reuse_recognizers=reuse_recognizers
            )
        except ModelUnavailableError as exc:
            reason, kind = exc.reason, exc.kind
            log.warning("speech recognition unavailable: %s", reason)
        return cls(
            recognizer,
            ffmpeg=ffmpeg,
            max_voice_seconds=settings.max_voice_seconds,
            workers=workers,
            unavailable_reason=reason,
            unavailable_kind=kind,
            model_path=path,
            cache_size=cache_size,
        )

    @property
    def available(self) -> bool:
        """Whether voice can be transcribed (model loaded and ffmpeg found)."""
        return self._recognizer is not None and self._ffmpeg is not None

    @property
    def recognizer(self) -> Recognizer | None:
        """The recognizer, e.g. to build a grammar for `SecondPass`; None when unavailable."""
        return self._recognizer

    async def transcribe(
        self,
        audio: bytes | Path,
        *,
        key: str | None = None,
        second_pass: SecondPass | None = None,
    ) -> Transcription:
        """Decode and recognise `audio` (raw bytes of any container, or a file path).

        `key` (Telegram's `file_unique_id`) looks the result up in, and stores it into, the LRU
        cache; errors are not cached. Raises the `SpeechError` tree.
        """
        if key is not None:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.stats.cache_hits += 1
                return hit
        recognizer = self._recognizer
        if recognizer is None:
            raise ModelUnavailableError(self._reason or "no recognizer")
        if self._ffmpeg is None:
            raise FfmpegNotFoundError("ffmpeg not found on PATH and imageio-ffmpeg has no binary")
        decoded = await decode_audio(
            audio,
            max_seconds=self.max_voice_seconds,
            ffmpeg=self._ffmpeg,
            timeout=self._decode_timeout,
        )
        self.stats.decodes += 1
        started = time.perf_counter()
        recognition = await recognizer.recognize(decoded.pcm, second_pass=second_pass)
        recognise_s = time.perf_counter() - started
        self.stats.recognitions += 1
        result = Transcription(
            text=recognition.text,
            duration_s=decoded.duration_s,
            recognition=recognition,
            timings=StageTimings(decode_s=decoded.seconds, recognise_s=recognise_s),
        )
        log.info(
            "transcribed %.1f s of audio: decode %.0f ms, recognise %.0f ms, %d pass(es)",
            result.duration_s,
            decoded.seconds * 1000,
            recognise_s * 1000,
            len(recognition.passes),
        )
        if key is not None and self._cache_size > 0:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def status(self) -> SpeechStatus:
        """Model, ffmpeg and worker facts for `/health` (no full paths)."""
        rec = self._recognizer
        info = rec.info if rec is not None else None
        reason = self._reason if rec is None else None
        state: str = self._kind if rec is None else "ready"
        if rec is not None and self._ffmpeg is None:
            reason, state = "ffmpeg not found", "ffmpeg_missing"
        return SpeechStatus(
            available=self.available,
            model_name=info.name if info else None,
            model_dir=self._model_path.name if self._model_path else None,
            load_seconds=info.load_seconds if info else None,
            sample_rate=info.sample_rate if info else None,
            has_runtime_graph=info.has_runtime_graph if info else None,
            reason=reason,
            ffmpeg=str(self._ffmpeg) if self._ffmpeg else None,
            workers=self.workers,
            cache_entries=len(self._cache),
            cache_capacity=self._cache_size,
            stats=SpeechStats(**vars(self.stats)),
            state=state,
        )

    def close(self) -> None:
        """Release the recognizer's threads."""
        if self._recognizer is not None:
            self._recognizer.close()
