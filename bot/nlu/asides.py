"""Asides around a typed question: who is asking and why, not what (bot/nlu/cues.yaml, asides).

«Здравствуйте, я новый менеджер. Сколько домов в Кондрово?» asks the number of houses in
Kondrovo; «менеджер» is the speaker's position, not a filter. «Сколько квартир в домах УК
«Новый город»? Мне для договора.» — «мне» is not the asker's brigade. `drop_asides` removes
such clauses before the request is understood; when nothing else would remain it keeps the text.
Speech recognition gives no punctuation, so only typed text has clauses to drop.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["drop_asides"]

# A clause and the punctuation that ends it (kept so the rest reads as before).
_CLAUSE = re.compile(r"[^.,!?;:—–]+[.,!?;:—–]*")
_WORD = re.compile(r"[^\W_]+")


@cache
def _asides() -> dict[str, tuple[tuple[str, ...], ...]]:
    doc: dict[str, Any] = yaml.safe_load(
        resources.files("bot.nlu").joinpath("cues.yaml").read_text(encoding="utf-8")
    )
    return {
        key: tuple(tuple(str(p).split()) for p in phrases)
        for key, phrases in doc["asides"].items()
    }


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


def _starts(words: list[str], phrases: tuple[tuple[str, ...], ...], *, stem: bool) -> bool:
    for phrase in phrases:
        if len(words) < len(phrase):
            continue
        head, last = words[: len(phrase) - 1], words[len(phrase) - 1]
        if list(phrase[:-1]) == head and (
            last.startswith(phrase[-1]) if stem else last == phrase[-1]
        ):
            return True
    return False


def _speaker(clause: str) -> bool:
    """«я новый менеджер», «Здравствуйте, я стажёр в офисе» (lead words already split off)."""
    words = _words(clause)
    if len(words) < 2 or words[0] != "я":
        return False
    stems = _asides()
    keep = {p[0] for p in stems["speaker_keep"]}
    if any(w in keep or w[0].isdigit() for w in words):
        return False
    return _starts(words[1:], stems["speaker"], stem=True)


def _has_content(clauses: list[str]) -> bool:
    lead = {p[0] for p in _asides()["lead"]}
    return any(w not in lead for c in clauses for w in _words(c))


def drop_asides(text: str) -> str:
    """``text`` without clauses introducing the speaker and remarks after the question."""
    if not re.search(r"[.,!?;:—–]", text):
        return text
    clauses = _CLAUSE.findall(text)
    kept = [c for c in clauses if not _speaker(c)]
    if len(kept) < len(clauses):
        # «Здравствуйте, я новенькая. Кто …?»: the greeting before the introduction goes too.
        lead = {p[0] for p in _asides()["lead"]}
        kept = [c for c in kept if not (_words(c) and all(w in lead for w in _words(c)))]
    # Remarks after the last question mark: whole sentences that say why.
    last_q = max((i for i, c in enumerate(kept) if "?" in c), default=-1)
    if 0 <= last_q < len(kept) - 1:
        tail = "".join(kept[last_q + 1 :])
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", tail.strip()) if s]
        if sentences and all(
            _starts(_words(s), _asides()["remark"], stem=False) for s in sentences
        ):
            kept = kept[: last_q + 1]
    if len(kept) == len(clauses) or not _has_content(kept):
        return text
    return "".join(kept).strip()
