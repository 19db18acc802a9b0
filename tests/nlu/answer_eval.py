"""Answer-level evaluation: real answers to independently written questions, checked by the oracle.

Each split in `tests/nlu/answers/` is a YAML list of questions with what they mean
(`tests/nlu/oracle.py`). The demo company is built for the corpus's day (Wednesday 2026-11-25),
served by the emulated portal over loopback, and every question goes through the one path from
text to answer, `Assistant.ask`, with a `FixedClock` — exactly what the bot would send. Earlier
messages of a conversation (``context``) are asked first in the same conversation.

Shared by the regression floors (`tests/nlu/test_answers.py`) and the report
(`bench/nlu_answers.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bitrix.cache import CompanyCache
from bitrix.client import BitrixClient
from bitrix.clock import FixedClock
from bitrix.company import MappingOptions
from bitrix.demo import build_demo
from bitrix.loader import CompanyLoader
from bitrix.portal import EmulatedPortal, PortalOptions
from bitrix.writes import BitrixWriter
from bot.actions import Actions
from bot.brain import Assistant, Reply
from bot.state import open_state
from tests.nlu.oracle import Oracle, Score, Unscorable, score
from tests.nlu.write_eval import is_write_reply, score_write

ANSWERS_DIR = Path(__file__).parent / "answers"
TODAY = date(2026, 11, 25)
TZ = ZoneInfo("Europe/Moscow")
#: Splits in report order: ``indep``, ``tune2``, ``tune3``, ``tune4`` and ``tune5`` (a third,
#: fourth, fifth and sixth writer's) are tuned on; ``heldout``, ``fresh`` (a second writer's
#: questions), ``tune4_heldout``, ``tune5_heldout`` and ``fresh2_heldout`` (a seventh writer's
#: even ids; its odd ids, ``fresh2``, were read after its first run) are frozen (score only);
#: ``writes`` /
#: ``writes_heldout`` are write requests (SPEC §9), the second part frozen.
SPLITS = (
    "indep",
    "tune2",
    "tune3",
    "tune4",
    "tune5",
    "heldout",
    "fresh",
    "tune4_heldout",
    "tune5_heldout",
    "fresh2",
    "fresh2_heldout",
    "writes",
    "writes_heldout",
)
#: Splits of write requests, scored on their previews (`tests.nlu.write_eval`).
WRITE_SPLITS = frozenset({"writes", "writes_heldout"})
#: A split read from another's file, with the modulus whose multiples of the id are frozen.
_SHARED = {
    "writes": ("writes", 3, False),
    "writes_heldout": ("writes", 3, True),
    "tune4": ("tune4", 4, False),
    "tune4_heldout": ("tune4", 4, True),
    "tune5": ("tune5", 4, False),
    "tune5_heldout": ("tune5", 4, True),
    "fresh2": ("fresh2", 2, False),
    "fresh2_heldout": ("fresh2", 2, True),
}


@dataclass(frozen=True)
class AnswerOutcome:
    """One question, its real answer and the verdict."""

    split: str
    item: dict[str, Any]
    answer: str
    intent: str
    clarify: bool
    score: Score
    seconds: float


def load_split(split: str) -> list[dict[str, Any]]:
    """The items of one split (``writes``/``writes_heldout`` share `writes.yaml`, and
    ``tune4``/``tune4_heldout`` share `tune4.yaml`)."""
    name, modulus, frozen = _SHARED.get(split, (split, 0, False))
    items = yaml.safe_load((ANSWERS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(items, list)
    if modulus:
        # Ids divisible by the modulus are frozen (3 for writes, 4 for the fifth writer's set).
        items = [i for i in items if (int(str(i["id"]).split("-")[1]) % modulus == 0) == frozen]
    return items


async def evaluate(splits: tuple[str, ...] = SPLITS) -> list[AnswerOutcome]:
    """Ask every question of ``splits`` and score the answers."""
    demo = build_demo(TODAY)
    clock = FixedClock(datetime(TODAY.year, TODAY.month, TODAY.day, 10, 0, tzinfo=TZ))
    outcomes: list[AnswerOutcome] = []
    async with (
        EmulatedPortal(demo.store, PortalOptions()) as portal,
        BitrixClient(portal.webhook_url) as client,
    ):
        oracle = await Oracle.fetch(
            portal.webhook_url, demo.truth.layout, TODAY, demo.truth.months
        )
        options = MappingOptions()
        loader = CompanyLoader(client, tz=TZ, options=options, clock=clock)
        cache = CompanyCache(loader.fetch, tz=TZ, options=options, clock=clock)
        # Writes are understood and previewed as in the bot; nothing here confirms one.
        actions = Actions(
            state=open_state("sqlite:///:memory:"),
            writer=BitrixWriter(client),
            tz=TZ,
            now=clock.now,
            portal_url=portal.webhook_url,
        )
        assistant = Assistant(cache, tz=TZ, actions=actions)
        await assistant.warm_up()
        people = {
            " ".join(
                str(u.get(k) or "") for k in ("LAST_NAME", "NAME", "SECOND_NAME")
            ).strip(): uid
            for uid, u in oracle.rest.users.items()
        }
        for split in splits:
            for item in load_split(split):
                conversation = f"{split}:{item['id']}"
                for earlier in item.get("context") or []:
                    await assistant.ask(str(earlier), conversation=conversation)
                started = time.perf_counter()
                reply = await assistant.ask(str(item["text"]), conversation=conversation)
                seconds = time.perf_counter() - started
                verdict = _verdict(split, oracle, item, reply, people)
                outcomes.append(
                    AnswerOutcome(
                        split=split,
                        item=item,
                        answer=reply.text,
                        intent=reply.frame.intent,
                        clarify=reply.frame.clarify,
                        score=verdict,
                        seconds=seconds,
                    )
                )
    return outcomes


def _verdict(
    split: str, oracle: Oracle, item: dict[str, Any], reply: Reply, people: dict[str, str]
) -> Score:
    """Score one reply: a write request's preview by `score_write`, anything else by facts."""
    if split in WRITE_SPLITS and item["expect"] != "answer":
        return score_write(item, reply, people)
    if item["expect"] == "write" and is_write_reply(reply):
        # Written before writes existed: "no data" was the goal; a preview or a question
        # about the write is that, and confirming it is the person's choice.
        return Score("declined_ok", "taken as a write request: a preview, no data")
    if item["expect"] != "write" and is_write_reply(reply):
        if reply.write is not None and reply.write.plan is not None:
            return Score("wrong_fact", f"a write preview ({reply.frame.intent}) for a question")
        if item["expect"] == "answer":
            return Score("wrong_decline", "taken for a write request")
        return Score("declined_ok", "taken for a write request; no data given")
    try:
        return score(
            oracle.facts(item), reply.text, intent=reply.frame.intent, clarify=reply.frame.clarify
        )
    except Unscorable as exc:
        return Score("unscorable", str(exc))


@dataclass
class SplitSummary:
    """The figures of one split."""

    n: int
    scorable: int
    correct: int
    wrong_facts: int
    declined_ok: int
    declines_expected: int
    wrong_declines: int
    other: int
    unscorable: int
    ood_with_data: int
    p95_ms: float

    @property
    def correct_pct(self) -> float:
        """Answers correct among scorable items (a correct decline counts as correct)."""
        good = self.correct + self.declined_ok
        return 100.0 * good / self.scorable if self.scorable else 0.0


def summarise(outcomes: list[AnswerOutcome], split: str) -> SplitSummary:
    """Count a split's outcomes."""
    rows = [o for o in outcomes if o.split == split]
    count = {k: sum(1 for o in rows if o.score.outcome == k) for k in (
        "correct", "wrong_fact", "declined_ok", "wrong_decline", "other", "unscorable"
    )}  # fmt: skip
    ms = sorted(1000 * o.seconds for o in rows)
    return SplitSummary(
        n=len(rows),
        scorable=len(rows) - count["unscorable"],
        correct=count["correct"],
        wrong_facts=count["wrong_fact"],
        declined_ok=count["declined_ok"],
        declines_expected=sum(
            1
            for o in rows
            if o.item["expect"] in ("not_found", "clarify", "ood", "write")
            # A write request should get a preview, not a decline, once writes exist.
            and not (split in WRITE_SPLITS and o.item["expect"] == "write")
        ),
        wrong_declines=count["wrong_decline"],
        other=count["other"],
        unscorable=count["unscorable"],
        ood_with_data=sum(
            1
            for o in rows
            if o.item["expect"] in ("ood", "write") and o.score.outcome == "wrong_fact"
        ),
        p95_ms=ms[int(0.95 * (len(ms) - 1))] if ms else 0.0,
    )
