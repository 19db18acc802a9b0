"""Health of the whole assistant: Bitrix24, the company snapshot, speech, ffmpeg, uptime.

One report feeds `/health` in Telegram and the terminal chat (Russian text) and
`GET /api/health` (JSON). Every check is real: a Bitrix24 call with its latency, the cache's
actual age, the speech model's actual state. Nothing secret goes in: no webhook URL, no token,
no personal data.

Voice is reported as one `VoiceHealth.state`:

- ``ready``: the model is loaded and ffmpeg found — voice notes are transcribed;
- ``not_loaded``: this command has not loaded the model (the terminal chat loads it at the
  first ``/voice``; the standalone HTTP API never does), though the model directory and ffmpeg
  are in place;
- ``not_configured``: no model at all (no ``VOSK_MODEL_PATH``, nothing downloaded) — a
  text-only deployment;
- ``model_missing``: the configured model directory does not exist or is incomplete;
- ``load_failed``: Vosk could not load the model (or could not be imported);
- ``ffmpeg_missing``: a model is there but ffmpeg is not, so no voice note can be decoded.

The overall status, for monitors: ``down`` when no company data can be served; ``degraded``
when something that is configured does not work — Bitrix24 unreachable while a snapshot
serves, a failed refresh, or voice in one of the last three states; ``ok`` otherwise. So a
text-only deployment (``not_configured``) is ``ok`` — nothing configured is broken — but its
Russian headline never says «всё работает»: it says that only text works.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.probe import NEEDED_SCOPES, ProbeResult, probe_portal
from bot.answers import age_label
from bot.speech.audio import ModelUnavailableError, find_ffmpeg
from bot.speech.recognizer import validate_model_dir
from bot.speech.service import SpeechService, SpeechStatus

_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s,;:()'\"]+")

VoiceState = Literal[
    "ready", "not_loaded", "not_configured", "model_missing", "load_failed", "ffmpeg_missing"
]
#: Voice was meant to work and cannot: the overall status is at best "degraded".
BROKEN_VOICE: frozenset[str] = frozenset({"model_missing", "load_failed", "ffmpeg_missing"})

_VOICE_TEXT: dict[str, str] = {
    "not_configured": "модель не настроена (задайте VOSK_MODEL_PATH "
    "или выполните `audiobot model download`)",
    "model_missing": "папки модели нет или она неполная",
    "load_failed": "модель не загрузилась",
    "ffmpeg_missing": "не найден ffmpeg — голосовые не декодировать",
}


@dataclass(frozen=True)
class VoiceHealth:
    """Whether voice notes can be transcribed now, and if not, why (see the module docstring)."""

    state: VoiceState
    reason: str | None = None  # English detail; may hold the model's path (admins only)
    model: str | None = None  # the model directory's name

    @property
    def available(self) -> bool:
        """True only when a voice note sent now would be transcribed."""
        return self.state == "ready"

    @property
    def broken(self) -> bool:
        """Configured but not working (makes the overall status "degraded")."""
        return self.state in BROKEN_VOICE


def voice_health(
    speech: SpeechService | None, model_path: Path | None, ffmpeg: Path | None
) -> VoiceHealth:
    """The voice state from the loaded service, or, when none is loaded, from the disk."""
    if speech is not None:
        status = speech.status()
        state: VoiceState = "ready" if status.available else _as_state(status.state)
        return VoiceHealth(state, status.reason, status.model_dir)
    name = model_path.name if model_path else None
    if model_path is None:
        return VoiceHealth("not_configured", "no model configured")
    try:
        validate_model_dir(model_path)  # a few stat calls: the model itself is not loaded
    except ModelUnavailableError as exc:
        return VoiceHealth(_as_state(exc.kind), exc.reason, name)
    if ffmpeg is None:
        return VoiceHealth("ffmpeg_missing", "ffmpeg not found", name)
    return VoiceHealth("not_loaded", "the speech model is not loaded in this command", name)


def _as_state(value: str) -> VoiceState:
    states: tuple[VoiceState, ...] = (
        "not_configured",
        "model_missing",
        "load_failed",
        "ffmpeg_missing",
    )
    for state in states:
        if value == state:
            return state
    return "load_failed"


@dataclass(frozen=True)
class HealthReport:
    """Everything `/health` says."""

    status: str  # "ok" | "degraded" | "down"
    uptime_s: float
    probe: ProbeResult
    cache_age_s: float | None
    cache_source: str | None
    houses: int | None
    speech: SpeechStatus | None
    ffmpeg: str | None
    last_error: str | None
    embedded_portal: bool
    voice: VoiceHealth
    #: Why the last refresh was held back (`bitrix.cache`), while the old snapshot serves.
    held_back: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """`GET /api/health`: no secrets, no personal data."""
        probe = self.probe
        return {
            "status": self.status,
            "uptime_s": round(self.uptime_s, 1),
            "bitrix24": {
                "reachable": probe.reachable,
                "ok": probe.ok,
                "latency_ms": None if probe.latency_s is None else round(probe.latency_s * 1000),
                "scopes_granted": list(probe.granted) if probe.granted is not None else None,
                "scopes_needed": list(NEEDED_SCOPES),
                "scopes_missing": list(probe.missing),
                "error": probe.error.code or probe.error.kind if probe.error else None,
                "embedded_demo": self.embedded_portal,
            },
            "speech": _public_speech(self.speech, self.voice, ffmpeg=bool(self.ffmpeg)),
            "ffmpeg": bool(self.ffmpeg),
            "cache_age_s": None if self.cache_age_s is None else round(self.cache_age_s, 1),
            "cache_source": self.cache_source,
            "houses": self.houses,
            # A refresh that would have shrunk the company implausibly: not served, not saved.
            "snapshot_held_back": list(self.held_back) or None,
        }


def _public_speech(
    speech: SpeechStatus | None, voice: VoiceHealth, *, ffmpeg: bool
) -> dict[str, Any]:
    # `/api/health` is open to monitoring: full paths (ffmpeg's, the model directory in a
    # failure reason) would show the server's layout and its user's home directory.
    if speech is None:
        data: dict[str, Any] = {"model_dir": voice.model, "ffmpeg": ffmpeg}
    else:
        data = speech.to_dict()
        data["ffmpeg"] = bool(data["ffmpeg"])
    data.update(
        available=voice.available,
        state=voice.state,
        loaded=speech is not None,
        reason=voice.reason,
    )
    if data["reason"]:
        data["reason"] = _ABSOLUTE_PATH.sub(lambda m: Path(m.group(0)).name, data["reason"])
    return data


async def collect_health(
    *,
    client: BitrixClient,
    cache: CompanyCache,
    speech: SpeechService | None,
    started_at: float,
    embedded_portal: bool = False,
    model_path: Path | None = None,
) -> HealthReport:
    """Run every check now.

    ``model_path`` is the model directory the settings name (`resolve_model_path`): when
    ``speech`` is None (not loaded in this command) it is checked on disk without loading.
    """
    probe = await probe_portal(client)
    view = cache.view()
    speech_status = speech.status() if speech is not None else None
    ffmpeg = find_ffmpeg()
    voice = voice_health(speech, model_path, ffmpeg)
    last_error = None
    if cache.last_error is not None:
        last_error = str(cache.last_error)
    elif probe.error is not None:
        last_error = str(probe.error)
    cache_failed = cache.last_error is not None
    if view is None and cache_failed:
        # Nothing to answer from: Bitrix24 may answer `scope`, but the company data does not
        # load (a wrong pipeline, unreadable fields) — every question would fail.
        status = "down"
    elif probe.ok and not cache_failed and not voice.broken:
        status = "ok"
    elif view is not None or probe.ok:
        # Bitrix24 down but a snapshot serves, or voice broken while text works.
        status = "degraded"
    else:
        status = "down"
    return HealthReport(
        status=status,
        uptime_s=time.monotonic() - started_at,
        probe=probe,
        cache_age_s=view.age_s if view else None,
        cache_source=view.source if view else None,
        houses=len(view.snapshot.houses) if view else None,
        speech=speech_status,
        ffmpeg=str(ffmpeg) if ffmpeg else None,
        last_error=last_error,
        embedded_portal=embedded_portal,
        held_back=tuple(cache.held_back or ()),
        voice=voice,
    )


def render_health(report: HealthReport, *, load_hint: str | None = None) -> str:
    """The Russian `/health` text for admins.

    ``load_hint`` says when a model that is not loaded yet would be (the chat: «при первом
    /voice»). «Всё работает» only when voice works too.
    """
    icon = {"ok": "✅", "degraded": "⚠️", "down": "⛔"}[report.status]
    status_word = {
        "ok": "всё работает",
        "degraded": "работает с ограничениями",
        "down": "не работает",
    }[report.status]
    voice = report.voice
    if report.status == "ok" and not voice.available:
        status_word = (
            "текст работает, модель речи ещё не загружена"
            if voice.state == "not_loaded"
            else "текст работает, голос недоступен"
        )
    lines = [f"{icon} Состояние: {status_word}"]
    lines.append(f"Работает: {_duration(report.uptime_s)}")
    probe = report.probe
    portal = "встроенный демо-портал" if report.embedded_portal else "Bitrix24"
    if probe.ok:
        assert probe.latency_s is not None
        lines.append(f"{portal}: доступен, ответ за {probe.latency_s * 1000:.0f} мс")
    elif probe.error is not None:
        lines.append(f"{portal}: ошибка — {probe.error.user_message}")
        lines.append(f"Что сделать: {probe.error.admin_hint}")
    if probe.granted is not None:
        granted = ", ".join(s for s in NEEDED_SCOPES if s in probe.granted) or "нет"
        lines.append(f"Права вебхука: {granted}")
        lines.extend(f"  нет права «{s}» ({NEEDED_SCOPES[s]})" for s in probe.missing)
    if report.cache_age_s is not None:
        source = " (с диска)" if report.cache_source == "disk" else ""
        lines.append(
            f"Данные: {report.houses} домов, обновлены {age_label(report.cache_age_s)}{source}"
        )
    else:
        lines.append("Данные: ещё не загружены")
    if report.held_back:
        lines.append(
            "Новые данные Bitrix24 отложены как неправдоподобные ("
            + "; ".join(report.held_back)
            + "); отвечаю по последним проверенным. Если изменение настоящее: "
            "audiobot snapshot accept"
        )
    lines.append(_voice_line(report, load_hint))
    lines.append("ffmpeg: найден" if report.ffmpeg else "ffmpeg: не найден (голос не работает)")
    if report.last_error:
        lines.append(f"Последняя ошибка: {report.last_error}")
    return "\n".join(lines)


def _voice_line(report: HealthReport, load_hint: str | None) -> str:
    voice, speech = report.voice, report.speech
    if voice.state == "ready" and speech is not None:
        load = f", загрузка {speech.load_seconds:.1f} с" if speech.load_seconds else ""
        return f"Распознавание речи: работает, модель {speech.model_name}{load}"
    if voice.state == "not_loaded":
        hint = f" ({load_hint})" if load_hint else ""
        return f"Распознавание речи: модель {voice.model} на месте, не загружена{hint}"
    text = f"Распознавание речи: недоступно — {_VOICE_TEXT.get(voice.state, voice.state)}"
    if voice.reason and voice.state in ("model_missing", "load_failed"):
        text += f": {voice.reason}"
    return text


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} мин"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} ч {minutes % 60} мин"
    return f"{hours // 24} дн. {hours % 24} ч"
