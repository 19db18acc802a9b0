"""Health of the whole assistant: Bitrix24, the company snapshot, speech, ffmpeg, uptime.

One report feeds `/health` in Telegram and the terminal chat (Russian text) and
`GET /api/health` (JSON). Every check is real: a Bitrix24 call with its latency, the cache's
actual age, the speech model's actual state. Nothing secret goes in: no webhook URL, no token,
no personal data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.probe import NEEDED_SCOPES, ProbeResult, probe_portal
from bot.answers import age_label
from bot.speech.audio import find_ffmpeg
from bot.speech.service import SpeechService, SpeechStatus

_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s,;:()'\"]+")


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
            "speech": _public_speech(self.speech),
            "ffmpeg": bool(self.ffmpeg),
            "cache_age_s": None if self.cache_age_s is None else round(self.cache_age_s, 1),
            "cache_source": self.cache_source,
            "houses": self.houses,
            # A refresh that would have shrunk the company implausibly: not served, not saved.
            "snapshot_held_back": list(self.held_back) or None,
        }


def _public_speech(speech: SpeechStatus | None) -> dict[str, Any]:
    # `/api/health` is open to monitoring: full paths (ffmpeg's, the model directory in a
    # failure reason) would show the server's layout and its user's home directory.
    if speech is None:
        return {"available": False, "reason": "off"}
    data = speech.to_dict()
    data["ffmpeg"] = bool(data["ffmpeg"])
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
) -> HealthReport:
    """Run every check now."""
    probe = await probe_portal(client)
    view = cache.view()
    speech_status = speech.status() if speech is not None else None
    ffmpeg = find_ffmpeg()
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
    elif probe.ok and not cache_failed and (speech_status is None or speech_status.available):
        status = "ok"
    elif view is not None or probe.ok:
        # Bitrix24 down but a snapshot serves, or speech missing while text works.
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
    )


def render_health(report: HealthReport) -> str:
    """The Russian `/health` text for admins."""
    icon = {"ok": "✅", "degraded": "⚠️", "down": "⛔"}[report.status]
    status_word = {
        "ok": "всё работает",
        "degraded": "работает с ограничениями",
        "down": "не работает",
    }
    lines = [f"{icon} Состояние: {status_word[report.status]}"]
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
    speech = report.speech
    if speech is None:
        lines.append("Распознавание речи: не запускалось")
    elif speech.available:
        load = f", загрузка {speech.load_seconds:.1f} с" if speech.load_seconds else ""
        lines.append(f"Распознавание речи: модель {speech.model_name}{load}")
    else:
        lines.append(f"Распознавание речи: выключено — {speech.reason}")
    lines.append("ffmpeg: найден" if report.ffmpeg else "ffmpeg: не найден (голос не работает)")
    if report.last_error:
        lines.append(f"Последняя ошибка: {report.last_error}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} мин"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} ч {minutes % 60} мин"
    return f"{hours // 24} дн. {hours % 24} ч"
