"""The language engine: a Russian request in, an intent with resolved slots out.

Pipeline:

1. **normalise** (`bot.nlu.normalize`): case, ё, punctuation, fillers, number words → digits;
2. **tag** (`bot.nlu.tagger`): repair misheard words, find and resolve brigades, dates,
   houses, streets, companies, people and positions against the CRM, replace them with
   placeholders;
3. **match** the tagged sentence against the intent templates (`intents.yaml`, hassil) — a
   strict match is trusted;
4. otherwise a **keyword fallback** decides from cue words and the entities found, for noisy
   or unforeseen phrasing; it refuses when the cues are too weak, so out-of-domain requests
   become `unknown` rather than a confident wrong answer;
5. **context**: a follow-up («а у пятой?», «а телефон?») reuses the previous frame;
6. **resolve**: slots the intent takes are filled from the mentions; an ambiguous one turns the
   frame into a question with choices; a name the CRM lacks becomes a `Problem` to explain.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from typing import Any

import yaml
from hassil import Intents

from bitrix.address import normalize_number
from bitrix.company import CompanySnapshot
from bitrix.mapping import MONTHS_NOMINATIVE
from bitrix.models import Company, Department, Employee, House
from bot.nlu.catalog import Catalog, StreetEntry
from bot.nlu.coverage import slot_of, unapplied
from bot.nlu.dates import DateKind, DateMatch, DateRange
from bot.nlu.frame import INTENT_SLOTS, Choice, Frame, Problem
from bot.nlu.morph import Morph, company_core, default_morph
from bot.nlu.normalize import normalize
from bot.nlu.numbers import TokenKind, parse_number
from bot.nlu.registry import REGISTRY
from bot.nlu.tagger import BRIGADE_WORDS, CUE_DOC, FILTERS, Mention, Tagged, Tagger
from bot.nlu.templates import TemplateMatcher

log = logging.getLogger(__name__)

_WORD = re.compile(r"[а-яa-z]+")
_CYRILLIC_WORD = re.compile(r"[а-я]+")
_FOLLOWUP_MAX_WORDS = 5
# Without «а …» only a very short phrase ("пятой?", "завтра") continues the last question.
_UNMARKED_FOLLOWUP_MAX_WORDS = 2

# Cue stems of the keyword fallback (bot/nlu/cues.yaml).
_CUES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in CUE_DOC["cues"].items()}
# `_has` runs ~10 times a request: each cue's stems sorted once by how they are compared
# (whole words, phrases, prefixes).
_CUE_PARTS: dict[str, tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {
    cue: (
        frozenset(s[:-1] for s in stems if s.endswith("$")),
        tuple(s for s in stems if not s.endswith("$") and " " in s),
        tuple(s for s in stems if not s.endswith("$") and " " not in s),
    )
    for cue, stems in _CUES.items()
}
# Words that put a request outside the bot's world even when domain words surround it
# ("сколько стоит уборка подъезда", "вызови такси на Пролетарскую 112"): prices, orders,
# purchases, transport, entertainment, news. The keyword fallback refuses such requests.
_OUT_OF_DOMAIN = (
    "стоит", "стоимост", "цена", "цену", "цены", "прайс", "тариф", "заплат", "оплат",
    "такси", "вызови", "вызвать", "закаж", "заказать", "заказы", "куп", "прода", "погод",
    "музык",
    "анекдот", "шутк", "новост", "президент", "переведи", "перевод", "рецепт", "курс",
    "фильм", "сериал", "игра", "сыгра", "включи", "выключи", "будильник", "зарплат",
    "отпуск", "больничн", "сообщени", "смс", "письмо", "доехать", "добраться", "проехать",
    "маршрут", "пробк",
    "живет", "живут", "проживает", "население", "жителей",
    "плат", "напиши", "написать", "вотсап", "ватсап", "вацап", "телеграм", "мессенджер",
    "заболе", "болею", "рентабель", "прибыл", "выручк", "доход", "расход", "бюджет",
    "умнож", "плюс", "минус", "раздели", "рубл", "процент", "зп",
)  # fmt: skip


# Requests to change data (bot/nlu/writes.yaml): the bot only reads Bitrix24, and says so.
@dataclass(frozen=True)
class _WriteCues:
    verbs: tuple[str, ...]
    problems: tuple[str, ...]
    done: frozenset[str]
    questions: frozenset[str]

    @classmethod
    def load(cls) -> _WriteCues:
        doc = yaml.safe_load(
            resources.files("bot.nlu").joinpath("writes.yaml").read_text(encoding="utf-8")
        )
        return cls(
            verbs=tuple(doc["verbs"]),
            problems=tuple(doc["problems"]),
            done=frozenset(doc["done"]),
            questions=frozenset(doc["questions"]),
        )

    def is_write(self, words: list[str]) -> bool:
        """An order, a problem report or a cleaning reported done — not a question."""
        if any(w.startswith(self.verbs) for w in words):
            return True
        if any(w in self.questions for w in words):
            return False
        text = " " + " ".join(words) + " "
        if any(f" {cue}" in text for cue in self.problems):
            return True
        return any(w in self.done for w in words)


_WRITES = _WriteCues.load()


#: What a count counts, in the order tried (bot/nlu/cues.yaml).
_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (str(k), tuple(v)) for k, v in CUE_DOC["metrics"].items()
)


def _finished(tagged: Tagged) -> bool:
    """Whether the request asks for finished tasks («закрытые», not «не выполненные», and
    not «выполнена ли задача …», which asks the state of tasks whatever it is)."""
    words = [t.text for t in tagged.tokens]
    if "ли" in words:
        return False
    return any(
        _has([word], "done") and (i == 0 or words[i - 1] != "не") for i, word in enumerate(words)
    )


_PLANNED_IN: tuple[str, ...] = tuple(CUE_DOC["planned_in"])
_OUR_WORDS = frozenset(FILTERS["vocabulary"])


def _unplanned(words: list[str]) -> list[str]:
    """``words`` to check for out-of-domain stems: without our own words («включительно» is
    no «включи»; filters.yaml, vocabulary) and without «стоит/стоят» said of what is planned
    («стоит в календаре»), which would read as a price."""
    joined = " ".join(words)
    words = [w for w in words if w not in _OUR_WORDS]
    planned = (f"{verb} {place}" for verb in ("стоит", "стоят") for place in _PLANNED_IN)
    if not any(phrase in joined for phrase in planned):
        return words
    return [w for w in words if w not in ("стоит", "стоят")]


def _has(words: Iterable[str], cue: str) -> bool:
    """Whether a word starts with one of the cue's stems; "x$" must be the whole word "x",
    and a stem with a space must appear as a phrase."""
    words = list(words)
    whole, phrases, prefixes = _CUE_PARTS[cue]
    if not whole.isdisjoint(words):
        return True
    if phrases:
        joined = " ".join(words)
        if any(phrase in joined for phrase in phrases):
            return True
    return bool(prefixes) and any(w.startswith(prefixes) for w in words)


def template_vocabulary(doc: dict[str, Any]) -> set[str]:
    """Every word the templates can match (for repairing misheard words)."""
    text = yaml.safe_dump(doc, allow_unicode=True)
    return {w for w in _WORD.findall(text.lower()) if not w.startswith("x") or len(w) < 4}


#: Tagged texts whose template match is remembered (a few hundred bytes each).
_MATCH_CACHE_LIMIT = 20_000


class LanguageEngine:
    """Understands requests about one company snapshot. Build one per snapshot (≈ 0.2 s)."""

    def __init__(self, snapshot: CompanySnapshot, *, morph: Morph | None = None) -> None:
        started = time.perf_counter()
        self.snapshot = snapshot
        self.morph = morph or default_morph()
        doc = yaml.safe_load(
            resources.files("bot.nlu").joinpath("intents.yaml").read_text(encoding="utf-8")
        )
        self.intents = Intents.from_dict(doc)
        self.matcher = TemplateMatcher(self.intents, language="ru")
        words = template_vocabulary(doc)
        self.catalog = Catalog.from_snapshot(snapshot, self.morph, common_words=words)
        self.tagger = Tagger(
            self.catalog,
            snapshot,
            words | _EXTRA_VOCABULARY | _spoken_vocabulary(self.morph) | _filter_vocabulary(),
            self.morph,
        )
        self._matches: dict[str, tuple[str | None, dict[str, Any]]] = {}
        # The position brigade heads hold («Бригадир»): «кто старший по Кондрово» asks for it.
        held = [
            head.position
            for b in snapshot.brigades.values()
            if (head := snapshot.person(b.head_id)) is not None and head.position
        ]
        self.head_position = max(set(held), key=held.count) if held else None
        roots = [d for d in snapshot.departments.values() if d.parent_id is None]
        self.director = snapshot.person(roots[0].head_id) if len(roots) == 1 else None
        self.build_seconds = time.perf_counter() - started
        # hassil compiles each template on first use; warm up so the first user does not wait.
        self.matcher.recognize("xbrigade")
        log.info("language engine built in %.2f s", self.build_seconds)

    # ------------------------------------------------------------------ entry point
    def understand(self, text: str, *, today: date, previous: Frame | None = None) -> Frame:
        """Understand one request. Never raises on any input text."""
        normalized = normalize(text)
        if _WRITES.is_write([w.text for w in normalized.tokens]):
            return Frame("unknown", text=text, normalized=normalized.text, source="write")
        if self._order(normalized.tokens):
            return Frame("unknown", text=text, normalized=normalized.text, source="write")
        if normalized.command:
            name = "help" if normalized.command in ("help", "start", "помощь") else "unknown"
            return Frame(name, text=text, normalized=normalized.text, source="command")
        if not normalized.tokens:
            return Frame("unknown", text=text, normalized="", source="empty")
        respelled = _respell(normalized.tokens)
        if respelled is not None:
            normalized = replace(normalize(respelled), followup=normalized.followup)
        repaired, corrections = self.tagger.repair(normalized.tokens)
        corrected = _self_corrected(repaired)
        if corrections or corrected is not None:
            # Re-normalise the repaired words so number words fixed by the repair ("четыри" →
            # "четыре") reach ITN; keep the follow-up mark the first pass removed ("а …").
            again = normalize(self.tagger.repaired_text(corrected or repaired))
            normalized = replace(again, followup=normalized.followup)
        past = any(self._past_verb(t.text) for t in normalized.tokens if t.kind is TokenKind.WORD)
        tagged = self.tagger.tag(normalized, today, corrections=corrections, past=past)
        intent: str | None
        intent, fixed = self._match(tagged)
        source = "grammar"
        if intent is None:
            intent, fixed = self._fallback(tagged)
            source = "keywords"
        ranked = _rank(tagged)
        # «у кого больше всего домов» is a superlative over whatever matched; questions about one
        # house or about tasks keep their own intent (registry: rank_may_override).
        if ranked is not None and (intent is None or REGISTRY[intent].rank_may_override):
            intent, fixed, source = "rank", ranked, "keywords"
        # Pronouns outside names and dates ("на этой неделе" is a date, not "this one").
        anaphora = any(w in _ANAPHORA for w in tagged.text.split())
        # "у пятой?", "по Майской?": only names and numbers after a preposition continue the
        # last question even without "а" (speech recognition often drops it).
        content = [w for w in tagged.text.split() if not w.startswith("x")]
        elliptic = (
            not content
            and bool(tagged.mentions)
            and normalized.tokens[0].text in ("у", "в", "во", "на", "по", "для", "про")
        )
        if previous is not None and previous.clarify:
            chosen = self._choose(tagged, previous)
            if chosen is not None:
                return self._checked(
                    replace(chosen, text=text, normalized=tagged.text, source="context"), tagged
                )
        if (
            previous is not None
            and previous.intent in _CONTINUABLE
            and (normalized.followup or anaphora or elliptic or intent is None)
        ):
            frame = self._followup(
                tagged, previous, intent, fixed, text=text, marked=normalized.followup or elliptic
            )
            if frame is not None:
                return self._checked(frame, tagged)
        which = self._which_house(tagged, text)
        if which is not None:
            return which
        if intent is None:
            return Frame("unknown", text=text, normalized=tagged.text, source="none")
        intent, fixed, preset = self._refine(intent, fixed, tagged)
        if preset:
            base = Frame(intent, slots=preset, text=text, normalized=tagged.text, source=source)
            return self._checked(
                self._resolve(intent, fixed, tagged, text, source, base=base), tagged
            )
        return self._checked(self._resolve(intent, fixed, tagged, text, source), tagged)

    def named(self, text: str, *, today: date) -> frozenset[str]:
        """What one sentence names, as «kind:value» (bot/nlu/asides.py drops a statement that
        names nothing the question does not): its mentions, its title words («жалобы»), and
        words written as names the CRM does not know («ЖК «Молодёжный»»)."""
        normalized = normalize(text)
        repaired, corrections = self.tagger.repair(normalized.tokens)
        if corrections:
            normalized = normalize(self.tagger.repaired_text(repaired))
        tagged = self.tagger.tag(normalized, today, corrections=corrections)
        found = {f"{m.kind}:{_mention_key(m)}" for m in tagged.mentions}
        found |= {f"text:{m.value}" for m in tagged.texts}
        found |= {f"word:{w}" for w in tagged.unknown if w in _proper_words(text)}
        return frozenset(found)

    def _order(self, tokens: Sequence[Any]) -> bool:
        """An order passed to someone: an imperative, whom (dative), what to do (infinitive),
        and no question word («напомни коновалову сделать фотоотчёт», «передай бригаде убрать
        …») — a write request, never answered with data. «подскажи, как позвонить в УК» has a
        question word; «покажи дома, которые надо убрать» has nobody to pass it to."""
        words = [t.text for t in tokens if t.kind is TokenKind.WORD]
        if any(w in _QUESTION_WORDS for w in words):
            return False
        tags = [
            self.morph.parse(w)[0].tag
            for w in words
            if _CYRILLIC_WORD.fullmatch(w) and w not in _NOT_INFINITIVES
        ]
        step = 0  # 0: looking for the imperative, 1: for whom, 2: for the infinitive
        for tag in tags:
            if step == 0 and "impr" in tag:
                step = 1
            elif step == 1 and "datv" in tag and ("NOUN" in tag or "NPRO" in tag):
                step = 2
            elif step == 2 and "INFN" in tag:
                return True
        return False

    def _plural(self, phrase: str) -> bool:
        """Whether the last word of a phrase is plural («уборщиц», «бригадиров»)."""
        words = phrase.split()
        if not words or not _CYRILLIC_WORD.fullmatch(words[-1]):
            return False
        parses = self.morph.parse(words[-1])[:1]
        return bool(parses) and "plur" in parses[0].tag

    def _past_verb(self, word: str) -> bool:
        """A verb in the past tense («было», «убирали»): the question looks back in time."""
        if not _CYRILLIC_WORD.fullmatch(word):
            return False  # the dictionary reads Russian words only
        parses = self.morph.parse(word)[:1]
        return bool(parses) and "VERB" in parses[0].tag and "past" in parses[0].tag

    def _checked(self, frame: Frame, tagged: Tagged) -> Frame:
        """Rule 1: every part of the request is applied, or the frame says it was not."""
        if frame.intent == "count":
            frame = _both_metrics(frame, tagged)
        if frame.intent == "tasks.list" and _finished(tagged):
            # «сколько выполненных задач» asks the finished ones: the open list would be the
            # opposite set.
            frame = frame.with_slots(done=True)
        extra = unapplied(frame, tagged, self.tagger, self.morph)
        if not extra:
            return frame
        return replace(frame, problems=(*frame.problems, *extra))

    # ------------------------------------------------------------------ matching
    def _match(self, tagged: Tagged) -> tuple[str | None, dict[str, Any]]:
        # The templates see names and dates as placeholders («сколько домов у xperson»), so
        # different questions share a tagged text: hassil, about half of the time spent
        # understanding, runs once per shape of question (bounded cache per engine).
        cached = self._matches.get(tagged.text)
        if cached is not None:
            return cached[0], dict(cached[1])
        result = self.matcher.recognize(tagged.text)
        if result is None:
            found: tuple[str | None, dict[str, Any]] = (None, {})
        else:
            fixed = {name: entity.value for name, entity in result.entities.items()}
            found = (result.intent.name, fixed)
        if len(self._matches) < _MATCH_CACHE_LIMIT:
            self._matches[tagged.text] = found
        return found[0], dict(found[1])

    def _fallback(self, tagged: Tagged) -> tuple[str | None, dict[str, Any]]:
        """Decide from cue words when no template matched (noisy or unforeseen phrasing).

        Rules are tried in order; the first that fits wins. They refuse when the request is
        mostly words the engine has never seen, or names something outside its world.
        """
        words = [w for w in tagged.text.split() if not w.startswith("x")]
        kinds = {m.kind for m in tagged.mentions}
        fixed: dict[str, Any] = {}
        metric = _metric(words)
        if metric is None and kinds & {"floors", "apartments", "entrances", "lifts", "house_type"}:
            metric = "houses"  # "сколько девятиэтажек", "сколько панельных"
        if metric is None and kinds & {"street", "town"} and not tagged.unknown:
            # «чижевского у 4й бригады скока»: streets and towns hold houses only, so a bare
            # count there counts houses — unless a word we do not know says what is counted
            # («сколько градусов в Калуге»).
            metric = "houses"
        joined = " ".join(words)
        topic = _topic_position(words)
        if topic and {"кто", "кому"} & set(words) and not kinds - {"position", "department"}:
            # «к кому обратиться по вопросам зарплаты»: the people who handle it.
            return "employees.list", {"position": topic}
        if any(w.startswith(_OUT_OF_DOMAIN) for w in _unplanned(words)):
            return None, {}
        # Words never seen, not even misheard ("пробки", "москве"): when they make up half of
        # what was said, the request is about something else; guessing from the rest would be
        # a confident wrong answer.
        texts = {tagged.tokens[m.start].text for m in tagged.texts}
        foreign = [
            w
            for w in tagged.unknown
            if len(w) >= 4 and w not in texts and not self.tagger.near_vocabulary(w)
        ]
        content = [w for w in words if w not in _FUNCTION_WORDS] + [
            m.kind for m in tagged.mentions
        ]
        thanks = any(w.startswith(("спасиб", "благодар", "спс")) for w in words)
        if thanks and not kinds and len(words) <= 6:
            return "greeting", fixed  # "спасибо, милый" — whatever else was said
        if _has(words, "greeting") and not kinds and len(words) <= 2:
            return "greeting", fixed  # "прив": a word too short to be known otherwise
        if foreign and 2 * len(foreign) >= len(content):
            return None, {}
        # "сколько квартир в Москве": a place or name we do not know, used as a filter —
        # answering without it would be a wrong number.
        # «задачи по выдаче спецодежды»: a word before a title word («спецодежды») is the
        # title's topic, not a place.
        titled = texts | {m.text for m in tagged.texts}
        if any(
            w in foreign
            and i > 0
            and words[i - 1] in ("в", "во", "на", "по", "у")
            and not (i + 1 < len(words) and words[i + 1] in titled)
            for i, w in enumerate(words)
        ):
            return None, {}
        if (
            _has(words, "help")
            and not kinds - {"position"}
            and ({"как", "что", "какие", "какой"} & set(words) or "пример" in joined)
        ):
            return "help", fixed  # "я новый менеджер, как тут что спрашивать?"
        if (any(w in self.catalog.event_words for w in words) or _has(words, "duty")) and not _has(
            words, "tasks"
        ):
            # «задачи по проверке качества»: «задачи» sets the subject, whatever event shares
            # a word of it.
            return "calendar.list", fixed
        subjects = {m.near[0] for m in tagged.texts if m.near}
        if subjects == {"events"} and not _has(words, "tasks"):
            return "calendar.list", fixed  # "когда планерка"
        if (
            _has(words, "tasks")
            or (_has(words, "overdue") and not _has(words, "calendar"))
            or (
                subjects == {"tasks"}
                and not kinds - {"person", "brigade", "date", "house"}
                # «Мне поручили развезти спецодежду по первой бригаде. А сколько там
                # человек?»: a count of something else is asked; the title word is the story.
                and not (_has(words, "count") and metric not in (None, "houses"))
            )
        ):
            if _has(words, "overdue"):
                fixed["overdue"] = True
            return "tasks.list", fixed
        if _has(words, "calendar"):
            return "calendar.list", fixed
        if kinds == {"company"} and (asked := _asked(joined, FILTERS["company_fields"])):
            return "company.info", {"field": asked}  # "как позвонить в управляющую компанию ока"
        if "house" in kinds and _said(joined, FILTERS["house_brigade_cues"]):
            return "house.info", fixed  # "кто ответственный за кондрово пушкина 56"
        if "house" in kinds:
            if (
                _has(words, "schedule")
                or _has(words, "when")
                or "date" in kinds
                or (_has(words, "clean") and not _has(words, "info") and "кто" not in words)
            ):
                return "house.schedule", fixed
            if _has(words, "count") and metric:
                fixed["metric"] = metric
            return "house.info", fixed
        plural_brigades = any(w in ("бригады", "бригад", "бригадах", "бригадам") for w in words)
        if _has(words, "stats"):
            return "stats.summary", fixed  # "сводка по третьей: сколько домов, квартир, людей"
        # "сколько бригад и кто ими руководит" asks about heads; with a person named, the head
        # word is who they are ("у той бригады, где Петров главный").
        heads = (
            _has(words, "head")
            or any(_has(m.text.split(), "head") for m in tagged.mentions if m.kind == "position")
        ) and "person" not in kinds  # «кто в них бригадиры»: the role is tagged as a position
        if (
            heads
            and not kinds
            and not _has(words, "departments")  # «какие отделы в компании и кто ими руководит»
            and any(w.startswith(tuple(FILTERS["own_company_words"])) for w in words)
            and not _said(joined, FILTERS["company_words"])
            and self.director is not None
        ):
            # «кто руководитель компании», «кто главный в фирме»: ours — the head of the root
            # department, not a list of management companies.
            return "employee.info", {"person": self.director, "field": "position"}
        if _has(words, "count") and metric and not (heads or "кажд" in joined):
            return "count", {"metric": metric}  # "сколько всего бригад и отделов"
        if _has(words, "departments") or (
            "brigade" not in kinds
            and plural_brigades
            and (_has(words, "head") or "кажд" in joined or "кто" in words)
        ):
            return "departments.list", fixed  # "сколько бригад и кто ими руководит"
        if (
            _has(words, "companies")
            and not kinds
            and ("кажд" in joined or (_has(words, "houses") and metric != "houses"))
        ):
            return "companies.list", fixed  # "все УК и сколько у каждой домов"
        if "brigade" in kinds and _has(words, "info"):
            return "brigade.info", fixed  # "расскажи про пятую бригаду …"
        if "date" in kinds and (
            _has(words, "clean")
            or _has(words, "schedule")
            or _has(words, "houses")
            or _has(words, "where")
            or kinds & _HOUSE_FILTER_KINDS  # "что у нас третьего числа на пролетарской"
            # «что у ершовой послезавтра»: a person and a day, no fact of the person asked —
            # the day of her brigade, as a person filters houses (SPEC §5).
            or ("person" in kinds and _field(words) is None and not _has(words, "info"))
        ):
            return "schedule.day", fixed
        if _has(words, "stats"):
            return "stats.summary", fixed  # "сводка по третьей: сколько домов, квартир, людей"
        if _has(words, "count") and metric:
            return "count", {"metric": metric}
        if "person" in kinds:
            field_name = _field(words)
            if field_name:
                fixed["field"] = field_name
            return "employee.info", fixed
        if "brigade" in kinds and _has(words, "head"):
            return "brigade.info", fixed
        if (
            kinds & {"street", "town"}
            and not kinds & {"person", "brigade", "house", "position"}
            and _has(words, "head")
            and self.head_position
        ):
            # «кто старший по Кондрово»: the heads of the brigades serving its houses.
            return "employees.list", {"position": self.head_position}
        if kinds & _HOUSE_FILTER_KINDS and (
            _has(words, "houses")
            or _has(words, "clean")
            or kinds & _HOUSE_KIND_WORDS
            # «кто у нас отвечает за Кондрово»: its houses, each with its brigade
            or (_said(joined, FILTERS["house_brigade_cues"]) and "brigade" not in kinds)
        ):
            return "houses.list", fixed  # "двухэтажки в кондрово": the word names houses
        if (
            "position" in kinds
            or _has(words, "people")
            or ("brigade" in kinds and "кто" in words)
            # «кто в офисе»; not «где пообедать рядом с офисом»
            or ("department" in kinds and "кто" in words)
        ):
            return "employees.list", fixed
        if _has(words, "companies") and kinds and kinds <= _HOUSE_FILTER_KINDS - {"company"}:
            return "companies.list", fixed  # "какие управляющие компании работают в кондрово"
        if _has(words, "companies") and not kinds:
            return "companies.list", fixed
        if _has(words, "help"):
            return "help", fixed
        if (_has(words, "greeting") or "пока" in words) and (
            len(words) <= 4 or _has(words[:1], "greeting")
        ):
            return "greeting", fixed
        if kinds == {"brigade"} and len(words) <= 2:
            return "brigade.info", fixed
        if kinds <= {"company", "street", "town", "house_type"} and kinds and len(words) <= 2:
            return "houses.list", fixed
        return None, {}

    # ------------------------------------------------------------------ context
    def _followup(
        self,
        tagged: Tagged,
        previous: Frame,
        intent: str | None,
        fixed: dict[str, Any],
        *,
        text: str,
        marked: bool,
    ) -> Frame | None:
        """«а у пятой?», «а телефон?», «а завтра?»: the previous question with new slots."""
        words = [w for w in tagged.text.split() if not w.startswith("x")]
        limit = _FOLLOWUP_MAX_WORDS if marked else _UNMARKED_FOLLOWUP_MAX_WORDS
        if len(tagged.text.split()) > limit:
            return None
        target = previous.intent
        if target == "rank" and not tagged.mentions and _metric(words) is None:
            # «у какой бригады больше всего домов» → «а меньше всего»: the same ranking, the
            # other end.
            joined = " ".join(words)
            least = _said(joined, FILTERS["rank_least"]) or any(
                w in FILTERS["compare_less"] for w in words
            )
            most = _said(joined, FILTERS["rank_cues"]) or any(
                w in FILTERS["compare_more"] for w in words
            )
            if least or most:
                slots = {k: v for k, v in previous.slots.items() if k != "order"}
                if least:
                    slots["order"] = "least"
                return Frame(
                    "rank", slots=slots, text=text, normalized=tagged.text, source="context"
                )
        # A date after a list of a brigade's houses asks which of them are cleaned that day.
        if tagged.first("date") and target == "houses.list":
            target = "schedule.day"
        if "house" in previous.slots and intent is None:
            # "а когда его убирают?", "а задачи по нему?" after a question about one house.
            house_field = _asked(" ".join(words), FILTERS["house_fields"])
            if "кто" in words and not _has(words, "schedule") and not _has(words, "when"):
                target = "house.info"  # «а кто там убирает?»: the card names its brigade
            elif _has(words, "schedule") or _has(words, "when") or _has(words, "clean"):
                target = "house.schedule"
            elif _has(words, "tasks"):
                target = "tasks.list"
            elif house_field:
                # «а код домофона?», «а ключи где?» after a house: that field of it.
                base = Frame(
                    "house.info",
                    slots={"house": previous.slots["house"], "field": house_field},
                    text=text,
                    normalized=tagged.text,
                    source="context",
                )
                return self._resolve("house.info", {}, tagged, text, "context", base=base)
        company_field = _asked(" ".join(words), FILTERS["company_fields"])
        if "company" in previous.slots and intent is None and company_field:
            target = "company.info"  # "а телефон у них какой" after the houses of a УК
        said_house = previous.slots.get("house")
        if (
            isinstance(said_house, House)
            and not tagged.mentions
            and _said(" ".join(words), FILTERS["company_words"])
            and (company_field or _has(words, "phone"))
        ):
            # «а тел ук» after a house: its management company's field (as `_refine` does).
            its_company = self.snapshot.companies.get(said_house.company_id or "")
            if its_company is not None:
                base = Frame(
                    "company.info",
                    slots={"company": its_company, "field": company_field or "phone"},
                    text=text,
                    normalized=tagged.text,
                    source="context",
                )
                return self._resolve("company.info", {}, tagged, text, "context", base=base)
        if not words:
            intent = None  # only names and numbers ("а у пятой?"): new slots for the last question
        if intent is not None and intent != previous.intent:
            if "house" in previous.slots and intent in ("companies.list", "count"):
                intent = "house.info"  # "а какая там УК?", "а сколько там квартир?"
            if previous.intent == "count" and intent == "houses.list" and not _metric(words):
                intent = "count"  # "а по Майской что?" after "сколько домов у третьей"
            if any(w in ("всего", "все", "вообще", "всех") for w in words) and not any(
                w in _ANAPHORA for w in words
            ):
                # A question about everything is a new question — unless it points back at
                # the last set («а подъездов там сколько всего» after the houses of a street).
                return None
            carried = {k: v for k, v in previous.slots.items() if k in INTENT_SLOTS[intent]}
            base = Frame(
                intent, slots=carried, text=text, normalized=tagged.text, source="context"
            )
            return self._resolve(intent, fixed, tagged, text, "context", base=base)
        allowed = INTENT_SLOTS[target]
        updates: dict[str, Any] = {}
        mentions = [m for m in tagged.mentions if _slot_of(m, target) in allowed and not m.negated]
        if intent is not None and intent != previous.intent and not mentions:
            return None
        # "а у 5?": a bare number after a brigade question is the brigade.
        bare = tagged.bare_numbers()
        day = self._day_followup(bare, previous, tagged)
        if day is not None:
            # "что у третьей 14 числа" → "а 21го?": the slot keeps its kind — another day.
            updates["date"] = day
            bare = []
        if bare and "brigade" in allowed and not tagged.first("brigade"):
            number = bare[0]
            if number.value is not None and number.kind in (TokenKind.ORDINAL, TokenKind.CARDINAL):
                updates["brigade"] = number.value
        house = previous.slots.get("house")
        if bare and house is not None and "house" in allowed and not tagged.first("house"):
            # "а пятьдесят пять?" after a question about Московская 51: the same street.
            said = _number_text(bare[0])
            street_key = (house.address.town, house.address.street_key)
            other = self.snapshot.house_at(street_key, said) if said else None
            if other is not None:
                updates["house"] = other
        if _has(words, "count") and target == "houses.list":
            target, allowed = "count", INTENT_SLOTS["count"]  # "а сколько их?"
            updates["metric"] = _metric(words) or "houses"
        elif _has(words, "count") and house is not None:
            target, allowed = "house.info", INTENT_SLOTS["house.info"]  # "а сколько там квартир?"
        field_name = fixed.get("field") or _field(words)
        if field_name and target == "employee.info":
            updates["field"] = field_name
        said_brigade = previous.slots.get("brigade")
        if (
            field_name
            and target == "brigade.info"
            and isinstance(said_brigade, int)
            and not mentions
        ):
            # «кто бригадир четвёртой» → «а телефон»: the field of the head the answer named
            # (as `_refine` does for «телефон бригадира четвёртой»).
            brigade = self.snapshot.brigades.get(said_brigade)
            head = self.snapshot.person(brigade.head_id) if brigade else None
            if head is not None:
                base = Frame(
                    "employee.info",
                    slots={"person": head, "field": field_name},
                    text=text,
                    normalized=tagged.text,
                    source="context",
                )
                return self._resolve("employee.info", {}, tagged, text, "context", base=base)
        if target == "house.schedule" and any(w.startswith(_LOOK_BACK) for w in words):
            # «когда следующая уборка на Зелёной 10» → «а последняя когда была»: looking back.
            updates["last"] = True
            updates["next"] = None
            if not tagged.first("date"):
                updates["month"] = updates["date"] = None
        elif target == "house.schedule" and (
            _said(" ".join(words), FILTERS["next_cues"])
            or any(w.startswith(("следующ", "ближайш")) for w in words)
        ):
            updates["next"] = True  # «… последний раз» → «а следующая когда?»
            updates["last"] = None
            if not tagged.first("date"):
                updates["month"] = updates["date"] = None
        if company_field and target == "company.info":
            updates["field"] = company_field
        metric = _metric(words)
        if metric and target == "count":
            updates["metric"] = metric
        if _has(words, "overdue") and target == "tasks.list":
            updates["overdue"] = True
            if not tagged.first("date"):
                updates["date"] = None  # «задачи на завтра» → «а просроченные?»: all overdue
        if (
            not mentions
            and not updates
            and "house" in previous.slots
            and target in ("house.info", "house.schedule")
            and ("кто" in words or _has(words, "when") or _has(words, "clean"))
        ):
            # «а кто там убирает?» after its card, «а когда следующая?» after its schedule:
            # the same house asked again (the answer names the brigade, the next visit).
            kept = {k: v for k, v in previous.slots.items() if k in INTENT_SLOTS[target]}
            kept.pop("last", None)
            kept.pop("next", None)
            base = Frame(target, slots=kept, text=text, normalized=tagged.text, source="context")
            return self._resolve(target, {}, tagged, text, "context", base=base)
        if not mentions and not updates and target == previous.intent:
            return None
        kept = {k: v for k, v in previous.slots.items() if k in allowed}
        new_kinds = {_slot_of(m, target) for m in mentions}
        if "date" in new_kinds:
            kept.pop("overdue", None)  # "просроченные задачи" → "а завтра?": tomorrow's tasks
        # A house's schedule has one period: «…на следующей неделе» → «а в декабре?» asks the
        # month instead of the week, and the other way round.
        for said_kind, replaced in (("date", "month"), ("month", "date")):
            if said_kind in new_kinds:
                kept.pop(replaced, None)
                # «… последний раз» → «а в декабре?»: that month's schedule, not the last visit
                kept.pop("last", None)
                kept.pop("next", None)
        filters = {"brigade", "company", "street"}
        narrowing = "из них" in tagged.text or "среди них" in tagged.text
        if target in ("houses.list", "count") and new_kinds & filters and not narrowing:
            # "сколько квартир у третьей" → "а на Гвардейской?": the street instead.
            kept = {k: v for k, v in kept.items() if k not in filters}
        base = Frame(target, slots=kept, text=text, normalized=tagged.text, source="context")
        base = base.with_slots(**updates)
        return self._resolve(target, {}, tagged, text, "context", base=base)

    @staticmethod
    def _day_followup(bare: list[Any], previous: Frame, tagged: Tagged) -> DateRange | None:
        """A bare day number after a question about one day is another day of that month."""
        period = previous.slots.get("date")
        if not bare or tagged.first("date") or not isinstance(period, DateRange):
            return None
        token = bare[0]
        value = token.value
        if not isinstance(value, int) or not 1 <= value <= 31 or period.start != period.end:
            return None
        day_like = token.source.endswith(("го", "е", "м")) or "числ" in tagged.text
        if "brigade" in previous.slots and not day_like:
            return None
        try:
            day = period.start.replace(day=value)
        except ValueError:
            return None
        return DateRange(day, day)

    def _choose(self, tagged: Tagged, question: Frame) -> Frame | None:
        """An answer to a clarifying question given in words: «Ольга», «которая в пятой»,
        «в Кондрово». None unless exactly one choice fits."""
        words = {t.text for t in tagged.tokens}
        brigade = tagged.first("brigade")
        towns = {self.catalog.towns[w] for w in words if w in self.catalog.towns}
        people = set().union(*(self.catalog.first_names.get(w, set()) for w in words))

        def fits(value: Any) -> bool:
            return (
                (brigade is not None and getattr(value, "brigade", None) == brigade.value)
                or (isinstance(value, Employee) and value.id in people)
                or bool(towns and _town_of(value) in towns)
            )

        fitting = [c for c in question.choices if any(fits(v) for v in c.frame.slots.values())]
        if not fitting and tagged.tokens and all(t.is_number for t in tagged.tokens):
            # «майская 23 …» → «Майская 23/2 or 23к1?» → «23/2»: the number of one of the
            # houses offered (only numbers said, nothing else).
            said = {normalize_number(n) for t in tagged.bare_numbers() if (n := _number_text(t))}
            fitting = [
                c
                for c in question.choices
                if any(
                    isinstance(v, House) and normalize_number(v.address.number) in said
                    for v in c.frame.slots.values()
                )
            ]
            offered = {
                (v.address.town, v.address.street_key)
                for c in question.choices
                for v in c.frame.slots.values()
                if isinstance(v, House)
            }
            if not fitting and len(offered) == 1 and len(said) == 1:
                # «код домофона Зеленая» → «Какой дом? (всего 22)» → «87»: a house of that
                # street beyond the buttons shown.
                found = self.snapshot.house_at(next(iter(offered)), next(iter(said)))
                if found is not None:
                    return question.choices[0].frame.with_slots(house=found)
        return fitting[0].frame if len(fitting) == 1 else None

    def _refine(
        self, intent: str, fixed: dict[str, Any], tagged: Tagged
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Questions about one person asked through their role: "телефон бригадира первой
        бригады", "телефон директора". Returns (intent, fixed slots, preset slots)."""
        words = [w for w in tagged.text.split() if not w.startswith("x")]
        field_name = fixed.get("field") or _field(words)
        if intent == "brigade.info" and field_name:
            mention = tagged.first("brigade")
            number = mention.value if mention else None
            brigade = self.snapshot.brigades.get(number) if isinstance(number, int) else None
            head = self.snapshot.person(brigade.head_id) if brigade else None
            if head is not None:
                return "employee.info", {"field": field_name}, {"person": head}
        said_date = tagged.first("date")
        if said_date is not None and getattr(said_date.value, "kind", None) is DateKind.YEAR:
            said_date = None  # «сколько домов сдали в этом году» is no day of cleaning
        if intent == "count" and said_date is not None:
            # "сколько домов убираем завтра": a number of cleanings on a day.
            return "schedule.day", {}, {}
        person = tagged.first("person")
        joined = " ".join(words)
        if intent in ("employee.info", "employees.list", "departments.list") and person:
            if (
                intent == "employee.info"
                and not fixed.get("field")
                and (_has(words, "houses") or _has(words, "clean"))
            ):
                return "houses.list", {}, {}  # "какие дома у петрова": his brigade's houses
            if "кто" in words and field_name == "brigade":
                return "employees.list", {}, {}  # "кто в бригаде у ершовой"
            if (
                intent == "employee.info"
                and not fixed.get("field")
                and _has(words, "people")
                and any(w.startswith("бригад") for w in words)
            ):
                # «перечислите сотрудников бригады Коновалова»: the people of his brigade,
                # not his card.
                return "employees.list", {}, {}
            if _said(joined, ("отдел", "подразделени", "департамент")):
                return "employee.info", {"field": "department"}, {}  # "в каком отделе бурова"
        house = tagged.first("house")
        if (
            house is not None
            and isinstance(house.value, House)
            and intent in ("house.info", "house.schedule", "company.info", "companies.list")
            and _said(joined, FILTERS["company_words"])
        ):
            # «телефон УК на Жукова 7», «какая УК у дома … и её телефон»: the field of the
            # house's own management company (a house without one: its card says so).
            asked = _asked(joined, FILTERS["company_fields"]) or (
                "phone" if _has(words, "phone") else None
            )
            its_company = self.snapshot.companies.get(house.value.company_id or "")
            if asked and its_company is not None:
                return "company.info", {"field": asked}, {"company": its_company}
        if house is not None and intent in ("house.info", "house.schedule"):
            if _said(joined, FILTERS["last_cues"]) and tagged.first("date") is None:
                return "house.schedule", {"last": True}, {}
            if _said(joined, FILTERS["next_cues"]) and tagged.first("date") is None:
                return "house.schedule", {"next": True}, {}
            asked = _asked(joined, FILTERS["house_fields"])
            if asked is None:
                # «Билибина 4а — панельный или кирпичный?»: a value of a house's fact, said
                # of one house, asks that fact (the tagger took the word as a filter).
                asked = next((f for f in FILTERS["house_fields"] if tagged.first(f)), None)
            if asked and intent in ("house.info", "house.schedule"):
                # «где ключи от Майской 12? мне туда завтра»: the crew's field is the question;
                # the date only says when they go (the answer names the field, not the days).
                return "house.info", {"field": asked}, {}
        company = tagged.first("company")
        if company is not None and intent in ("houses.list", "companies.list", "count"):
            asked = _asked(joined, FILTERS["company_fields"])
            if asked is None and not _said(joined, ("дом", "объект")):
                # «адрес мупа управление домами»: with no house word, the bare field word
                # asks the УК's own field («адреса УК» stays its houses: whole words).
                asked = next(
                    (
                        f
                        for f, cue in FILTERS["company_fields_bare"].items()
                        if set(cue) & set(words)
                    ),
                    None,
                )
            if asked is None and _has(words, "head") and "дом" not in joined:
                asked = "contact"  # «кто руководит УК Гарант»: its contact person, if any
            if asked:
                return "company.info", {"field": asked}, {}
        position = tagged.first("position")
        department = tagged.first("department")
        if (
            department is not None
            and isinstance(department.value, Department)
            and position is None
            and person is None
            and _has(words, "head")
            and intent in ("employees.list", "departments.list", "brigade.info")
        ):
            # «кто руководит офисом», «кто главный в офисе»: the department's head.
            head = self.snapshot.person(department.value.head_id)
            if head is not None:
                return "employee.info", {}, {"person": head}
        if (
            intent == "count"
            and position is not None
            and person is None
            and fixed.get("metric") not in _SUM_METRICS
            and not _said(joined, ("дом",))
        ):
            # «сколько бухгалтеров в компании»: a role counted is people, whatever else the
            # words name («компании» is where, not what).
            return "count", {"metric": "employees"}, {}
        if position is not None and person is not None and not field_name:
            if "кто из" in joined or self._plural(position.text):
                # "кто из уборщиц у коновалова": those of his brigade who hold the position.
                return "employees.list", {}, {}
            if not _has(words, "count"):
                # "Беляева Валентина — это диспетчер?": a question about her position.
                return "employee.info", {"field": "position"}, {}
        if position is not None and person is None and intent == "calendar.list":
            # The mention's span includes its preposition («у директора»).
            spans = [t.text for t in tagged.tokens[max(0, position.start - 1) : position.end]]
            before = next((w for w in spans if w in ("у", "для")), "")
            holders = self.snapshot.people(position=str(position.value))
            if before in ("у", "для") and len(holders) == 1:
                return intent, fixed, {"person": holders[0]}  # «события у директора»: his
        if position is not None and field_name and intent in ("employees.list", "employee.info"):
            holders = self.snapshot.people(position=str(position.value))
            in_brigade = tagged.first("brigade")
            if in_brigade is not None:
                holders = [p for p in holders if p.brigade == in_brigade.value]
            if len(holders) == 1:
                return "employee.info", {"field": field_name}, {"person": holders[0]}
        return intent, fixed, {}

    # ------------------------------------------------------------------ resolving slots
    def _resolve(
        self,
        intent: str,
        fixed: dict[str, Any],
        tagged: Tagged,
        text: str,
        source: str,
        *,
        base: Frame | None = None,
    ) -> Frame:
        allowed = INTENT_SLOTS[intent]
        slots: dict[str, Any] = dict(base.slots) if base else {}
        slots.update({k: v for k, v in fixed.items() if k in allowed})
        problems: list[Problem] = []
        ambiguous: Mention | None = None
        for mention in tagged.mentions:
            slot = _slot_of(mention, intent)
            if slot not in allowed or mention.negated:
                continue  # «кроме третьей бригады» is never the brigade asked (coverage says it)
            if mention.missing or (mention.value is None and not mention.choices):
                problems.append(_problem(mention))
                slots.pop(slot, None)
                continue
            if mention.choices and mention.kind == "person" and tagged.first("brigade"):
                # "телефон ивановой из пятой бригады": the brigade picks the namesake.
                number = tagged.first("brigade").value  # type: ignore[union-attr]
                narrowed = [p for p in mention.choices if getattr(p, "brigade", None) == number]
                if len(narrowed) == 1:
                    mention.value, mention.choices = narrowed[0], []
            town = tagged.first("town")
            if mention.choices and mention.kind == "street" and town is not None:
                # «дома в Калуге на улице Кирова»: the town picks the street among namesakes.
                narrowed = [c for c in mention.choices if getattr(c, "town", None) == town.value]
                if len(narrowed) == 1:
                    mention.value, mention.choices = narrowed[0], []
            if mention.choices:
                if ambiguous is None:
                    ambiguous = mention
                slots.pop(slot, None)
                continue
            value = mention.value
            if slot == "month":
                assert isinstance(value, DateMatch)
                value = value.range.month
            elif slot == "date":
                assert isinstance(value, DateMatch)
                value = value.range
            if slot in slots and slot not in (base.slots if base else {}):
                continue  # the first mention of a kind wins
            slots[slot] = value
        if isinstance(slots.get("among"), list):
            # The compared groups are what is ranked, not a filter of the houses.
            slots.pop(str(slots.get("by")), None)
            slots.pop("person", None)
        if "within" in allowed and "date" in slots and _narrowed(tagged, "date"):
            slots["within"] = slots.pop("date")  # «… и какие из них на этой неделе»
        if "text" in allowed and "text" not in slots:
            titled = _titled_text(tagged, REGISTRY[intent].titled - set(allowed))
            if titled is not None:
                slots["text"] = titled  # the name is more specific than «собрание»
            elif tagged.texts:
                # «задачи по проверке качества»: the word of this subject's titles («качеств»),
                # not the calendar's («проверк»).
                own = [
                    m for m in tagged.texts if m.near and m.near[0] == _TITLE_SUBJECT.get(intent)
                ]
                slots["text"] = (own or tagged.texts)[0].value
        frame = Frame(
            intent,
            slots=slots,
            text=text,
            normalized=tagged.text,
            problems=tuple(problems),
            source=source,
        )
        if ambiguous is not None:
            frame = self._clarify(frame, ambiguous, intent)
        return frame

    def _which_house(self, tagged: Tagged, text: str) -> Frame | None:
        """«код домофона Зеленая»: a fact of one house asked of a whole street. Each house has
        its own code and note, so the street's house list would not answer it: asked which."""
        street = tagged.first("street")
        if street is None or tagged.first("house") is not None or len(tagged.mentions) != 1:
            return None
        entry = street.value
        joined = " ".join(w for w in tagged.text.split() if not w.startswith("x"))
        asked = _asked(joined, FILTERS["house_fields"])
        if not isinstance(entry, StreetEntry) or asked not in _ONE_HOUSE_FIELDS:
            return None
        houses = self.snapshot.houses_where(street=entry.key)
        frame = Frame(
            "house.info",
            slots={"field": asked},
            text=text,
            normalized=tagged.text,
            source="grammar",
        )
        choices = tuple(Choice(label=h.title, frame=frame.with_slots(house=h)) for h in houses[:8])
        more = f" (всего {len(houses)}; назовите номер)" if len(houses) > 8 else ""
        return replace(frame, question=f"Какой дом на улице {entry.label}?{more}", choices=choices)

    def _clarify(self, frame: Frame, mention: Mention, intent: str) -> Frame:
        slot = _slot_of(mention, intent)
        choices = tuple(
            Choice(label=_choice_label(value), frame=frame.with_slots(**{slot: value}))
            for value in mention.choices[:8]
        )
        question = {
            "house": f"Какой дом вы имели в виду — «{mention.text}»?",
            "street": f"Какую улицу вы имели в виду — «{mention.text}»?",
            "person": f"Кого вы имели в виду — «{mention.text}»?",
            "company": f"Какую управляющую компанию вы имели в виду — «{mention.text}»?",
        }.get(slot, "Уточните, пожалуйста:")
        return replace(frame, question=question, choices=choices)


#: Facts each house has its own of, so a street cannot answer them.
_ONE_HOUSE_FIELDS = frozenset({"intercom", "note"})
#: Whose titles each intent's `text` searches (filters.yaml, text_filters).
_TITLE_SUBJECT = {"tasks.list": "tasks", "calendar.list": "events"}
#: Intents a follow-up («а у пятой?») may continue (registry: followup).
_CONTINUABLE = REGISTRY.names(followup=True)
_QUESTION_WORDS = frozenset(FILTERS["question_words"])
_NOT_INFINITIVES = frozenset(FILTERS["not_infinitives"])
_HOUSE_FILTER_KINDS = frozenset(
    {"brigade", "company", "street", "town", "house_type", "floors", "apartments", "entrances",
     "lifts", "no_company"}
)  # fmt: skip
# Mentions that are themselves kinds of houses ("девятиэтажки", "панельные").
_HOUSE_KIND_WORDS = frozenset({"floors", "apartments", "entrances", "lifts", "house_type"})
_EXTRA_VOCABULARY = frozenset(
    {"сегодня", "завтра", "послезавтра", "вчера", "неделе", "неделю", "неделя", "месяце",
     "месяц", "выходных", "выходные", "этой", "следующей", "прошлой", "следующий", "этом",
     "следующем", "прошлом", "через", "дней", "дня", "день", *BRIGADE_WORDS}
)  # fmt: skip


_FUNCTION_WORDS = frozenset(
    {"в", "во", "на", "у", "по", "с", "со", "к", "ко", "о", "об", "а", "и", "ну", "же", "ли",
     "за", "из", "от", "до", "для", "не", "то", "что", "как", "кто", "мне", "нам", "нас"}
)  # fmt: skip
_ANAPHORA = frozenset(
    {"его", "него", "нему", "ему", "ней", "нее", "неё", "ее", "её", "их", "них", "там",
     "этому", "этот", "этого", "этой", "тот", "том", "она", "он", "они", "ей", "ним", "нем",
     "нём"}
)  # fmt: skip
_CORRECTION_MARKERS = (
    ("ой", "нет"),
    ("то", "есть"),
    ("ой",),
    ("вернее",),
    ("точнее",),
    ("нет",),
    ("извини",),
    ("в", "смысле"),
)


# Abbreviations Vosk spells out letter by letter ("тэ эс жэ" for ТСЖ).
_SPELLED = {
    ("тэ", "эс", "жэ"): "тсж",
    ("тэ", "эс", "эн"): "тсн",
    ("жэ", "эс", "ка"): "жск",
    ("эм", "у", "пэ"): "муп",
    ("жэ", "э", "у"): "жэу",
    ("у", "ка"): "ук",
    ("жэ", "ка", "ха"): "жкх",
    ("кол", "вом"): "количеством",  # typed "кол-вом"
    ("кол", "ва"): "количества",
}
# In-vocabulary words Vosk hears instead of a number ("бригады при" for «бригады три»),
# trusted only where a number is expected: after a number, "бригада" or "номер".
_NUMBER_HOMOPHONES = {"при": "три", "да": "два", "пядь": "пять", "петь": "пять",
                      "сем": "семь", "вам": "два", "семья": "семь а", "бы": "б"}  # fmt: skip
_EXPECTS_NUMBER = frozenset(
    {"номер", "бригада", "бригады", "бригаде", "бригаду", "бригадой", "корпус", "дробь"}
)
# Colloquial brigade names that are not in the number lexicon.
_NICKNAMES = {"трешка": "тройка", "трешку": "тройку", "трешки": "тройки", "двушка": "двойка",
              "двушку": "двойку", "двушки": "двойки"}  # fmt: skip
# Typed shorthand for "бригада": "бр 2", "бр.4", "2 бриг".
_BRIGADE_SHORTHAND = frozenset({"бр", "бриг", "брига"})
# Ordinal endings typed after digits without a hyphen ("2ю бригаду" → "2-ю").
_DIGIT_ENDINGS = frozenset({"ю", "я", "й", "ой", "ая", "ую", "ей", "ий", "го", "му", "м"})


def _respell(tokens: Sequence[Any]) -> str | None:
    """Undo speech-recognition and typing habits that hide words the engine knows:
    spelled-out abbreviations, number homophones after a number or "бригада", a number glued
    to "дом" ("пятьдом"), "бр"/"бриг" for "бригада", "2ю" for "2-ю". None when nothing
    changed. Works on the words as said (numbers as their source words) for re-normalising."""
    words = [t.source if t.is_number else t.text for t in tokens]
    out: list[str] = []
    changed = False
    i = 0
    while i < len(words):
        word = words[i]
        spelled = next((a for k, a in _SPELLED.items() if tuple(words[i : i + len(k)]) == k), None)
        if spelled is not None:
            length = next(len(k) for k, a in _SPELLED.items() if a == spelled)
            out.append(spelled)
            i += length
            changed = True
            continue
        before = tokens[i - 1] if i else None
        after_number = before is not None and before.is_number
        if word in _NUMBER_HOMOPHONES and (after_number or (out and out[-1] in _EXPECTS_NUMBER)):
            out.append(_NUMBER_HOMOPHONES[word])
            changed = True
        elif word in _NICKNAMES:
            out.append(_NICKNAMES[word])
            changed = True
        elif word == "столько" and not out:
            out.append("сколько")  # Vosk's "столько" for a leading "сколько"
            changed = True
        elif word in _BRIGADE_SHORTHAND:
            out.append("бригады")
            changed = True
        elif word in _DIGIT_ENDINGS and before is not None and before.source.isdigit():
            out[-1] = f"{out[-1]}-{word}"
            changed = True
        elif word.endswith("дом") and len(word) > 3 and parse_number(word[:-3]) is not None:
            out.extend((word[:-3], "дом"))
            changed = True
        else:
            out.append(word)
        i += 1
    return " ".join(out) if changed else None


def _self_corrected(tokens: list[Any]) -> list[Any] | None:
    """ "третьей ой нет четвертой бригады" → "четвертой бригады": a number said again after
    a correction word replaces the number before it. None when there is no such correction."""
    for i in range(1, len(tokens)):
        for marker in _CORRECTION_MARKERS:
            end = i + len(marker)
            if tuple(t.text for t in tokens[i:end]) != marker or end >= len(tokens):
                continue
            if tokens[i - 1].is_number and tokens[end].is_number:
                return [*tokens[: i - 1], *tokens[end:]]
    return None


#: «а последняя когда была», «а в прошлый раз»: a follow-up of a house's schedule looking back.
_LOOK_BACK = ("последн", "прошл", "предыдущ")
_COLLOQUIAL_NUMBERS = ("единица", "двойка", "тройка", "четверка", "пятерка", "шестерка", "семерка")
_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
_FILLERS = ("короче", "блин", "типа", "кстати", "значит", "слушай", "ладно", "так", "вот")


# Whole words behind the out-of-domain stems: in the vocabulary, their misheard forms
# ("стоет", "соабщение") are repaired to them and then refused.
_OUT_OF_DOMAIN_WORDS = ("стоит", "стоимость", "цена", "сообщение", "зарплата", "погода",
                        "такси", "анекдот", "музыка", "новости", "прибыль", "рентабельность",
                        "заболела", "заболел", "платим", "напиши", "отправь")  # fmt: skip


def _spoken_vocabulary(morph: Morph) -> set[str]:
    """Every case form of words people say around names: colloquial brigade numbers
    ("пятерка"), months, weekdays, fillers, out-of-domain words — so that a slip in them can
    be repaired."""
    words: set[str] = set(_FILLERS)
    for word in (*_COLLOQUIAL_NUMBERS, *MONTHS_NOMINATIVE, *_WEEKDAYS, *_OUT_OF_DOMAIN_WORDS):
        words |= morph.word_forms(word)
    return words


_slot_of = slot_of


def _filter_vocabulary() -> set[str]:
    """Every whole word of `filters.yaml`'s phrases and its ``vocabulary`` list."""
    out: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and " " in node:
            out.update(node.split())

    walk(FILTERS)
    out.update(FILTERS["vocabulary"])
    return out


def _said(joined: str, cues: Iterable[str]) -> bool:
    """Whether a cue is said: a phrase as words in order, a single word as a word's start."""
    words = joined.split()
    for cue in cues:
        if " " in cue:
            if f" {cue}" in f" {joined}":
                return True
        elif any(w.startswith(cue) for w in words):
            return True
    return False


def _asked(joined: str, table: dict[str, list[str]]) -> str | None:
    """The first field of a table whose cue is said."""
    return next((name for name, cues in table.items() if _said(joined, cues)), None)


def _rank(tagged: Tagged) -> dict[str, Any] | None:
    """ "у кого больше всего домов", "где больше всего квартир": the metric and what ranks."""
    words = [w for w in tagged.text.split() if not w.startswith("x")]
    joined = " ".join(words)
    compared = _compared(tagged, words)
    if not _said(joined, FILTERS["rank_cues"]) and compared is None:
        each = _asked(joined, FILTERS["breakdown_by"])
        metric = _metric(words) if each else None
        if each is None or metric is None or metric in ("employees", "brigades", "companies"):
            return None
        if metric == "houses" and not _said(joined, ("дом", "объект", "адрес")):
            return None
        return {"metric": metric, "by": each, "each": True}
    by = compared[0] if compared else _asked(joined, FILTERS["rank_by"]) or "brigade"
    # «в каком доме больше всего квартир»: when houses are what is ranked, the house word
    # names the ranked thing, not the metric.
    skip: tuple[str, ...] = ("бригад", "ук", "управляющ")
    if by == "house":
        skip = (*skip, "дом", "объект")
    metric = _asked(joined, FILTERS["rank_metrics"]) or _metric(
        [w for w in words if not w.startswith(skip)]
    )
    if metric is None or metric in ("brigades", "companies"):
        metric = "houses" if _said(joined, ("дом",)) else metric
    if metric is None and compared and _has(words, "clean"):
        metric = "houses"  # «кто больше убирает, Коновалов или Ершова»: houses cleaned
    if metric is None:
        return None
    if by == "house" and metric == "houses":
        by = "brigade"
    slots: dict[str, Any] = {"metric": metric, "by": by}
    if compared:
        slots["among"] = compared[1]
    if _said(joined, FILTERS["rank_least"]) or (
        compared and any(w in FILTERS["compare_less"] for w in words)
    ):
        slots["order"] = "least"
    return slots


#: What a comparison «где больше подъездов — в Калуге или в Кондрово» can set side by side.
_COMPARABLE = ("town", "brigade", "person", "street", "company")


def _compared(tagged: Tagged, words: list[str]) -> tuple[str, list[Any]] | None:
    """«где больше подъездов в Калуге или в Кондрово», «у кого меньше домов, у третьей или у
    пятой»: two or more named groups of one kind joined by «или» with «больше»/«меньше» —
    a superlative among them. Returns the kind and the groups."""
    if "или" not in words or not any(
        w in FILTERS["compare_more"] or w in FILTERS["compare_less"] for w in words
    ):
        return None
    for kind in _COMPARABLE:
        named = [m for m in tagged.mentions if m.kind == kind]
        if len(named) < 2 or any(m.value is None or m.choices or m.missing for m in named):
            continue
        values: list[Any] = []
        for m in named:
            # «кто больше убирает, Коновалов или Ершова»: a person stands for their brigade.
            value = m.value.brigade if isinstance(m.value, Employee) else m.value
            if value is None:
                return None  # someone outside the brigades has no houses to compare
            if value not in values:
                values.append(value)
        if len(values) >= 2:
            return ("brigade" if kind == "person" else kind), values
    return None


def _proper_words(text: str) -> set[str]:
    """Words written as names: capitalised inside a sentence or inside quotes."""
    quoted = {w.lower() for q in re.findall(r"[«\"]([^»\"]+)[»\"]", text) for w in q.split()}
    capital = {w.lower() for w in re.findall(r"(?<=[\w,»\"] )[А-ЯЁ][а-яё]+", text)}
    return {w.replace("ё", "е") for w in quoted | capital}


def _mention_key(mention: Mention) -> str:
    """A mention's value as text to compare sentences by: the entity's id, a date's days,
    or the words said when the name is not (uniquely) found."""
    value = mention.value
    if mention.missing or value is None:
        return mention.text
    if isinstance(value, DateMatch):
        return f"{value.range.start}..{value.range.end}"
    return str(getattr(value, "id", value))


def _town_of(value: Any) -> str | None:
    if isinstance(value, House):
        return value.address.town
    if isinstance(value, StreetEntry):
        return value.town
    return None


def _number_text(token: Any) -> str | None:
    if token.kind is TokenKind.HOUSE and token.house is not None:
        return str(token.house)
    return str(token.value) if token.value is not None else None


def _metric(words: list[str]) -> str | None:
    """The first thing counted in the request ("сколько домов без УК" counts houses); "у
    бригады Кондратьевой домов" counts houses, not brigades: a brigade or company word is the
    metric only when nothing else is counted."""
    found = [
        name
        for word in words
        for name, stems in _METRICS
        if any(word.startswith(stem) for stem in stems)
    ]
    if not found:
        return None
    other = [m for m in found if m not in ("brigades", "companies")]
    return found[0] if found[0] not in ("brigades", "companies") or not other else other[0]


#: Metrics a count sums over houses; its answer names the number of houses too.
_SUM_METRICS = ("apartments", "entrances", "floors", "lifts")


def _both_metrics(frame: Frame, tagged: Tagged) -> Frame:
    """ "сколько домов у УК «Гарант» и сколько в них квартир": two things counted. A sum's
    answer names its houses too, so houses and one sum are both answered by the sum; a second
    sum cannot be, and is reported rather than dropped (rule 1)."""
    words = [w for w in tagged.text.split() if not w.startswith("x")]
    said: dict[str, str] = {}
    for word in words:
        for name, stems in _METRICS:
            if name not in said and any(word.startswith(stem) for stem in stems):
                said[name] = word
    sums = [m for m in said if m in _SUM_METRICS]
    metric = frame.slots.get("metric", "houses")
    if not sums or (metric not in _SUM_METRICS and metric != "houses"):
        return frame
    if metric == "houses":
        frame = frame.with_slots(metric=sums[0])
        metric = sums[0]
    others = tuple(
        Problem(kind="unapplied", said=said[m], reason="metric") for m in sums if m != metric
    )
    return replace(frame, problems=(*frame.problems, *others)) if others else frame


def _topic_position(words: list[str]) -> str | None:
    """The position that handles a topic said (filters.yaml: position_topics)."""
    for position, stems in FILTERS["position_topics"].items():
        if any(w.startswith(tuple(stems)) for w in words):
            return str(position)
    return None


def _narrowed(tagged: Tagged, kind: str) -> bool:
    """Whether the mention of ``kind`` follows «из них» / «среди них»: it picks a part of the
    set asked for before it, which the answer shows whole."""
    words = [t.text for t in tagged.tokens]
    marks = [
        i for i in range(len(words) - 1) if words[i] in ("из", "среди") and words[i + 1] == "них"
    ]
    mention = tagged.first(kind)
    return bool(marks) and mention is not None and mention.start > marks[0]


def _titled_text(tagged: Tagged, kinds: Iterable[str]) -> str | None:
    """The title words a named house or УК stands for («собрание с ЖЭУ-5» → «жэу-5»), for an
    intent that finds it in the titles of tasks or events (registry: titled)."""
    wanted = set(kinds)
    for mention in tagged.mentions:
        if mention.kind not in wanted or mention.missing:
            continue
        value = mention.value
        if mention.choices:
            # «проверка качества на ленина»: Ленина in Kaluga and in Kondrovo is one word of
            # the titles; other namesakes are asked back.
            streets = [c for c in mention.choices if isinstance(c, StreetEntry)]
            if len(streets) < len(mention.choices) or len({c.street for c in streets}) != 1:
                continue
            value = streets[0]
        if isinstance(value, House):
            return value.title.lower().replace("ё", "е")
        if isinstance(value, Company):
            return company_core(value.name).lower().replace("ё", "е")
        if isinstance(value, StreetEntry):
            return value.street.lower().replace("ё", "е")
    return None


def _field(words: list[str]) -> str | None:
    joined = " ".join(words)
    asked = [
        name
        for name, said in (
            ("phone", _has(words, "phone")),
            ("email", _has(words, "email")),
            ("position", _has(words, "position") or "кем работает" in joined),
        )
        if said
    ]
    if len(asked) > 1:
        return None  # «должность и e-mail»: the whole card holds both; one would drop the other
    if asked:
        return asked[0]
    brigade_word = any(w.startswith("бригад") for w in words)
    if "бригаде" in words or (brigade_word and {"какая", "какой", "какую"} & set(words)):
        return "brigade"
    return None


def _problem(mention: Mention) -> Problem:
    if mention.closed is not None:
        # A closed contract: say so, with the open houses nearest by number on that street.
        closed = mention.closed
        numbers = sorted(
            (n for e in mention.near for n in e.numbers),
            key=lambda n: (abs(_leading(n) - _leading(closed.address.number_key)), _number_key(n)),
        )
        street = mention.near[0].label if mention.near else closed.address.street_label
        nearest = tuple(f"{street} {n}" for n in numbers[:4])
        return Problem(kind="house", said=closed.title, near=nearest, reason="closed")
    near: list[str] = []
    for entry in mention.near:
        if isinstance(entry, StreetEntry):
            numbers = sorted(entry.numbers, key=_number_key)
            shown = ", ".join(numbers[:8]) + ("…" if len(numbers) > 8 else "")
            near.append(f"{entry.label} {shown}")
        else:
            near.append(getattr(entry, "name", str(entry)))
    return Problem(kind=mention.kind, said=mention.text, near=tuple(near), reason=mention.reason)


def _leading(number: str) -> int:
    """The leading digits of a house number ("40б" → 40)."""
    digits = re.match(r"\d+", number)
    return int(digits.group()) if digits else 0


def _number_key(number: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"\d+|\D+", number))


def _choice_label(value: Any) -> str:
    if isinstance(value, House):
        return value.title
    if isinstance(value, StreetEntry):
        return value.label
    if isinstance(value, Employee):
        detail = value.position or ""
        if value.brigade:
            detail = f"{detail}, бригада {value.brigade}".strip(", ")
        return f"{value.short_name} ({detail})" if detail else value.short_name
    if isinstance(value, Company):
        return value.name
    return str(value)
