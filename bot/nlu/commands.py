"""Write requests (SPEC §9): «на майской 8 сломан домофон» → a `Command` to confirm, then write.

This module only *understands*; the preview, the confirmation and the exactly-once write live
elsewhere. The language (cue words, times of day, default times, titles, messages) is data in
``commands.yaml``, next to the shared cues of ``writes.yaml``; the algorithm is here:

1. **normalise and repair** the request the way the reading engine does (`normalize`, then
   `Tagger.repair`), so voice transcripts («майской восемь», «в восемь тридцать») and typed
   text («Майская 8», «в 8:30») read the same. The repair is skipped for a request that is no
   write as said and has no unknown word within the repair's reach of a cue: most requests
   are questions, and this runs before each of them;
2. **classify** from cue words: an order with a task noun («поставь задачу», «дай задание») or
   an order verb alone («поручи», «напомни») is `task.create`; «запланируй», «добавь в
   календарь», «назначь планёрку», or an event noun first with a date and a clock time
   («планёрка в понедельник в 8:30») is `calendar.create`; a problem word («сломан»,
   «протечка») is `house.problem`; a cleaning reported done («убрали», or «готово» next to a
   house) is `house.done`. A question word or a question mark keeps a report a question
   («какие дома убрали вчера», «работает ли домофон на майской 8») — then the result is None;
3. **tag** with the engine's `Tagger` (houses, streets, people, brigades, dates resolved against
   the snapshot): one match fills ``house``/``person``; several go to ``*_options`` to be asked,
   a fuzzy match too (a guess is never written); a name the CRM lacks goes to ``unresolved``;
4. **time**: a clock time («в 8:30», «в 3 часа дня», «в полдевятого») or a part of the day
   («к обеду») on the free words, combined with the date in the snapshot's time zone; without a
   time the kind's default time from ``commands.yaml`` applies (a deadline at 18:00, a meeting
   at 09:00 — and the meeting's ``when_text`` says the time was not given);
5. **summary**: the words left after removing the order, the house, the person and the date,
   in the user's own spelling (numbers as said, «ё» restored), capitalised.

``now`` is always passed in: nothing here reads the clock, so tests pin the day.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import yaml
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bitrix.models import Employee, House
from bot.nlu.catalog import StreetEntry
from bot.nlu.dates import DateKind, DateMatch, DateRange
from bot.nlu.morph import Morph
from bot.nlu.normalize import NormalizedText, normalize
from bot.nlu.numbers import Token, TokenKind, default_lexicon, parse_number
from bot.nlu.tagger import Mention, Tagged

if TYPE_CHECKING:  # the engine imports the tagger and grammar; only its type is needed here
    from bot.nlu.engine import LanguageEngine

__all__ = ["Command", "WriteKind", "parse_command"]

WriteKind = Literal["house.done", "house.problem", "task.create", "calendar.create"]


@dataclass(frozen=True)
class Command:
    """A request to write into Bitrix24, understood but not yet confirmed.

    Anything not resolved to exactly one thing is left for the dialogue to ask: several
    candidates in ``house_options``/``person_options``, names that match nothing (and missing
    parts such as the date of a meeting) as Russian phrases in ``unresolved``.
    """

    kind: WriteKind
    text: str  # the request as given
    house: House | None = None  # resolved house (the deal), when exactly one
    house_options: tuple[House, ...] = ()  # >1 candidates: must be asked, never guessed
    person: Employee | None = None  # task responsible / event attendee, when exactly one
    person_options: tuple[Employee, ...] = ()
    when: datetime | None = None  # tz-aware (snapshot TZ): deadline (task) or start (event)
    when_text: str = ""  # the words it came from («до пятницы», «в понедельник в 8:30»)
    summary: str = ""  # what: «Сломан домофон», «Проверить подвал», «Планёрка»
    unresolved: tuple[str, ...] = ()  # «дом «Майская 99» не найден», «не указана дата», …


# ---------------------------------------------------------------------- the language (YAML)
def _load(name: str) -> Any:
    return yaml.safe_load(resources.files("bot.nlu").joinpath(name).read_text(encoding="utf-8"))


def _phrases(items: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Phrases as word tuples, longest first (so «к концу рабочего дня» beats «к концу дня»)."""
    return tuple(sorted((tuple(str(p).split()) for p in items), key=lambda p: -len(p)))


def _clock(value: str) -> time:
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class _Language:
    """commands.yaml and writes.yaml, shaped for matching."""

    task_verbs: frozenset[str]
    task_nouns: tuple[str, ...]
    task_orders: frozenset[str]
    task_weak: frozenset[str]
    task_heads: frozenset[str]
    calendar_orders: frozenset[str]
    calendar_verbs: frozenset[str]
    calendar_places: tuple[tuple[str, ...], ...]
    events: dict[str, str]
    default_title: str
    report_verbs: frozenset[str]
    report_mark: frozenset[str]
    cleaning: tuple[str, ...]
    problems: tuple[str, ...]
    problems_short: tuple[tuple[str, ...], ...]
    problems_weak: tuple[str, ...]
    done: frozenset[str]
    done_weak: frozenset[str]
    done_title: str
    problem_title: str
    questions: frozenset[str]
    indefinite: frozenset[str]
    question_phrases: tuple[tuple[str, ...], ...]
    date_lead: tuple[tuple[str, ...], ...]
    periods: dict[tuple[str, ...], str]
    time_lead: frozenset[str]
    hour_words: frozenset[str]
    minute_words: frozenset[str]
    afternoon: frozenset[str]
    morning: frozenset[str]
    not_hour_before: tuple[str, ...]
    half: frozenset[str]
    half_words: dict[tuple[str, ...], time]
    parts_of_day: dict[tuple[str, ...], time]
    default_time: dict[str, time]
    drop_leading: tuple[tuple[str, ...], ...]
    drop_trailing: frozenset[str]
    messages: dict[str, str]
    #: Every cue word (exact) and cue stem (prefix): never "repaired" into another word.
    exact: frozenset[str]
    stems: tuple[str, ...]

    @classmethod
    def load(cls) -> _Language:
        doc = _load("commands.yaml")
        shared = _load("writes.yaml")
        task, calendar, report, clock = doc["task"], doc["calendar"], doc["report"], doc["time"]
        questions = [*shared["questions"], *doc["questions"]]
        exact, stems = _cue_words(doc, shared)
        return cls(
            task_verbs=_polite(task["verbs"]),
            task_nouns=tuple(task["nouns"]),
            task_orders=_polite(task["orders"]),
            task_weak=_polite(task["weak"]),
            task_heads=frozenset(task["heads"]),
            calendar_orders=_polite(calendar["orders"]),
            calendar_verbs=_polite(calendar["verbs"]),
            calendar_places=_phrases(calendar["places"]),
            events={str(k): str(v) for k, v in calendar["events"].items()},
            default_title=str(calendar["default_title"]),
            report_verbs=_polite(report["verbs"]),
            report_mark=_polite(report["mark"]),
            cleaning=tuple(report["cleaning"]),
            # A problem cue matches at a word start, like writes.yaml's («протечк» → протечка).
            problems=tuple(dict.fromkeys([*shared["problems"], *report["problems"]])),
            problems_short=_phrases(report["problems_short"]),
            problems_weak=tuple(report["problems_weak"]),
            done=frozenset(shared["done"]),
            done_weak=frozenset(report["done_weak"]),
            done_title=str(report["done_title"]),
            problem_title=str(report["problem_title"]),
            questions=frozenset(q for q in questions if " " not in q),
            indefinite=frozenset(doc["indefinite"]),
            question_phrases=_phrases(q for q in questions if " " in q),
            date_lead=_phrases(doc["date_lead"]),
            periods={tuple(str(k).split()): str(v) for k, v in doc["periods"].items()},
            time_lead=frozenset(clock["lead"]),
            hour_words=frozenset(clock["hour_words"]),
            minute_words=frozenset(clock["minute_words"]),
            afternoon=frozenset(clock["afternoon"]),
            morning=frozenset(clock["morning"]),
            not_hour_before=tuple(clock["not_hour_before"]),
            half=frozenset(clock["half"]),
            half_words={tuple(str(k).split()): _clock(v) for k, v in clock["half_words"].items()},
            parts_of_day={
                tuple(str(k).split()): _clock(v) for k, v in clock["parts_of_day"].items()
            },
            default_time={str(k): _clock(v) for k, v in doc["default_time"].items()},
            drop_leading=_phrases(doc["summary_drop_leading"]),
            drop_trailing=frozenset(doc["summary_drop_trailing"]),
            messages={str(k): str(v) for k, v in doc["messages"].items()},
            exact=exact,
            stems=stems,
        )

    def protects(self, word: str) -> bool:
        """Whether a word is one of the cues (the repair must leave it as said)."""
        return word in self.exact or word.startswith(self.stems)

    def event_title(self, word: str) -> str | None:
        """The title of the event a word names («планерку» → «Планёрка»), or None."""
        return next((t for cue, t in self.events.items() if _fits(cue, word)), None)


def _polite(words: Iterable[str]) -> frozenset[str]:
    """Imperatives with their plural/polite form: «поставь» → «поставьте», «запиши» →
    «запишите», «дай» → «дайте». Derived rather than listed, so a verb added to the YAML is
    understood both ways (newcomers and the office say «вы»). Infinitives get a form too
    («отметитьте»): nobody says it, so it matches nothing — cheaper than telling «отметь» (an
    imperative) from «сметь» (an infinitive) by their ending."""
    out = set(words)
    for word in words:
        if word.endswith(("ь", "й", "и")):
            out.add(word + "те")
    return frozenset(out)


def _cue_words(doc: Any, shared: Any) -> tuple[frozenset[str], tuple[str, ...]]:
    """The words of every cue list: the repair of misheard words knows the reading grammar's
    vocabulary, not this one, and would turn «утром» into «утро» or «протечка» into
    «проверка»."""
    exact: set[str] = set()
    stems: set[str] = set()

    def walk(node: Any, *, prefix: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("messages", "not_hour_before"):
                    walk(str(key), prefix=prefix)
                    walk(value, prefix=prefix or key == "problems")
        elif isinstance(node, list):
            for item in node:
                walk(item, prefix=prefix)
        elif isinstance(node, str) and ":" not in node:
            for word in node.split():
                if word.endswith("*"):
                    stems.add(word[:-1])
                elif prefix and len(word) >= 4:
                    stems.add(word)  # a problem cue matches at a word start
                else:
                    exact.update(_polite([word]))  # «поставьте» is a cue as «поставь» is

    walk(doc, prefix=False)
    walk(shared, prefix=False)
    return frozenset(w for w in exact if w.isalpha()), tuple(sorted(stems))


def _fits(pattern: str, word: str) -> bool:
    """A YAML word pattern: «задач*» is a prefix, anything else the whole word."""
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _phrase_at(words: Sequence[str], i: int, phrase: Sequence[str]) -> bool:
    return i + len(phrase) <= len(words) and all(
        _fits(p, w) for p, w in zip(phrase, words[i : i + len(phrase)], strict=False)
    )


_LANG = _Language.load()
_LEXICON = default_lexicon()


# ---------------------------------------------------------------------- classification
@dataclass
class _Intent:
    """What the cue words say, before the names are looked at."""

    kind: WriteKind
    order: set[int] = field(default_factory=set)  # the order's words: not part of the summary
    needs_house: bool = False  # «готово»: a report only next to a house
    needs_time: bool = False  # «планёрка в понедельник в 8:30»: an event only with date and time


def _is_question(words: Sequence[str], text: str) -> bool:
    if text.rstrip().endswith("?"):
        return True
    for i, word in enumerate(words):
        # «кто-то оставил мусор»: «кто» with «то» after it asks nothing.
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in _LANG.questions and after not in _LANG.indefinite:
            return True
    return any(_phrase_at(words, i, p) for i in range(len(words)) for p in _LANG.question_phrases)


def _classify(words: Sequence[str], text: str, engine: LanguageEngine) -> _Intent | None:
    """The write intent the cue words name, or None for a question or anything else."""
    question = _is_question(words, text)
    for i, word in enumerate(words):
        if word in _LANG.task_verbs:
            for j in range(i + 1, min(i + 4, len(words))):
                if any(_fits(n, words[j]) for n in _LANG.task_nouns):
                    return _Intent("task.create", {i, j})
        if word in _LANG.task_orders:
            after = words[i + 1] if i + 1 < len(words) else ""
            if word in _LANG.task_weak and (after in _LANG.questions or not after):
                return None  # «напомни, когда планёрка» asks; «напомни» alone says nothing
            return _Intent("task.create", {i})
    headed = None if question else _headed_task(words, text, engine)
    if headed is not None:
        return headed
    for i, word in enumerate(words):
        if word in _LANG.calendar_orders:
            return _Intent("calendar.create", {i})
        if word in _LANG.calendar_verbs:
            for j in range(i + 1, min(i + 3, len(words))):
                place = next((p for p in _LANG.calendar_places if _phrase_at(words, j, p)), None)
                if place is not None:
                    return _Intent("calendar.create", {i, *range(j, j + len(place))})
                if _LANG.event_title(words[j]) is not None:
                    return _Intent("calendar.create", {i})
    reported = [i for i, w in enumerate(words) if w in _LANG.report_verbs]
    if question and not reported:
        return None
    joined = " " + " ".join(words) + " "
    if any(f" {cue}" in joined for cue in _LANG.problems) or any(
        _phrase_at(words, i, p) for i in range(len(words)) for p in _LANG.problems_short
    ):
        return _Intent("house.problem", set(reported))
    # «уборка», «уборку» next to a cleaning done only repeats the title «Уборка выполнена».
    cleaning = {i for i, w in enumerate(words) if any(_fits(c, w) for c in _LANG.cleaning)}
    done = [i for i, w in enumerate(words) if w in _LANG.done]
    if done:
        return _Intent("house.done", {*reported, *done, *cleaning})
    weak = [i for i, w in enumerate(words) if w in _LANG.done_weak]
    if weak:
        return _Intent("house.done", {*reported, *weak, *cleaning}, needs_house=True)
    marked = [i for i in reported if words[i] in _LANG.report_mark and i + 1 in cleaning]
    if marked:  # «отметьте уборку на пушкина 49»: the cleaning is reported done
        return _Intent("house.done", {*reported, *cleaning}, needs_house=True)
    if not question and any(
        _fits(cue, w) for w in words for cue in _LANG.problems_weak
    ):  # «на пушкина 49 мусор на лестнице»: a problem only when a house is named
        return _Intent("house.problem", set(reported), needs_house=True)
    first = next((i for i, w in enumerate(words) if w not in ("а", "и", "у", "нас")), None)
    if first is not None and _LANG.event_title(words[first]) is not None:
        return _Intent("calendar.create", needs_time=True)
    return None


def _headed_task(words: Sequence[str], text: str, engine: LanguageEngine) -> _Intent | None:
    """«задача фокиной вымыть первый этаж», «задачу беляевой: закупить перчатки»: a singular
    task noun, a name in the dative (one or two words: «валентине беляевой») and then the task
    — an infinitive, or a colon after the name when typed. «задачи фокиной» (plural) is not
    matched: it asks for her tasks."""
    colon = set(re.findall(r"([а-яё]+)\s*:", text.lower().replace("ё", "е")))
    for i, word in enumerate(words):
        if word not in _LANG.task_heads:
            continue
        k = i + 1
        while k < len(words) and k <= i + 2 and _dative_name(words[k], engine):
            k += 1
        if k == i + 1:
            continue
        if words[k - 1] in colon or (k < len(words) and _infinitive(words[k], engine.morph)):
            return _Intent("task.create", {i})
    return None


def _dative_name(word: str, engine: LanguageEngine) -> bool:
    """Whether a word names a person in the dative («фокиной», «петрову», «сидорову»): a form
    of an employee's name that can be dative (pymorphy takes «ершовой» for an adjective), or
    a word whose likeliest reading is a surname or first name with a dative reading. A common
    noun in the dative («подвалу») is not a person; «петрова» (genitive only) is not dative."""
    parses = engine.morph.parse(word)
    if not parses:
        return False
    catalog = engine.catalog
    if word in catalog.surnames or word in catalog.first_names:
        return any(p.tag.case == "datv" for p in parses)
    if not {"Surn", "Name"} & set(parses[0].tag.grammemes):
        return False
    return any({"Surn", "Name"} & set(p.tag.grammemes) and p.tag.case == "datv" for p in parses)


def _infinitive(word: str, morph: Morph) -> bool:
    parses = morph.parse(word)
    return bool(parses) and parses[0].tag.POS == "INFN"


# ---------------------------------------------------------------------- time of day
@dataclass(frozen=True)
class _Time:
    value: time
    start: int
    end: int
    clock: bool  # a clock time («в 8:30»), not a part of the day («к обеду»)


def _number(token: Token | None, low: int, high: int) -> int | None:
    if token is None or token.kind is not TokenKind.CARDINAL or token.value is None:
        return None
    if not token.text.isdigit():
        return None
    return token.value if low <= token.value <= high else None


def _find_time(tokens: Sequence[Token], free: Sequence[bool]) -> _Time | None:
    """The first time of day among the free tokens (see commands.yaml, ``time``)."""
    words = [t.text for t in tokens]
    for i in range(len(tokens)):
        if not free[i]:
            continue
        for phrase, value in _LANG.parts_of_day.items():
            end = i + len(phrase)
            if _phrase_at(words, i, phrase) and all(free[i:end]):
                return _Time(value, i, end, clock=False)
        lead = 1 if words[i] in _LANG.time_lead else 0  # «в полдевятого»
        for phrase, value in _LANG.half_words.items():
            end = i + lead + len(phrase)
            if _phrase_at(words, i + lead, phrase) and all(free[i:end]):
                return _Time(value, i, end, clock=True)
        found = _clock_at(tokens, words, free, i)
        if found is not None:
            return found
    return None


def _clock_at(
    tokens: Sequence[Token], words: Sequence[str], free: Sequence[bool], i: int
) -> _Time | None:
    """«в 8 30», «к 15 0 0», «в 3 часа дня», «в пол 9», «8 утра» starting at token ``i``."""

    def at(k: int) -> Token | None:
        return tokens[k] if k < len(tokens) and free[k] else None

    lead = words[i] in _LANG.time_lead
    k = i + 1 if lead else i
    half = words[k] in _LANG.half if k < len(words) and free[k] else False
    if half:
        k += 1  # «в пол 9»: the ordinal after «пол» is the hour to come
        token = at(k)
        if token is None or token.kind is not TokenKind.ORDINAL or token.value is None:
            return None
        if not 1 <= token.value <= 12:
            return None
        return _Time(time((token.value - 1) % 12 if token.value != 1 else 12, 30), i, k + 1, True)
    hour = _number(at(k), 0, 24)
    if hour is None:
        return None
    k += 1
    following = words[k] if k < len(words) else ""
    if any(_fits(p, following) for p in _LANG.not_hour_before):
        return None  # «в 3 подъезде»: a count
    said_hour = following in _LANG.hour_words
    if said_hour:
        k += 1
    minutes: int | None = None
    minute_token = at(k)
    if minute_token is not None and minute_token.text == "0":
        # «ноль ноль», «ноль пять»: minutes said digit by digit.
        second = _number(at(k + 1), 0, 9)
        minutes = second if second is not None else 0
        k += 2 if second is not None else 1
    else:
        value = _number(minute_token, 0, 59)
        if value is not None:
            minutes, k = value, k + 1
    if minutes is not None and k < len(words) and words[k] in _LANG.minute_words:
        k += 1
    period = words[k] if k < len(words) and free[k] else ""
    afternoon = period in _LANG.afternoon
    if afternoon or period in _LANG.morning:
        k += 1
    if not (lead or said_hour or minutes is not None or afternoon or period):
        return None  # a bare number is not a time
    if lead and not (said_hour or minutes is not None or period) and words[i] in ("на", "с", "со"):
        return None  # «на 5», «с 2»: too often a count or a house; needs more to be a time
    hour = hour % 24
    if afternoon and hour < 12:
        hour += 12
    elif period == "ночи" and hour == 12:
        hour = 0
    return _Time(time(hour, minutes or 0), i, k, clock=True)


# ---------------------------------------------------------------------- the parser
def parse_command(text: str, engine: LanguageEngine, *, now: datetime) -> Command | None:
    """None when the text is not a request to write (a question stays a question).

    ``now`` is the moment of the request (tz-aware; a naive one is taken as the snapshot's
    time zone): dates and times resolve against it, never against the wall clock.
    """
    normalized = normalize(text)
    if normalized.command or not normalized.tokens:
        return None
    # Most requests are questions: classify the words as said first, and pay for the repair
    # (a fuzzy search over the whole vocabulary for each unknown word) only when the request
    # is a write, or when a repaired word could become a cue and make it one.
    intent = _classify([t.text for t in normalized.tokens], text, engine)
    if intent is None and not _repair_may_matter(normalized.tokens, engine):
        return None
    repaired = _repaired(normalized, engine)
    if repaired is not normalized:  # the words changed (a join shifts the indices): again
        intent = _classify([t.text for t in repaired.tokens], text, engine)
    if intent is None:
        return None
    normalized = repaired
    tz = engine.snapshot.tz
    local_now = now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)
    tagged = engine.tagger.tag(normalized, local_now.date())
    return _Builder(text, intent, tagged, engine, local_now).build()


class _CueTargets:
    """The vocabulary words a repair could turn a misheard word into that are cues (for one
    engine's vocabulary): if no unknown word of a request is near one of them, the repair
    cannot make a question a write (`_repair_may_matter`)."""

    def __init__(self, vocabulary: frozenset[str]) -> None:
        self.vocabulary = vocabulary
        self.words = sorted(w for w in vocabulary if _LANG.protects(w))
        self.known = frozenset(self.words)
        self.cache: dict[str, bool] = {}

    def near(self, word: str) -> bool:
        """Whether a word is within the repair's reach of a cue (a superset of the repair:
        one letter for a short word, two for a long one, as `Tagger.repair` allows)."""
        found = self.cache.get(word)
        if found is None:
            limit = 1 if len(word) <= 7 else 2
            found = (
                process.extractOne(
                    word, self.words, scorer=Levenshtein.distance, score_cutoff=limit
                )
                is not None
            )
            if len(self.cache) < _CACHE_LIMIT:
                self.cache[word] = found
        return found


_CACHE_LIMIT = 50_000
_TARGETS: weakref.WeakKeyDictionary[Any, _CueTargets] = weakref.WeakKeyDictionary()


def _repair_may_matter(tokens: Sequence[Token], engine: LanguageEngine) -> bool:
    """Whether repairing the words could change a «not a write» (see `parse_command`).

    The repair changes only words out of its vocabulary (one at least five letters long, or
    two neighbours that join into a known word), and a cue said as a cue is never changed, so
    the class can change only if an unknown word, or such a pair joined, lands on a cue, or a
    join swallows a question word. The one rule that reads non-cue words — a name after
    «задача» — is left to the full path.
    """
    tagger = engine.tagger
    targets = _TARGETS.get(tagger)
    if targets is None or targets.vocabulary is not tagger.vocabulary:
        targets = _TARGETS[tagger] = _CueTargets(tagger.vocabulary)
    vocab = targets.vocabulary
    words = [t.text if t.kind is TokenKind.WORD else "" for t in tokens]
    if any(w in _LANG.task_heads for w in words):
        return True
    for i, word in enumerate(words):
        if word and word not in vocab and len(word) >= 5 and targets.near(word):
            return True
        head = word or (tokens[i].source if " " not in tokens[i].source else "")
        after = words[i + 1] if i + 1 < len(words) else ""
        if head and after and (head not in vocab or after not in vocab):
            if head in _LANG.questions or after in _LANG.questions:
                return True  # a join could swallow the question word
            joined = head + after
            if joined in targets.known or (len(joined) >= 7 and targets.near(joined)):
                return True
    return False


def _repaired(normalized: NormalizedText, engine: LanguageEngine) -> NormalizedText:
    """Misheard words repaired as the reading engine repairs them («коновалаву»)."""
    repaired, corrections = engine.tagger.repair(normalized.tokens)
    # A cue word said as a cue stays as said (see `_cue_words`); only changed words can need it.
    repaired = [
        replace(r, text=r.source)
        if r.kind is TokenKind.WORD and r.text != r.source and _LANG.protects(r.source)
        else r
        for r in repaired
    ]
    corrections = [(a, b) for a, b in corrections if not _LANG.protects(a)]
    if not corrections:
        return normalized
    if any(parse_number(target, _LEXICON) is not None for _, target in corrections):
        # A repaired number word («четыри» → «четыре») must go through ITN again.
        return replace(normalize(engine.tagger.repaired_text(repaired)), text=normalized.text)
    # Otherwise keep the tokens: their ``source`` is still what the user said, for the summary.
    return replace(normalized, tokens=tuple(repaired), text=" ".join(t.text for t in repaired))


class _Builder:
    """Fills a `Command` from the tagged request (one per call; keeps the bookkeeping)."""

    def __init__(
        self,
        text: str,
        intent: _Intent,
        tagged: Tagged,
        engine: LanguageEngine,
        now: datetime,
    ) -> None:
        self.text = text
        self.intent = intent
        self.kind: WriteKind = intent.kind
        self.tagged = tagged
        self.engine = engine
        self.now = now
        self.tokens = tagged.tokens
        self.words = [t.text for t in self.tokens]
        self.used: set[int] = set(intent.order)
        self.unresolved: list[str] = []
        self.fields: dict[str, Any] = {}
        self.date_span: tuple[int, int] | None = None

    def msg(self, key: str, **values: str) -> str:
        """A message of commands.yaml with its blanks filled."""
        return _LANG.messages[key].format(**values)

    def take(self, mention: Mention) -> None:
        """Mark a mention's words as used (they are not part of the summary)."""
        self.used.update(range(mention.start, mention.end))

    def approximate(self, mention: Mention) -> bool:
        """Found fuzzily, or through a repaired word («коноваловой» → «коновалову»): a guess,
        so it is offered as the only option to confirm, never taken as said."""
        return mention.fuzzy or any(
            t.kind is TokenKind.WORD and t.text != t.source
            for t in self.tokens[mention.start : mention.end]
        )

    # ------------------------------------------------------------------ build
    def build(self) -> Command | None:
        """The command, or None when the names show it is not one after all."""
        house_named = self.house()
        if self.intent.needs_house and not house_named:
            return None  # «всё готово»: without a house it is not a report
        if self.kind in ("task.create", "calendar.create"):
            self.person()
        date_match = self.date()
        when_time = self.time_of_day()
        if self.intent.needs_time and (date_match is None or when_time is None):
            return None  # «планёрка в понедельник» without a time is likely a question
        self.when(date_match, when_time)
        self.summary()
        return Command(
            kind=self.kind,
            text=self.text,
            unresolved=tuple(dict.fromkeys(self.unresolved)),
            **self.fields,
        )

    # ------------------------------------------------------------------ house
    def house(self) -> bool:
        """The first house or street mentioned; says whether one was named at all."""
        mention = next((m for m in self.tagged.mentions if m.kind in ("house", "street")), None)
        if mention is None:
            if self.kind in ("house.done", "house.problem"):
                self.unresolved.append(self.msg("house_not_named"))
            return False
        self.take(mention)
        if mention.kind == "street":
            self.street(mention)
        elif mention.missing:
            streets = [s for s in mention.near if isinstance(s, StreetEntry)]
            name = f"{streets[0].street} {mention.value}" if len(streets) == 1 else mention.text
            key = "house_closed" if mention.closed is not None else "house_missing"
            self.unresolved.append(self.msg(key, text=name))
        elif mention.choices:
            self.fields["house_options"] = tuple(mention.choices)
        elif isinstance(mention.value, House):
            if self.approximate(mention):
                self.fields["house_options"] = (mention.value,)
            else:
                self.fields["house"] = mention.value
        return True

    def street(self, mention: Mention) -> None:
        """A street without a number: its only house, or the number must be asked."""
        streets = [mention.value] if mention.value is not None else list(mention.choices)
        houses = [
            h
            for s in streets
            if isinstance(s, StreetEntry)
            for n in sorted(s.numbers)
            if (h := self.engine.snapshot.house_at(s.key, n)) is not None
        ]
        if len(houses) == 1 and not self.approximate(mention):
            self.fields["house"] = houses[0]
        else:
            label = streets[0].street if streets else mention.text
            self.unresolved.append(self.msg("street_no_number", street=label))

    # ------------------------------------------------------------------ person
    def person(self) -> None:
        """The responsible (task) or attendee (event): a person, a brigade's head, or asked."""
        mentions = self.tagged.mentions
        mention = next((m for m in mentions if m.kind == "person"), None)
        if mention is not None:
            self.take(mention)
            if mention.missing:
                name = mention.near[0] if mention.near else mention.text
                self.unresolved.append(self.msg("person_former", text=str(name)))
            elif mention.choices:
                self.fields["person_options"] = tuple(mention.choices)
            elif isinstance(mention.value, Employee):
                if self.approximate(mention):
                    self.fields["person_options"] = (mention.value,)
                else:
                    self.fields["person"] = mention.value
            return
        brigade = next((m for m in mentions if m.kind == "brigade"), None)
        if brigade is not None and self.kind == "task.create":
            # «поставь задачу третьей бригаде»: a brigade answers through its head.
            found = self.engine.snapshot.brigades.get(brigade.value)
            head = self.engine.snapshot.person(found.head_id) if found else None
            if head is not None:
                self.take(brigade)
                self.fields["person"] = head
                return
        self.unknown_person()

    def unknown_person(self) -> None:
        """A surname the CRM lacks, where a person is expected: «петрову» right after the
        order (dative) or «с сидоровым» in an event (instrumental)."""
        if self.kind == "task.create":
            after = max(self.intent.order) + 1 if self.intent.order else len(self.words)
            candidates = [(after, ("datv",))]
        else:
            candidates = [(i + 1, ("ablt",)) for i, w in enumerate(self.words) if w in ("с", "со")]
        for index, cases in candidates:
            if index >= len(self.words) or index in self.used:
                continue
            if any(m.start <= index < m.end for m in self.tagged.mentions):
                continue
            name = self.surname(self.words[index], cases)
            if name is not None:
                self.used.add(index)
                if index > 0 and self.words[index - 1] in ("с", "со"):
                    self.used.add(index - 1)
                self.unresolved.append(self.msg("person_missing", text=name))
                return

    def surname(self, word: str, cases: tuple[str, ...]) -> str | None:
        """The nominative of a word that is most likely a surname or first name in one of the
        cases, or None («проверить», «подвалу» are not names)."""
        parses = self.engine.morph.parse(word)
        if not parses or not ({"Surn", "Name"} & set(parses[0].tag.grammemes)):
            return None
        for p in parses:
            if {"Surn", "Name"} & set(p.tag.grammemes) and p.tag.case in cases:
                nominative = p.inflect({"nomn"})
                return str(nominative.word if nominative is not None else p.normal_form)
        return None

    # ------------------------------------------------------------------ date and time
    def date(self) -> DateMatch | None:
        """The first date said (with its «до»), recorded for ``when_text``; None if none."""
        mention = next((m for m in self.tagged.mentions if m.kind == "date"), None)
        if mention is None:
            return self.period()
        start = mention.start
        # «до пятницы», «не позднее 5 декабря»: the lead words belong to the date.
        for phrase in _LANG.date_lead:
            begin = start - len(phrase)
            free = not any(i in self.used for i in range(begin, start))
            if begin >= 0 and free and _phrase_at(self.words, begin, phrase):
                start = begin
                break
        self.used.update(range(start, mention.end))
        self.date_span = (start, mention.end)
        if mention.missing or not isinstance(mention.value, DateMatch):
            self.unresolved.append(self.msg("bad_date", text=mention.text))
            return None
        return mention.value

    def period(self) -> DateMatch | None:
        """«до конца недели», «к концу месяца»: deadlines the date reader does not know."""
        today = self.now.date()
        for i in range(len(self.words)):
            for phrase, name in _LANG.periods.items():
                end = i + len(phrase)
                if any(k in self.used for k in range(i, end)):
                    continue
                if not _phrase_at(self.words, i, phrase):
                    continue
                if name == "week_end":  # the working week's Friday; at the weekend, Sunday
                    day = today + timedelta(
                        days=(4 if today.weekday() <= 4 else 6) - today.weekday()
                    )
                else:
                    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
                    day = following - timedelta(days=1)
                self.used.update(range(i, end))
                self.date_span = (i, end)
                text = " ".join(self.words[i:end])
                return DateMatch(DateRange(day, day), i, end, DateKind.DAY, text)
        return None

    def time_of_day(self) -> _Time | None:
        """The time of day among the words no name took, marked as used."""
        taken = {i for m in self.tagged.mentions for i in range(m.start, m.end)}
        free = [i not in self.used and i not in taken for i in range(len(self.tokens))]
        found = _find_time(self.tokens, free)
        if found is not None:
            self.used.update(range(found.start, found.end))
        return found

    def when(self, match: DateMatch | None, said: _Time | None) -> None:
        """``when`` and ``when_text`` from the date and the time (see the module docstring)."""
        spans = [self.date_span] if self.date_span is not None else []
        if said is not None:
            spans.append((said.start, said.end))
        words = " ".join(
            self.tokens[i].source for a, b in sorted(spans) for i in range(a, b)
        ).strip()
        default = _LANG.default_time[self.kind]
        clock = said.value if said is not None else default
        day: date | None = None
        if match is not None:
            rng = match.range
            if rng.start == rng.end:
                day = rng.start
            elif self.kind == "calendar.create":
                self.unresolved.append(self.msg("several_days", text=match.text))
            else:
                day = rng.end  # «на следующей неделе» as a deadline: by its last day
        elif said is not None and self.kind != "calendar.create":
            # A time without a date: today if still ahead, else tomorrow.
            day = self.now.date()
            if datetime.combine(day, clock, self.now.tzinfo) <= self.now:
                day += timedelta(days=1)
        if day is None:
            if self.kind == "calendar.create" and match is None:
                self.unresolved.append(self.msg("no_date"))
            if words:
                self.fields["when_text"] = words
            return
        moment = datetime.combine(day, clock, self.now.tzinfo)
        if (
            match is not None
            and match.kind is DateKind.WEEKDAY
            and day == self.now.date()
            and moment <= self.now
            and self.kind in ("task.create", "calendar.create")
        ):
            # «в среду в 8:30» said on Wednesday at 10: the coming Wednesday, not the past one.
            moment += timedelta(days=7)
        if self.kind == "calendar.create" and said is None:
            note = self.msg("no_time_note", time=f"{default.hour}:{default.minute:02d}")
            words = f"{words}, {note}" if words else note
        if moment < self.now and self.kind in ("task.create", "calendar.create"):
            self.unresolved.append(self.msg("past", text=words.split(",")[0]))
        self.fields["when"] = moment
        self.fields["when_text"] = words

    # ------------------------------------------------------------------ summary
    def summary(self) -> None:
        """What is to be done or reported: the words nothing else took (module docstring)."""
        kept = [self.tokens[i].source for i in range(len(self.tokens)) if i not in self.used]
        words = _restore_yo(_trim(" ".join(kept).split()), self.text)
        if self.kind == "house.done":
            head = _LANG.done_title
            self.fields["summary"] = f"{head}: {' '.join(words)}" if words else head
            return
        if self.kind == "calendar.create":
            # The event noun, in whatever case it was said, leads as the title in the
            # nominative («назначь планёрку по уборке» → «Планёрка по уборке»).
            at = next((i for i, w in enumerate(words) if _LANG.event_title(w)), None)
            if at is None:
                title = _LANG.default_title if not words else None
            else:
                title = _LANG.event_title(words[at])
                words = words[:at] + words[at + 1 :]
            words = [title, *words] if title else words
        if not words:
            if self.kind == "task.create":
                self.unresolved.append(self.msg("no_text"))
                return
            words = [_LANG.problem_title]
        line = " ".join(words)
        self.fields["summary"] = line[:1].upper() + line[1:]


def _trim(words: list[str]) -> list[str]:
    """Drop filler words at the start and dangling prepositions at the end."""
    changed = True
    while changed and words:
        changed = False
        for phrase in _LANG.drop_leading:
            if tuple(words[: len(phrase)]) == phrase:
                words = words[len(phrase) :]
                changed = True
                break
    while words and words[-1] in _LANG.drop_trailing:
        words.pop()
    return words


def _restore_yo(words: list[str], original: str) -> list[str]:
    """Normalisation folds «ё» into «е»; give the user's «ё» back («планёрку»)."""
    if "ё" not in original.lower():
        return words
    spelled = {w.replace("ё", "е"): w for w in re.findall(r"[а-яё]+", original.lower())}
    return [spelled.get(w, w) for w in words]
