"""The language engine on the request corpus: a regression here fails the build.

Thresholds are the accuracy the engine reached when they were last raised (a ratchet), not the
goals; `bench/nlu_eval.py` prints the full table. The held-out split is never tuned on.
"""

from __future__ import annotations

import pytest

from bot.nlu.engine import LanguageEngine
from tests.nlu.evaluation import Outcome, Score, failures, run_corpus, scores

# (split, form) -> minimum full-frame accuracy in percent.
FLOORS = {
    ("dev", "typed"): 99.0,
    ("dev", "vosk"): 99.0,
    ("dev", "noisy"): 96.0,
    ("dev2", "typed"): 99.0,
    ("dev2", "vosk"): 99.0,
    ("dev2", "noisy"): 93.0,
    ("dev3", "typed"): 99.0,
    ("dev3", "vosk"): 98.5,
    ("dev3", "noisy"): 92.0,
    ("dev4", "typed"): 99.0,
    ("dev4", "vosk"): 98.5,
    ("dev4", "noisy"): 91.5,
    ("heldout", "typed"): 98.0,
    ("heldout", "vosk"): 94.5,
    ("heldout", "noisy"): 92.0,
}


@pytest.fixture(scope="module")
def outcomes(engine: LanguageEngine) -> list[Outcome]:
    return run_corpus(engine)


@pytest.fixture(scope="module")
def table(outcomes: list[Outcome]) -> dict[tuple[str, str], Score]:
    return scores(outcomes)


@pytest.mark.parametrize(("split", "form"), sorted(FLOORS))
def test_full_frame_accuracy_does_not_regress(
    split: str, form: str, table: dict[tuple[str, str], Score], outcomes: list[Outcome]
) -> None:
    score = table.get((split, form))
    if score is None:
        pytest.skip(f"no {split}/{form} items")
    wrong = [line for line in failures(outcomes, split) if f"[{form}]" in line]
    assert score.pct(score.frame) >= FLOORS[(split, form)], "\n".join(wrong)


def test_no_development_request_out_of_domain_is_answered(outcomes: list[Outcome]) -> None:
    wrong = [
        f"{o.item.id} {o.text!r} -> {o.frame.intent}"
        for o in outcomes
        if o.item.split != "heldout"
        and o.variant != "noisy"
        and o.item.intent == "unknown"
        and o.frame.intent != "unknown"
    ]
    assert not wrong, wrong


def test_every_intent_is_recognised_somewhere(outcomes: list[Outcome]) -> None:
    seen = {o.frame.intent for o in outcomes if o.intent_ok}
    expected = {o.item.intent for o in outcomes}
    assert expected <= seen, expected - seen
