"""Asides around a typed question: who is asking and why, not what (bot/nlu/cues.yaml, asides).

«Здравствуйте, я новый менеджер. Сколько домов в Кондрово?» asks the number of houses in
Kondrovo; «менеджер» is the speaker's position, not a filter. «Сколько квартир в домах УК
«Новый город»? Мне для договора.» — «мне» is not the asker's brigade. `drop_asides` removes
such clauses before the request is understood; when nothing else would remain it keeps the text.
Speech recognition gives no punctuation, so only typed text has clauses to drop.

A whole sentence beside a question («…? Старшая по дому звонила.») goes too when it names
nothing the question does not name (``named``, the engine's tagger) and every question has a
question word of its own: it says why, not what. A sentence that names a house, a person, a
brigade, a word of task titles … stays — the question may lean on it («Мне дали адрес
Московская 54. Какая бригада его обслуживает?»).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["drop_asides", "split_sentences"]

# A clause and the punctuation that ends it (kept so the rest reads as before).
_CLAUSE = re.compile(r"[^.,!?;:—–]+[.,!?;:—–]*")
_WORD = re.compile(r"[^\W_]+")
# Where a sentence ends: its mark and a space («Ст.Разина 10/2» is one word).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@cache
def _asides() -> dict[str, tuple[tuple[str, ...], ...]]:
    doc: dict[str, Any] = yaml.safe_load(
        resources.files("bot.nlu").joinpath("cues.yaml").read_text(encoding="utf-8")
    )
    return {
        key: tuple(tuple(str(p).split()) for p in phrases)
        for key, phrases in doc["asides"].items()
    }


@cache
def _question_words() -> frozenset[str]:
    """«кто», «сколько», «какие» …: the words that make a sentence a question of its own
    (filters.yaml, question_words)."""
    doc: dict[str, Any] = yaml.safe_load(
        resources.files("bot.nlu").joinpath("filters.yaml").read_text(encoding="utf-8")
    )
    return frozenset(str(w) for w in doc["question_words"])


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
    return _speaking(words[1:])


def _speaking(words: list[str]) -> bool:
    """Words after «я» (or a clause going on with them: «…, только начинаю») that introduce
    the speaker, and no brigade or number that would say whose."""
    stems = _asides()
    keep = {p[0] for p in stems["speaker_keep"]}
    if any(w in keep or w[0].isdigit() for w in words):
        return False
    return _starts(words, stems["speaker"], stem=True)


def _apology(clause: str) -> bool:
    """«Простите за глупый вопрос,»: how the question is put, not what it asks."""
    return _starts(_words(clause), _asides()["preface"], stem=False)


def _requester(clause: str) -> bool:
    """«Директор попросил прикинуть:», «Начальник спросил,»: who wants the answer — a clause
    leading into the question (no question word of its own, so the question follows it)."""
    if not clause.rstrip().endswith((":", ",")):
        return False  # «Жилец … просит телефон своей УК. Где его взять?»: the sentence asks
    words = set(_words(clause))
    asked_by = {p[0] for p in _asides()["asked_by"]}
    return bool(words & asked_by) and not words & _question_words()


def _purpose(clause: str) -> bool:
    """«Для расчёта инвентаря:», «Мне для отчёта:»: why the answer is wanted, said before a
    colon that opens the question; its words («инвентаря») are no filter."""
    if not clause.rstrip().endswith(":"):
        return False
    words = _words(clause)
    return _starts(words, _asides()["remark"], stem=False) and not set(words) & _question_words()


def _has_content(clauses: list[str]) -> bool:
    lead = {p[0] for p in _asides()["lead"]}
    return any(w not in lead for c in clauses for w in _words(c))


def _introductions(clauses: list[str]) -> list[bool]:
    """Which clauses introduce the speaker: «я новенькая,» and the clauses of the same
    sentence going on with it («только начинаю работать»)."""
    marks: list[bool] = []
    for i, clause in enumerate(clauses):
        going_on = bool(marks) and marks[-1] and clauses[i - 1].rstrip().endswith(",")
        marks.append(_speaker(clause) or (going_on and _speaking(_words(clause))))
    return marks


def _statements(text: str, named: Callable[[str], frozenset[str]]) -> str | None:
    """``text`` without its sentences that are no question and name nothing the questions do
    not name; None when there is no such sentence (or nothing would be left to ask)."""
    parts = split_sentences(text)
    asking = [s for s in parts if s.endswith("?")]
    if not asking or len(asking) == len(parts):
        return None
    if not all(set(_words(s)) & _question_words() for s in asking):
        return None  # «…, не понимаю, что спрашивать. Подскажешь?»: the statement asks
    # Tagging a sentence is most of the cost of a long request: name the statements first,
    # and the questions only when a statement names something (an empty set is a subset of
    # anything, so then the questions' names cannot keep it). `named` is pure, so leaving a
    # call out changes no result.
    said = {s: named(s) for s in parts if s not in asking}
    asked: frozenset[str] = frozenset()
    if any(said.values()):
        asked = asked.union(*(named(s) for s in asking))
    kept = [s for s in parts if s in asking or not said[s] <= asked]
    if len(kept) == len(parts) or not _has_content(kept):
        return None
    return " ".join(kept)


def split_sentences(text: str) -> list[str]:
    """The sentences of a typed text (a mark and a space end one)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if _words(s)]


def drop_asides(text: str, named: Callable[[str], frozenset[str]] | None = None) -> str:
    """``text`` without clauses introducing the speaker and remarks around the question.

    ``named`` gives what a sentence names (kinds and values of its mentions); with it, whole
    sentences that name nothing more than the question are dropped too (module docstring).
    """
    if not re.search(r"[.,!?;:—–]", text):
        return text
    if named is not None:
        text = _statements(text, named) or text
    clauses = _CLAUSE.findall(text)
    marks = _introductions(clauses)
    # «Простите за глупый вопрос, …», «Директор попросил прикинуть: …», «Для расчёта
    # инвентаря: …»: an apology, who wants to know or why, when more is said after it.
    marks = [
        mark or (i < len(clauses) - 1 and (_apology(c) or _requester(c) or _purpose(c)))
        for i, (c, mark) in enumerate(zip(clauses, marks, strict=True))
    ]
    kept = [c for c, mark in zip(clauses, marks, strict=True) if not mark]
    if len(kept) < len(clauses):
        # «Здравствуйте, я новенькая. Кто …?»: the greeting before the introduction goes too.
        lead = {p[0] for p in _asides()["lead"]}
        greeting = [c for c in kept if _words(c) and all(w in lead for w in _words(c))]
        kept = [c for c in kept if c not in greeting]
        if not _has_content(kept) and greeting:
            # «Здравствуйте! Я новенькая, только начинаю работать.»: only a greeting is asked.
            return "".join(greeting).strip(" ,")
    # Remarks after the last question mark: whole sentences that say why.
    last_q = max((i for i, c in enumerate(kept) if "?" in c), default=-1)
    if 0 <= last_q < len(kept) - 1:
        tail = "".join(kept[last_q + 1 :])
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", tail.strip()) if s]
        if sentences and all(
            _starts(_words(s), _asides()["remark"], stem=False)
            or _starts(_words(s), _asides()["story"], stem=False)
            for s in sentences
        ):
            kept = kept[: last_q + 1]
    if len(kept) == len(clauses) or not _has_content(kept):
        return text
    return "".join(kept).strip()
