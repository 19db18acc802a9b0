"""Evaluate the language engine on the request corpus (`tests/nlu/corpus/`).

Shared by the regression test (`tests/nlu/test_corpus.py`) and the report script
(`bench/nlu_eval.py`). The engine runs on the demo company generated for the corpus's fixed day
(Wednesday 2026-11-25), loaded the real way: the emulated portal over loopback HTTP, the
`BitrixClient`, the `CompanyLoader` and a `CompanySnapshot`.

Splits: each corpus file (dev, heldout) by source (typed, vosk), plus a **noisy** variant of
every Vosk-form item made by `add_noise` (a fixed seed per item), after this noise model:
vowel slips in words of 5+ letters (8 %), words of 8+ letters split in
two (4 %), wrong case endings (4 %), and dropped function words (5 %: "на", "у", "по", "а").
Content words are not dropped: a request without its subject or its slot has no right answer,
so it would measure the noise, not the engine.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import CompanySnapshot, MappingOptions
from bitrix.demo import build_demo_store
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions
from bot.nlu.engine import LanguageEngine
from bot.nlu.frame import Frame
from bot.nlu.normalize import normalize

CORPUS_DIR = Path(__file__).parent / "corpus"
TODAY = date(2026, 11, 25)
TZ = ZoneInfo("Europe/Moscow")
#: Corpus files in evaluation order; ``dev2`` is a second development set (new phrasings).
SPLITS = tuple(
    s for s in ("dev", "dev2", "dev3", "dev4", "heldout") if (CORPUS_DIR / f"{s}.yaml").exists()
)


@dataclass(frozen=True)
class Item:
    """One corpus request with its expected frame."""

    id: str
    text: str
    source: str
    intent: str
    slots: dict[str, Any]
    clarify: bool
    context: tuple[str, ...]
    split: str


def load_items(split: str) -> list[Item]:
    """The items of one corpus file."""
    data = yaml.safe_load((CORPUS_DIR / f"{split}.yaml").read_text(encoding="utf-8"))
    return [
        Item(
            id=str(raw["id"]),
            text=str(raw["text"]),
            source=str(raw["source"]),
            intent=str(raw["intent"]),
            slots=dict(raw.get("slots") or {}),
            clarify=bool(raw.get("clarify", False)),
            context=tuple(raw.get("context") or ()),
            split=split,
        )
        for raw in data
    ]


async def load_snapshot() -> CompanySnapshot:
    """The demo company of the corpus's day, through the emulated portal and the real client."""
    options = MappingOptions()
    moment = datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, tzinfo=TZ)
    async with (
        EmulatedPortal(build_demo_store(today=TODAY), PortalOptions()) as portal,
        BitrixClient(portal.webhook_url) as client,
    ):
        loader = CompanyLoader(client, tz=TZ, options=options, clock=FixedClock(moment))
        raw = await loader.fetch()
    return CompanySnapshot(raw, tz=TZ, options=options, clock=FixedClock(moment))


def build_engine() -> tuple[LanguageEngine, float]:
    """The engine for the corpus's company, and its build time in seconds."""
    snapshot = asyncio.run(load_snapshot())
    started = time.perf_counter()
    engine = LanguageEngine(snapshot)
    return engine, time.perf_counter() - started


# ---------------------------------------------------------------------- expected values
def expected_json(item: Item, snapshot: CompanySnapshot) -> dict[str, Any]:
    """The item's slots in their JSON shapes (docs/intents.md), names mapped to CRM ids."""
    out: dict[str, Any] = {}
    for key, value in item.slots.items():
        if key == "company":
            company = next(c for c in snapshot.companies.values() if c.name == value)
            out[key] = {"id": company.id, "name": company.name}
        elif key == "house":
            house = next(h for h in snapshot.houses if h.title == value)
            out[key] = {"id": house.id, "address": house.title}
        elif key == "person":
            person = next(p for p in snapshot.employees.values() if p.full_name == value)
            out[key] = {"id": person.id, "name": person.full_name}
        elif key == "date":
            out[key] = {"from": str(value["from"]), "to": str(value["to"])}
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------- noise
_VOWELS = "аеиоуыэюя"
_FUNCTION_WORDS = frozenset(
    {"в", "во", "на", "у", "по", "с", "со", "к", "ко", "о", "об", "а", "и", "ну", "же", "ли",
     "за", "из", "от", "до", "для", "не", "то", "ты", "мы", "вы"}
)  # fmt: skip
_SWAPS = {"а": "о", "о": "а", "е": "и", "и": "е", "я": "е", "ы": "и", "у": "о", "э": "е"}
_ENDINGS = ("а", "ы", "е", "у", "ой", "ом", "ам", "ах", "и")


def add_noise(text: str, seed: str, protected: frozenset[str] = frozenset()) -> str:
    """A deterministic ASR-like distortion of a Vosk-form request (see the module docstring).

    ``protected`` words (those that carry slot values) are never dropped.
    """
    rng = random.Random(seed)
    for _attempt in range(20):
        words = text.split()
        out: list[str] = []
        for original in words:
            word = original
            roll = rng.random()
            if roll < 0.05 and len(words) > 2 and word in _FUNCTION_WORDS:
                continue  # a short function word lost ("на", "у", "по")
            if roll < 0.13 and len(word) >= 5:
                positions = [i for i, ch in enumerate(word) if ch in _VOWELS and i > 0]
                if positions:
                    i = rng.choice(positions)
                    word = word[:i] + _SWAPS.get(word[i], word[i]) + word[i + 1 :]
            elif roll < 0.17 and len(word) >= 8:
                cut = rng.randint(3, len(word) - 3)
                word = word[:cut] + " " + word[cut:]
            elif roll < 0.21 and len(word) >= 5 and word[-1] in _VOWELS:
                stem = word[:-2] if word[-2] in _VOWELS else word[:-1]
                word = stem + rng.choice(_ENDINGS)
            out.append(word)
        noisy = " ".join(out)
        if noisy != text:
            return noisy
        seed += "+"
        rng = random.Random(seed)
    return text


def slot_words(item: Item) -> frozenset[str]:
    """Words of the request that carry slot values: numbers and names (kept by `add_noise`)."""
    normalized = normalize(item.text)
    protected = set()
    for token in normalized.tokens:
        if token.is_number:
            protected.update(token.source.split())
    for value in item.slots.values():
        text = str(value.get("from", "")) if isinstance(value, dict) else str(value)
        protected.update(w.lower() for w in text.split())
    words = item.text.split()
    # Names are said in other case forms than the CRM writes them: keep words sharing a stem.
    for word in words:
        if any(len(p) >= 4 and word[:4] == p[:4] for p in protected):
            protected.add(word)
    protected.update(
        w for w in words if w.startswith(("бригад", "ук", "завтра", "сегодня", "недел"))
    )
    return frozenset(protected)


# ---------------------------------------------------------------------- running
@dataclass
class Outcome:
    """What the engine made of one request."""

    item: Item
    text: str
    variant: str  # "typed" | "vosk" | "noisy"
    frame: Frame
    seconds: float
    intent_ok: bool
    frame_ok: bool


def run_item(engine: LanguageEngine, item: Item, text: str, variant: str) -> Outcome:
    """Run one request (after its context, in one conversation) and score it."""
    previous: Frame | None = None
    for earlier in item.context:
        previous = engine.understand(earlier, today=TODAY, previous=previous)
    started = time.perf_counter()
    frame = engine.understand(text, today=TODAY, previous=previous)
    seconds = time.perf_counter() - started
    expected = expected_json(item, engine.snapshot)
    intent_ok = frame.intent == item.intent
    frame_ok = intent_ok and frame.clarify == item.clarify and frame.slots_json() == expected
    return Outcome(item, text, variant, frame, seconds, intent_ok, frame_ok)


def run_corpus(engine: LanguageEngine, splits: tuple[str, ...] = SPLITS) -> list[Outcome]:
    """Every item of the splits, plus a noisy variant of each Vosk-form item."""
    outcomes: list[Outcome] = []
    for split in splits:
        for item in load_items(split):
            outcomes.append(run_item(engine, item, item.text, item.source))
            if item.source == "vosk":
                noisy = add_noise(item.text, item.id, slot_words(item))
                outcomes.append(run_item(engine, item, noisy, "noisy"))
    return outcomes


@dataclass
class Score:
    """Aggregates over a group of outcomes."""

    n: int = 0
    intent: int = 0
    frame: int = 0
    clarify: int = 0
    ood: int = 0
    ood_caught: int = 0
    predicted_unknown: int = 0
    predicted_unknown_right: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        self.n += 1
        self.intent += outcome.intent_ok
        self.frame += outcome.frame_ok
        self.clarify += outcome.frame.clarify
        self.seconds.append(outcome.seconds)
        if outcome.item.intent == "unknown":
            self.ood += 1
            self.ood_caught += outcome.frame.intent == "unknown"
        if outcome.frame.intent == "unknown":
            self.predicted_unknown += 1
            self.predicted_unknown_right += outcome.item.intent == "unknown"

    def pct(self, part: int) -> float:
        """Percentage of n."""
        return 100.0 * part / self.n if self.n else 0.0

    def latency(self, q: float) -> float:
        """A latency quantile in milliseconds."""
        if not self.seconds:
            return 0.0
        ordered = sorted(self.seconds)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def scores(outcomes: list[Outcome]) -> dict[tuple[str, str], Score]:
    """Scores per (split, variant)."""
    table: dict[tuple[str, str], Score] = defaultdict(Score)
    for outcome in outcomes:
        table[(outcome.item.split, outcome.variant)].add(outcome)
    return dict(table)


def failures(outcomes: list[Outcome], split: str | None = None) -> list[str]:
    """Readable lines for the outcomes whose frame was wrong."""
    lines = []
    for o in outcomes:
        if o.frame_ok or (split and o.item.split != split):
            continue
        got = f"{o.frame.intent} {o.frame.slots_json()} clarify={o.frame.clarify}"
        want = f"{o.item.intent} {o.item.slots} clarify={o.item.clarify}"
        lines.append(f"{o.item.id} [{o.variant}] {o.text!r}\n    got  {got}\n    want {want}")
    return lines


def mean_ms(outcomes: list[Outcome]) -> float:
    """Mean latency in milliseconds."""
    return 1000 * statistics.fmean(o.seconds for o in outcomes) if outcomes else 0.0


def intent_counts(outcomes: list[Outcome]) -> Counter[str]:
    """How many outcomes per expected intent."""
    return Counter(o.item.intent for o in outcomes)
