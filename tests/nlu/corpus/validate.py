"""Validate the NLU request corpus (`dev.yaml`, `heldout.yaml`) and print its counts.

Run from the repository root::

    .venv/bin/python -m tests.nlu.corpus.validate                 # check, print counts
    .venv/bin/python -m tests.nlu.corpus.validate --engine-dates  # and compare bot.nlu.dates

What is checked (exit status 1 on any error):

- both files load as YAML lists of items with only the known keys; ids are unique across
  both files and carry the split's prefix (``dev-``/``ho-``);
- every intent name and slot key is legal for its intent (`docs/intents.md`), and every slot
  value has the right type; `metric` and `field` are from their closed sets;
- every company, house, street, person and position value exists in the demo company built
  for the fixed today (`build_demo_store(today=date(2026, 11, 25))`, seed 7, default layout):
  a company is its CRM TITLE, a house its deal TITLE, a street as the house titles write it
  (``"Кондрово, Пушкина"`` outside Калуга), a person "LAST_NAME NAME SECOND_NAME";
- dates and months agree with the fixed today: the date expressions in each request are
  resolved here by the rules of `docs/intents.md` (an independent table, not the engine)
  and must equal the item's ``date``/``month``; a dated intent whose text names a date must
  carry it; a follow-up without its own date takes the latest one of its context;
- Vosk items look like Vosk output (lowercase, letters and spaces only, no digits);
- no request of the held-out split repeats one of the dev split;
- the size targets of the task are met (items per split, per intent, out-of-domain,
  clarify and follow-up items, the Vosk share of the held-out split).

``--engine-dates`` additionally runs `bot.nlu.dates` on each dated request and lists where it
disagrees with the corpus: information for the engine author, never an error here.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from bitrix.demo import build_demo_store

TODAY = date(2026, 11, 25)
CORPUS_DIR = Path(__file__).resolve().parent
#: Split → (file, id prefix).
SPLITS: dict[str, tuple[str, str]] = {
    "dev": ("dev.yaml", "dev-"),
    "dev2": ("dev2.yaml", "d2-"),
    "dev3": ("dev3.yaml", "d3-"),
    "dev4": ("dev4.yaml", "d4-"),
    "heldout": ("heldout.yaml", "ho-"),
}

#: Intent → the slot keys it may carry (docs/intents.md).
_HOUSE_FILTERS = frozenset({"brigade", "person", "company", "no_company", "street", "town",
                            "house_type",
                            "floors", "entrances", "apartments", "lifts"})  # fmt: skip
INTENT_SLOTS: dict[str, frozenset[str]] = {
    "houses.list": _HOUSE_FILTERS,
    "count": frozenset({"metric", "position"}) | _HOUSE_FILTERS,
    "stats.summary": _HOUSE_FILTERS,
    "house.info": frozenset({"house", "field"}),
    "house.schedule": frozenset({"house", "month", "date", "last", "next"}),
    "schedule.day": frozenset({"date"}) | _HOUSE_FILTERS,
    "departments.list": frozenset(),
    "brigade.info": frozenset({"brigade"}),
    "rank": frozenset({"metric", "by", "order", "each"}) | _HOUSE_FILTERS,
    "company.info": frozenset({"company", "field"}),
    "employees.list": frozenset({"brigade", "position", "person"}),
    "employee.info": frozenset({"person", "field"}),
    "companies.list": frozenset(),
    "tasks.list": frozenset({"date", "overdue", "done", "brigade", "person", "house", "text"}),
    "calendar.list": frozenset({"date", "person", "text"}),
    "help": frozenset(),
    "greeting": frozenset(),
    "unknown": frozenset(),
}
#: Intents SPEC §5 added after the corpus was written (no minimum count yet).
NEW_INTENTS = frozenset({"rank", "company.info"})
METRICS = frozenset({"houses", "apartments", "entrances", "floors", "employees", "brigades",
                     "companies"})  # fmt: skip
FIELDS = frozenset({"phone", "position", "brigade", "email"})
ITEM_KEYS = frozenset({"id", "text", "source", "intent", "slots", "clarify", "context", "notes"})
SOURCES = frozenset({"typed", "vosk"})
DATED_INTENTS = frozenset({"schedule.day", "tasks.list", "calendar.list"})
BIG_INTENTS = frozenset({"houses.list", "count", "house.info", "house.schedule", "schedule.day",
                         "employees.list", "employee.info", "tasks.list"})  # fmt: skip

# Size targets of the task brief (tests/nlu/corpus/README.md).
MIN_ITEMS = {"dev": 260, "dev2": 300, "dev3": 300, "dev4": 300, "heldout": 110}
MIN_PER_INTENT = {"dev": 12, "dev2": 12, "dev3": 12, "dev4": 12, "heldout": 4}
MIN_PER_BIG_INTENT_DEV = 20
MIN_OOD = {"dev": 20, "dev2": 30, "dev3": 30, "dev4": 35, "heldout": 12}
MIN_CLARIFY_HELDOUT = 4
MIN_FOLLOWUPS_HELDOUT = 4
MIN_VOSK_SHARE_HELDOUT = 0.55

_VOSK_TEXT = re.compile(r"[а-яё]+(?: [а-яё]+)*")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


# ----------------------------------------------------------------------------- the demo data
@dataclass(frozen=True)
class Catalog:
    """The names a corpus slot may use, taken from the demo company of the fixed today."""

    companies: frozenset[str]
    houses: frozenset[str]
    streets: frozenset[str]
    people: frozenset[str]
    positions: frozenset[str]


def _street_of(title: str) -> str:
    # Deal titles are "<street> <number>" ("Грабцевское шоссе 158", "Кондрово, Пушкина 78").
    return title.rsplit(" ", 1)[0]


def load_catalog(today: date = TODAY) -> Catalog:
    """Build the demo portal for ``today`` and collect its companies, houses, streets,
    active people and positions as the corpus writes them."""
    store = build_demo_store(today=today)
    houses_category = next(
        str(c["id"]) for c in store.categories if c["name"] == "Уборка подъездов"
    )
    titles = {
        str(deal["TITLE"])
        for deal in store.deals.values()
        if deal["CATEGORY_ID"] == houses_category and deal["STAGE_SEMANTIC_ID"] == "P"
    }
    people: set[str] = set()
    positions: set[str] = set()
    for user in store.users.values():
        position = str(user.get("WORK_POSITION") or "")
        # Service accounts ("бригада 1") have no position and are not people.
        if not user.get("ACTIVE") or not position:
            continue
        parts = (user.get("LAST_NAME"), user.get("NAME"), user.get("SECOND_NAME"))
        people.add(" ".join(str(p) for p in parts if p))
        positions.add(position)
    return Catalog(
        companies=frozenset(str(c["TITLE"]) for c in store.companies.values()),
        houses=frozenset(titles),
        streets=frozenset(_street_of(t) for t in titles),
        people=frozenset(people),
        positions=frozenset(positions),
    )


# ----------------------------------------------------------------- dates by docs/intents.md
# An independent resolver of the date expressions the corpus uses, written from the rules
# of docs/intents.md, so that a wrong expected value is caught without trusting the engine.
_MONTHS_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
               "сентября", "октября", "ноября", "декабря")  # fmt: skip
_MONTH_STEMS = ("январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр",
                "октябр", "ноябр", "декабр")  # fmt: skip
_ORDINAL_STEMS = {
    1: "перв", 2: "втор", 3: "трет", 4: "четверт", 5: "пят", 6: "шест", 7: "седьм",
    8: "восьм", 9: "девят", 10: "десят", 11: "одиннадцат", 12: "двенадцат",
    13: "тринадцат", 14: "четырнадцат", 15: "пятнадцат", 16: "шестнадцат",
    17: "семнадцат", 18: "восемнадцат", 19: "девятнадцат", 20: "двадцат", 30: "тридцат",
}  # fmt: skip
_CARDINALS = {"один": 1, "одна": 1, "два": 2, "две": 2, "пару": 2, "три": 3, "четыре": 4,
              "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9,
              "десять": 10}  # fmt: skip
_WEEKDAYS = (r"понедельник\w*", r"вторник\w*", r"сред(?:а|у|е|ы)", r"четверг\w*",
             r"пятниц\w*", r"суббот\w*", r"воскресень\w*")  # fmt: skip


def _ordinal_words() -> dict[str, int]:
    words = {stem: n for n, stem in _ORDINAL_STEMS.items()}
    for tens, tens_word in ((20, "двадцать"), (30, "тридцать")):
        for n in range(1, 10 if tens == 20 else 2):
            words[f"{tens_word} {_ORDINAL_STEMS[n]}"] = tens + n
    return words


_ORDINALS = _ordinal_words()
_ORDINAL_RE = "|".join(
    re.escape(s) + r"[а-я]{1,4}" for s in sorted(_ORDINALS, key=len, reverse=True)
)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}|{_ORDINAL_RE})\s+({'|'.join(_MONTHS_GEN)})\b")
_NAMED_MONTH = re.compile(
    r"\b(?:в|во|на|за)\s+(" + "|".join(s + r"(?:ь|я|е|й|и)?" for s in _MONTH_STEMS) + r")\b"
)


def _day(d: date) -> tuple[date, date]:
    return d, d


def _next_weekday(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _weekday(weekday: int, today: date, _match: re.Match[str]) -> tuple[date, date]:
    return _day(_next_weekday(today, weekday))


def _week(today: date, shift: int) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
    return monday, monday + timedelta(days=6)


def _ordinal_value(word: str) -> int:
    if word.isdigit():
        return int(word)
    for stem in sorted(_ORDINALS, key=len, reverse=True):
        if word.startswith(stem):
            return _ORDINALS[stem]
    raise ValueError(word)


def _month_index(word: str) -> int:
    # "ма" (май) is a prefix of nothing else among the stems once the longer ones are tried.
    for index in sorted(range(12), key=lambda i: -len(_MONTH_STEMS[i])):
        if word.startswith(_MONTH_STEMS[index]):
            return index + 1
    raise ValueError(word)


def _nearest_month(today: date, month: int) -> tuple[int, int]:
    """The nearest such month ("в декабре"), future on a tie."""
    base = today.year * 12 + today.month - 1
    candidates = [(y * 12 + month - 1) for y in (today.year - 1, today.year, today.year + 1)]
    best = min(candidates, key=lambda c: (abs(c - base), c < base))
    return best // 12, best % 12 + 1


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    return first, after - timedelta(days=1)


def _day_month(today: date, day: int, month: int) -> date:
    """ "15 декабря": this year, or next year when it is more than two months past."""
    candidate = date(today.year, month, day)
    index = today.year * 12 + today.month - 1 - 2
    two_months_ago = date(index // 12, index % 12 + 1, min(today.day, 28))
    return candidate if candidate >= two_months_ago else date(today.year + 1, month, day)


_RULES: tuple[tuple[re.Pattern[str], Callable[[date, re.Match[str]], tuple[date, date]]], ...] = (
    (re.compile(r"\bпослезавтра\w*"), lambda t, m: _day(t + timedelta(days=2))),
    (re.compile(r"\bзавтра\w*"), lambda t, m: _day(t + timedelta(days=1))),
    (re.compile(r"\bсегодня\w*"), lambda t, m: _day(t)),
    (re.compile(r"\bвчера\w*"), lambda t, m: _day(t - timedelta(days=1))),
    (re.compile(r"\bчерез недел[юи]\b"), lambda t, m: _day(t + timedelta(days=7))),
    (
        re.compile(r"\bчерез (\d+|" + "|".join(_CARDINALS) + r") (?:день|дня|дней)\b"),
        lambda t, m: _day(t + timedelta(days=int(m[1]) if m[1].isdigit() else _CARDINALS[m[1]])),
    ),
    (re.compile(r"\b(?:эт[оу][йю]|текущ\w+) недел\w*"), lambda t, m: _week(t, 0)),
    (re.compile(r"\bследующ\w+ недел\w*"), lambda t, m: _week(t, 1)),
    (re.compile(r"\bпрошл\w+ недел\w*"), lambda t, m: _week(t, -1)),
    (
        re.compile(r"\bвыходн\w*"),
        lambda t, m: (_next_weekday(t, 5), _next_weekday(t, 5) + timedelta(days=1)),
    ),
    (
        _DAY_MONTH,
        lambda t, m: _day(_day_month(t, _ordinal_value(m[1]), _MONTHS_GEN.index(m[2]) + 1)),
    ),
    *(
        (re.compile(rf"\b{pattern}\b"), partial(_weekday, i))
        for i, pattern in enumerate(_WEEKDAYS)
    ),
)


def _clean(text: str) -> str:
    return re.sub(r"[^\w/ ]+", " ", text.lower().replace("ё", "е"))


def resolve_date(text: str, today: date = TODAY) -> tuple[date, date] | None:
    """The first date expression in ``text`` by docs/intents.md, or a whole named month
    ("на декабрь") when there is no day; None when the text names no date."""
    cleaned = _clean(text)
    found: list[tuple[int, tuple[date, date]]] = []
    for pattern, resolve in _RULES:
        match = pattern.search(cleaned)
        if match:
            found.append((match.start(), resolve(today, match)))
    if found:
        return min(found, key=lambda f: f[0])[1]
    month = _NAMED_MONTH.search(cleaned)
    if month:
        return _month_bounds(*_nearest_month(today, _month_index(month[1])))
    return None


def resolve_month(text: str, today: date = TODAY) -> str | None:
    """``YYYY-MM`` for a month named in ``text`` ("на декабрь", "в следующем месяце")."""
    cleaned = _clean(text)
    shift = None
    if re.search(r"\b(?:этом|этот|текущ\w+) месяц\w*", cleaned):
        shift = 0
    elif re.search(r"\bследующ\w+ месяц\w*", cleaned):
        shift = 1
    elif re.search(r"\bпрошл\w+ месяц\w*", cleaned):
        shift = -1
    if shift is not None:
        index = today.year * 12 + today.month - 1 + shift
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    month = _NAMED_MONTH.search(cleaned)
    if month:
        year, number = _nearest_month(today, _month_index(month[1]))
        return f"{year:04d}-{number:02d}"
    return None


# ----------------------------------------------------------------------------- validation
@dataclass
class Report:
    """What validation found: errors (fail), notes (information) and the loaded items."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _check_slots(item: Mapping[str, Any], catalog: Catalog, report: Report) -> None:
    item_id = item["id"]
    intent = item["intent"]
    slots = item.get("slots")
    if slots is None:
        return
    if not isinstance(slots, dict) or not slots:
        report.errors.append(f"{item_id}: slots must be a non-empty mapping (omit when empty)")
        return
    allowed = INTENT_SLOTS.get(intent, frozenset())
    for key, value in slots.items():
        if key not in allowed:
            report.errors.append(f"{item_id}: slot {key!r} is not legal for {intent}")
            continue
        problem = _slot_problem(key, value, catalog)
        if problem:
            report.errors.append(f"{item_id}: {key}={value!r}: {problem}")


def _slot_problem(key: str, value: Any, catalog: Catalog) -> str | None:
    named: dict[str, frozenset[str]] = {
        "company": catalog.companies,
        "house": catalog.houses,
        "street": catalog.streets,
        "person": catalog.people,
        "position": catalog.positions,
    }
    if key in named:
        if not isinstance(value, str):
            return "must be a string"
        return None if value in named[key] else "not in the demo data for the fixed today"
    if key == "brigade":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "must be a non-negative int"
    if key in ("overdue", "done"):
        return None if value is True else "must be true (omit otherwise)"
    if key == "metric":
        return None if value in METRICS else f"must be one of {sorted(METRICS)}"
    if key == "field":
        return None if value in FIELDS else f"must be one of {sorted(FIELDS)}"
    if key == "month":
        ok = isinstance(value, str) and _ISO_MONTH.fullmatch(value) is not None
        return None if ok else "must be 'YYYY-MM'"
    if key == "date":
        return _date_problem(value)
    if key in ("text", "town", "house_type"):
        ok = isinstance(value, str) and bool(value.strip())
        return None if ok else "must be a non-empty string"
    if key in ("floors", "entrances", "apartments", "lifts"):
        ok = isinstance(value, dict) and set(value) == {"min", "max"}
        return None if ok else "must be {min, max}"
    if key == "by":
        ok = value in ("brigade", "street", "town", "company", "house")
        return None if ok else "must be brigade, street, town, company or house"
    if key == "order":
        return None if value == "least" else "must be 'least' (omit otherwise)"
    if key in ("last", "next", "no_company", "each"):
        return None if value is True else "must be true (omit otherwise)"
    return "unknown slot"


def _date_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"from", "to"}:
        return "must be {from, to}"
    try:
        start, end = (date.fromisoformat(value[k]) for k in ("from", "to"))
    except (TypeError, ValueError):
        return "from/to must be ISO dates 'YYYY-MM-DD' (quoted)"
    if not all(isinstance(value[k], str) and _ISO_DAY.fullmatch(value[k]) for k in value):
        return "from/to must be quoted ISO strings"
    if start > end:
        return "from is after to"
    return None


def _as_range(value: Any) -> tuple[date, date] | None:
    if _date_problem(value) is not None:
        return None
    return date.fromisoformat(value["from"]), date.fromisoformat(value["to"])


def _check_dates(item: Mapping[str, Any], report: Report) -> None:
    item_id, intent = item["id"], item["intent"]
    slots = item.get("slots") or {}
    texts = [item["text"], *reversed(item.get("context") or [])]
    if intent in DATED_INTENTS:
        expected = next((r for r in map(resolve_date, texts) if r is not None), None)
        actual = _as_range(slots["date"]) if "date" in slots else None
        if expected != actual:
            report.errors.append(
                f"{item_id}: date {_fmt(actual)} but the rules of docs/intents.md give "
                f"{_fmt(expected)} for {item['text']!r}"
            )
    if intent == "house.schedule":
        month = next((m for m in map(resolve_month, texts) if m is not None), None)
        if month != slots.get("month"):
            report.errors.append(
                f"{item_id}: month {slots.get('month')!r} but the rules give {month!r}"
            )


def _fmt(value: tuple[date, date] | None) -> str:
    return "none" if value is None else f"{value[0]}..{value[1]}"


def _check_item(item: Any, split: str, catalog: Catalog, report: Report) -> bool:
    if not isinstance(item, dict):
        report.errors.append(f"{split}: an item is not a mapping: {item!r}")
        return False
    item_id = item.get("id")
    missing = {"id", "text", "source", "intent"} - set(item)
    if missing:
        report.errors.append(f"{split} {item_id}: missing {sorted(missing)}")
        return False
    extra = set(item) - ITEM_KEYS
    if extra:
        report.errors.append(f"{item_id}: unknown keys {sorted(extra)}")
    prefix = SPLITS[split][1]
    if not (isinstance(item_id, str) and re.fullmatch(re.escape(prefix) + r"\d{3}", item_id)):
        report.errors.append(f"{item_id!r}: ids of {split} look like {prefix}NNN")
    text = item["text"]
    if not isinstance(text, str) or not text.strip():
        report.errors.append(f"{item_id}: empty text")
        return False
    if item["source"] not in SOURCES:
        report.errors.append(f"{item_id}: source must be typed or vosk")
    elif item["source"] == "vosk" and not _VOSK_TEXT.fullmatch(text):
        report.errors.append(f"{item_id}: a Vosk text is lowercase letters and single spaces")
    if item["intent"] not in INTENT_SLOTS:
        report.errors.append(f"{item_id}: unknown intent {item['intent']!r}")
        return False
    if "clarify" in item and not isinstance(item["clarify"], bool):
        report.errors.append(f"{item_id}: clarify must be a bool")
    context = item.get("context")
    if context is not None and (
        not isinstance(context, list)
        or not context
        or not all(isinstance(c, str) and c.strip() for c in context)
    ):
        report.errors.append(f"{item_id}: context must be a non-empty list of requests")
    if "notes" in item and not isinstance(item["notes"], str):
        report.errors.append(f"{item_id}: notes must be a string")
    _check_slots(item, catalog, report)
    _check_dates(item, report)
    return True


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w/]+", " ", text.lower().replace("ё", "е")).split())


def validate(corpus_dir: Path = CORPUS_DIR, catalog: Catalog | None = None) -> Report:
    """Load and check both splits in ``corpus_dir``; see the module docstring."""
    catalog = catalog or load_catalog()
    report = Report()
    seen_ids: set[str] = set()
    for split, (filename, _prefix) in SPLITS.items():
        loaded = yaml.safe_load((corpus_dir / filename).read_text(encoding="utf-8"))
        if not isinstance(loaded, list):
            report.errors.append(f"{filename}: not a YAML list")
            continue
        good: list[dict[str, Any]] = []
        seen_texts: set[tuple[str, str, tuple[str, ...]]] = set()
        for item in loaded:
            if not _check_item(item, split, catalog, report):
                continue
            if item["id"] in seen_ids:
                report.errors.append(f"{item['id']}: duplicate id")
            seen_ids.add(item["id"])
            text_key = (_key(item["text"]), item["source"], tuple(item.get("context") or ()))
            if text_key in seen_texts:
                report.errors.append(f"{item['id']}: the same request twice in {split}")
            seen_texts.add(text_key)
            good.append(item)
        report.items[split] = good
    dev_texts = {(_key(i["text"]), tuple(i.get("context") or ())) for i in report.items["dev"]}
    for item in report.items.get("heldout", []):
        if (_key(item["text"]), tuple(item.get("context") or ())) in dev_texts:
            report.errors.append(f"{item['id']}: repeats a dev request")
    _check_targets(report)
    return report


def _check_targets(report: Report) -> None:
    for split, items in report.items.items():
        if len(items) < MIN_ITEMS[split]:
            report.errors.append(f"{split}: {len(items)} items, want ≥ {MIN_ITEMS[split]}")
        per_intent = Counter(i["intent"] for i in items)
        for intent in INTENT_SLOTS:
            if intent in NEW_INTENTS:
                continue  # added after the corpus was written: covered by tests/nlu/test_rules.py
            want = MIN_PER_INTENT[split]
            if split == "dev" and intent in BIG_INTENTS:
                want = MIN_PER_BIG_INTENT_DEV
            if per_intent[intent] < want:
                report.errors.append(f"{split}: {intent} has {per_intent[intent]}, want ≥ {want}")
        if per_intent["unknown"] < MIN_OOD[split]:
            report.errors.append(f"{split}: too few out-of-domain items")
    heldout = report.items.get("heldout", [])
    if heldout:
        if sum(bool(i.get("clarify")) for i in heldout) < MIN_CLARIFY_HELDOUT:
            report.errors.append("heldout: too few clarify items")
        if sum(bool(i.get("context")) for i in heldout) < MIN_FOLLOWUPS_HELDOUT:
            report.errors.append("heldout: too few follow-ups")
        share = sum(i["source"] == "vosk" for i in heldout) / len(heldout)
        if share < MIN_VOSK_SHARE_HELDOUT:
            report.errors.append(f"heldout: Vosk share {share:.0%} is too low")


def engine_date_notes(report: Report, today: date = TODAY) -> list[str]:
    """Where `bot.nlu.dates` reads a dated request differently from the corpus (information
    for the engine author; the corpus follows docs/intents.md)."""
    from bot.nlu.dates import find_date, find_month

    notes: list[str] = []
    for items in report.items.values():
        for item in items:
            slots = item.get("slots") or {}
            if item["intent"] in DATED_INTENTS and "date" in slots and not item.get("context"):
                match = find_date(item["text"], today)
                got = match.range.to_json() if match else None
                if got != slots["date"]:
                    notes.append(f"{item['id']}: bot.nlu.dates {got} vs corpus {slots['date']}")
            if item["intent"] == "house.schedule" and not item.get("context"):
                month = find_month(item["text"], today)
                if month != slots.get("month"):
                    notes.append(
                        f"{item['id']}: bot.nlu.dates month {month} vs corpus {slots.get('month')}"
                    )
    return notes


# ----------------------------------------------------------------------------- the tables
def counts_table(report: Report) -> str:
    """A plain-text table: intent × (split, source), then clarify/follow-up/OOD totals."""
    splits = list(report.items)
    columns = [(s, src) for s in splits for src in ("typed", "vosk")]
    counts = Counter(
        (split, item["intent"], item["source"])
        for split, items in report.items.items()
        for item in items
    )
    header = ["intent", *(f"{s}/{src}" for s, src in columns), *(f"{s} all" for s in splits)]
    rows = [header]
    rows.extend(
        [
            intent,
            *(str(counts[(s, intent, src)]) for s, src in columns),
            *(str(counts[(s, intent, "typed")] + counts[(s, intent, "vosk")]) for s in splits),
        ]
        for intent in INTENT_SLOTS
    )
    rows.append(
        [
            "TOTAL",
            *(str(sum(counts[(s, i, src)] for i in INTENT_SLOTS)) for s, src in columns),
            *(str(len(report.items[s])) for s in splits),
        ]
    )
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines.append("")
    for split, items in report.items.items():
        vosk = sum(i["source"] == "vosk" for i in items)
        lines.append(
            f"{split}: {len(items)} items, vosk {vosk} ({vosk / max(len(items), 1):.0%}), "
            f"clarify {sum(bool(i.get('clarify')) for i in items)}, "
            f"follow-ups {sum(bool(i.get('context')) for i in items)}, "
            f"out-of-domain {sum(i['intent'] == 'unknown' for i in items)}"
        )
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    """Validate the corpus, print the counts and any errors; 0 when it is valid."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--engine-dates",
        action="store_true",
        help="also list where bot.nlu.dates reads a dated request differently",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    report = validate()
    print(counts_table(report))
    if args.engine_dates:
        notes = engine_date_notes(report)
        print(f"\nbot.nlu.dates disagreements: {len(notes)}")
        for note in notes:
            print("  " + note)
    if report.errors:
        print(f"\n{len(report.errors)} error(s):")
        for error in report.errors:
            print("  " + error)
        return 1
    print("\ncorpus OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
